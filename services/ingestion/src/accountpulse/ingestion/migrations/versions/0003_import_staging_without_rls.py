"""Import staging is filled by COPY, which PostgreSQL refuses on tables under row-level
security: the staging table is read and written only by ingestion's import code, always by
``(tenant_id, import_id)``. The imports table admits the system scope so the background worker
can find pending imports of every tenant.

Revision ID: 0003
"""

from alembic import op

from accountpulse.common.migrations import tenant_rls

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "ingestion"


def upgrade() -> None:
    for statement in [
        f"DROP POLICY tenant_isolation ON {S}.import_lines",
        f"ALTER TABLE {S}.import_lines NO FORCE ROW LEVEL SECURITY",
        f"ALTER TABLE {S}.import_lines DISABLE ROW LEVEL SECURITY",
        f"DROP POLICY tenant_isolation ON {S}.imports",
        *tenant_rls(S, "imports", system_scope=True)[2:],
        f"ALTER TABLE {S}.imports ADD COLUMN header text",
    ]:
        op.execute(statement)
