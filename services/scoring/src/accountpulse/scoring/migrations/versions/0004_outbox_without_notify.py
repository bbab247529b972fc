"""The outbox without its NOTIFY trigger: the relay is woken in-process after a commit and
polls for the rest (see `accountpulse.common.migrations.drop_outbox_notify`).

Revision ID: 0004
"""

from alembic import op

from accountpulse.common.migrations import drop_outbox_notify

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in drop_outbox_notify("scoring"):
        op.execute(statement)
