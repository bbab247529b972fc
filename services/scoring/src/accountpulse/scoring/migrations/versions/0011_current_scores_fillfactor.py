"""``current_scores`` keeps room on its pages (fillfactor 70), so that a day's sweep can update
an account's row in place.

A sweep rewrites every account's current score each day, and most days none of the indexed
columns (revenue TTM, CLV, tier) moves. PostgreSQL then updates the row on its own page
without touching the four indexes (a heap-only tuple) — but only if the page has room for the
new version. With full pages every update wrote four index entries. Pages written from now on
keep 30 % free; the catalog change rewrites nothing.

Revision ID: 0011
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

S = "scoring"


def upgrade() -> None:
    op.execute(f"ALTER TABLE {S}.current_scores SET (fillfactor = 70)")


def downgrade() -> None:
    op.execute(f"ALTER TABLE {S}.current_scores RESET (fillfactor)")
