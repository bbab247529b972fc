"""The outbox's unsent rows listed in a table of their own: publishing a row deletes its
listing instead of updating the row (see `accountpulse.common.migrations.outbox_pending`).

Revision ID: 0010
"""

from alembic import op

from accountpulse.common.migrations import outbox_pending

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in outbox_pending("ingestion"):
        op.execute(statement)
