"""The day a plan's goals were last evaluated (by the services' clock): the scheduler
evaluates a plan's goals at most once a day, since their straight lines move by the day.

Revision ID: 0006
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE planning.plans ADD COLUMN goals_checked_on date")


def downgrade() -> None:
    op.execute("ALTER TABLE planning.plans DROP COLUMN goals_checked_on")
