"""A portfolio mark says whether a live event or bulk work (a rescore's or a sweep's lane) made
it, so the portfolio job serves the tenants whose accounts just changed before the hundreds a
daily sweep marks at once.

Revision ID: 0009
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

S = "scoring"


def upgrade() -> None:
    op.execute(f"ALTER TABLE {S}.portfolio_dirty ADD COLUMN bulk boolean NOT NULL DEFAULT false")


def downgrade() -> None:
    op.execute(f"ALTER TABLE {S}.portfolio_dirty DROP COLUMN bulk")
