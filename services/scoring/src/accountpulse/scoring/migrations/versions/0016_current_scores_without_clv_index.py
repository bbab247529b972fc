"""``current_scores`` drops its index on CLV, which no statement reads, so that a day's update
of an account's CLV stays on its page (a heap-only tuple, migration 0011).

A purchase frequency counted over an active history shorter than three years falls a little
every day, and with it the transactional CLV: a sweep brings most accounts' CLV up to date
each day. With CLV indexed, each of those updates wrote a new entry in every index of the
table: ~72 µs of PostgreSQL an account in a 100,000-account sweep (bench/NOTES.md, session
14). Nothing filters or sorts by the column (the distributions read ``metrics``); the
portfolio's tiers use the revenue index, the lists the tier index.

Revision ID: 0016
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

S = "scoring"


def upgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {S}.current_scores_clv")


def downgrade() -> None:
    op.execute(
        f"CREATE INDEX IF NOT EXISTS current_scores_clv ON {S}.current_scores (tenant_id, clv)"
    )
