"""Housekeeping of the messaging tables: BRIN indexes on the rows' time, and the system scope
on the inbox and the idempotency keys, so that rows past their retention can be deleted
(``accountpulse.common.housekeeping``).

Revision ID: 0006
"""

from alembic import op

from accountpulse.common.migrations import housekeeping_support

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in housekeeping_support("notification"):
        op.execute(statement)
