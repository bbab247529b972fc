"""Merges: a merged account's projection row names its survivor.

Revision ID: 0004
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE notification.accounts ADD COLUMN merged_into text")
