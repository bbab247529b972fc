"""Ingestion's projection of ``scores.current.v1`` (the latest snapshot of each account), so the
accounts list can filter and sort by scores, tier and risk. Deleted with its account (the
erasure's DELETE cascades), so nothing of an erased account remains.

Revision ID: 0006
"""

from alembic import op

from accountpulse.common.migrations import tenant_rls

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

S = "ingestion"


def upgrade() -> None:
    statements = [
        f"""CREATE TABLE {S}.account_scores (
            tenant_id text NOT NULL,
            account_id text NOT NULL,
            snapshot_id text NOT NULL,
            account_version bigint NOT NULL,
            model_version integer NOT NULL,
            computed_at timestamptz NOT NULL,
            tier text,
            at_risk boolean NOT NULL,
            priority double precision,
            health double precision,
            fit double precision,
            engagement double precision,
            value double precision,
            potential double precision,
            churn_risk double precision,
            revenue_ttm numeric(18, 2),
            whitespace numeric(18, 2),
            PRIMARY KEY (tenant_id, account_id),
            FOREIGN KEY (tenant_id, account_id) REFERENCES {S}.accounts (tenant_id, external_id)
                ON DELETE CASCADE
        )""",
        f"CREATE INDEX account_scores_priority ON {S}.account_scores (tenant_id, priority)",
        f"CREATE INDEX account_scores_health ON {S}.account_scores (tenant_id, health)",
        *tenant_rls(S, "account_scores"),
    ]
    for statement in statements:
        op.execute(statement)
