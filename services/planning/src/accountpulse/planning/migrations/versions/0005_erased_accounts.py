"""Erased accounts: their ids are kept (nothing else), so an event about one that arrives
after the erasure on another topic than ``account.erased`` writes nothing.

Revision ID: 0005
"""

from alembic import op

from accountpulse.common.migrations import erased_accounts_table

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in erased_accounts_table("planning"):
        op.execute(statement)
