"""``current_scores`` carries every score of its snapshot and the snapshot's account version
and day, so that scoring a chunk compares with the current row alone and no longer reads the
current snapshot (one index lookup and one heap page of the largest table per account).

The row already held ``fit``, ``potential``, ``health`` and ``priority``; ``engagement``,
``value`` and ``churn_risk`` join them, with ``account_version`` and ``as_of`` (what tells a
replayed chunk or a second sweep of the day that an account is already done). Written with
the snapshot, in the same statement (store/snapshot_writes.py); existing rows are filled
from their snapshots here. A daily sweep over a million accounts read ~4 pages of the
snapshots table per account, most of them outside the buffer cache (bench/NOTES.md,
session 15).

Revision ID: 0017
"""

from alembic import op

from accountpulse.common.migrations import across_tenants

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

S = "scoring"


# the rows written before this migration, filled from their snapshots (across tenants)
BACKFILL = across_tenants(
    f"""UPDATE {S}.current_scores c SET
          engagement = (s.scores ->> 'engagement')::double precision,
          value = (s.scores ->> 'value')::double precision,
          churn_risk = (s.scores ->> 'churn_risk')::double precision,
          fit = (s.scores ->> 'fit')::double precision,
          potential = (s.scores ->> 'potential')::double precision,
          health = (s.scores ->> 'health')::double precision,
          priority = (s.scores ->> 'priority')::double precision,
          account_version = s.account_version, as_of = s.as_of,
          published_scores = coalesce(c.published_scores, s.scores)
        FROM {S}.snapshots s WHERE s.id = c.snapshot_id""",
    f"{S}.current_scores",
    f"{S}.snapshots",
)


def upgrade() -> None:
    op.execute(
        f"""ALTER TABLE {S}.current_scores ADD COLUMN engagement double precision,
          ADD COLUMN value double precision, ADD COLUMN churn_risk double precision,
          ADD COLUMN account_version bigint, ADD COLUMN as_of date"""
    )
    for statement in BACKFILL:
        op.execute(statement)


def downgrade() -> None:
    op.execute(
        f"""ALTER TABLE {S}.current_scores DROP COLUMN engagement, DROP COLUMN value,
          DROP COLUMN churn_risk, DROP COLUMN account_version, DROP COLUMN as_of"""
    )
