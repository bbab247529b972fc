"""The application role may analyse the schema's tables (the ``MAINTAIN`` privilege, PostgreSQL
17+), so that a tenant's planner statistics follow it as it grows
(``accountpulse.common.statistics``).

Revision ID: 0009
"""

from alembic import op

from accountpulse.common.migrations import app_role, maintain_privilege

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in maintain_privilege("ingestion", app_role()):
        op.execute(statement)
