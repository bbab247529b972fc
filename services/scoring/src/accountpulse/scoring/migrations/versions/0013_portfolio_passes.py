"""When each tenant's last portfolio pass ended and how long it took (``portfolio_passes``), so
a large tenant's next pass waits in proportion (``SCORING_PORTFOLIO_SPACING``).

A pass recomputes a tenant's distributions, retention and tiers over all its accounts: ~10 s of
PostgreSQL for a tenant of 1,000,000. Marked dirty by every batch of live events (an import),
such a tenant was passed back to back, one core busy with passes that the next batch made
stale. Small tenants, whose passes take milliseconds, wait milliseconds.

Revision ID: 0013
"""

from alembic import op

from accountpulse.common.migrations import tenant_rls

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

S = "scoring"


def upgrade() -> None:
    op.execute(
        f"""CREATE TABLE {S}.portfolio_passes (
            tenant_id text PRIMARY KEY,
            passed_at timestamptz NOT NULL,
            took_s double precision NOT NULL
        )"""
    )
    for statement in tenant_rls(S, "portfolio_passes", system_scope=True):
        op.execute(statement)


def downgrade() -> None:
    op.execute(f"DROP TABLE {S}.portfolio_passes")
