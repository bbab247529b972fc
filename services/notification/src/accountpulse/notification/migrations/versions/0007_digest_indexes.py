"""Indexes for digests: a person's collecting digest, and the alerts folded into a digest.

Finding the digest that still collects walked the person's inbox index from its newest row
down to the digest, past every alert folded into it since: a fold cost as many rows as the
digest already held (1.3 ms a fold, 5.4 s for a 1,000,000-account sweep's 4,118 folds;
bench/NOTES.md, session 15). ``alerts_digests`` holds digests alone. ``alerts_folded`` finds
a digest's alerts when it is sent or read (``GET /v1/alerts/{id}``) without reading the
tenant's others.

Revision ID: 0007
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

S = "notification"


def upgrade() -> None:
    op.execute(
        f"""CREATE INDEX IF NOT EXISTS alerts_digests
            ON {S}.alerts (tenant_id, recipient_id, created_at DESC) WHERE kind = 'digest'"""
    )
    op.execute(
        f"""CREATE INDEX IF NOT EXISTS alerts_folded ON {S}.alerts (tenant_id, folded_into)
            WHERE folded_into IS NOT NULL"""
    )


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {S}.alerts_folded")
    op.execute(f"DROP INDEX IF EXISTS {S}.alerts_digests")
