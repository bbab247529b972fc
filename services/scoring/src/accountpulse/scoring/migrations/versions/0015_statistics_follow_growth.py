"""A tenant's planner statistics follow it as it grows (``accountpulse.common.statistics``):
the application role may analyse the schema's tables (the ``MAINTAIN`` privilege, PostgreSQL
17+), and each tenant keeps how many active accounts it had at their last analyse (the
existing tenants: as many as now, so the upgrade does not analyse for each of them at once).

Revision ID: 0015
"""

from alembic import op

from accountpulse.common.migrations import app_role, maintain_privilege

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

S = "scoring"


def upgrade() -> None:
    for statement in [
        *maintain_privilege(S, app_role()),
        f"ALTER TABLE {S}.tenant_retention ADD COLUMN analysed_accounts integer",
        # across tenants: the owner is bound by the tenant policy too (FORCE), lifted for it
        f"ALTER TABLE {S}.tenant_retention NO FORCE ROW LEVEL SECURITY",
        f"UPDATE {S}.tenant_retention SET analysed_accounts = active_accounts",
        f"ALTER TABLE {S}.tenant_retention FORCE ROW LEVEL SECURITY",
    ]:
        op.execute(statement)
