"""``current_scores.snapshot_id`` without its foreign key to ``snapshots``.

The current score and its snapshot are written by one statement (store/snapshot_writes.py),
and erasure deletes both in one transaction, so the reference cannot dangle. The key's check
cost one index probe and one row lock on the snapshot for each current score written: in a
full rescore, a lock record in the write-ahead log per account (measured with pg_walinspect
in bench/NOTES.md, session 8) and a trigger call per row.

Revision ID: 0010
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

S = "scoring"


def upgrade() -> None:
    op.execute(f"ALTER TABLE {S}.current_scores DROP CONSTRAINT current_scores_snapshot_id_fkey")


def downgrade() -> None:
    op.execute(
        f"""ALTER TABLE {S}.current_scores ADD CONSTRAINT current_scores_snapshot_id_fkey
            FOREIGN KEY (snapshot_id) REFERENCES {S}.snapshots (id) NOT VALID"""
    )
