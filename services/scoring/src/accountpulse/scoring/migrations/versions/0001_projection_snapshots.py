"""Account projection, revenue lines, score snapshots, current scores, messaging tables.

Revision ID: 0001
"""

from alembic import op

from accountpulse.common.migrations import (
    app_role,
    messaging_tables,
    schema_and_grants,
    tenant_rls,
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = "scoring"


def upgrade() -> None:
    statements = [
        *schema_and_grants(S, app_role()),
        *messaging_tables(S),
        f"""CREATE TABLE {S}.accounts (
            tenant_id text NOT NULL,
            account_id text NOT NULL,
            name text,
            owner_id text,
            lifecycle_status text,
            industry text,
            country text,
            employees integer,
            version bigint NOT NULL,
            PRIMARY KEY (tenant_id, account_id)
        )""",
        f"""CREATE TABLE {S}.revenue_lines (
            tenant_id text NOT NULL,
            line_id text NOT NULL,
            account_id text NOT NULL,
            booked_on date NOT NULL,
            amount numeric(18, 2) NOT NULL,
            PRIMARY KEY (tenant_id, line_id)
        )""",
        f"CREATE INDEX revenue_lines_account ON {S}.revenue_lines (tenant_id, account_id)",
        f"""CREATE TABLE {S}.snapshots (
            id uuid PRIMARY KEY,
            tenant_id text NOT NULL,
            account_id text NOT NULL,
            account_version bigint NOT NULL,
            model_version integer NOT NULL,
            scores jsonb NOT NULL,
            features jsonb NOT NULL,
            explanation jsonb NOT NULL,
            reasons text[] NOT NULL,
            previous_snapshot_id uuid,
            trace_id text,
            computed_at timestamptz NOT NULL,
            -- the exactly-once safety net: one snapshot per account version and model
            UNIQUE (tenant_id, account_id, account_version, model_version)
        )""",
        f"""CREATE INDEX snapshots_history
            ON {S}.snapshots (tenant_id, account_id, computed_at DESC)""",
        f"""CREATE TABLE {S}.current_scores (
            tenant_id text NOT NULL,
            account_id text NOT NULL,
            snapshot_id uuid NOT NULL REFERENCES {S}.snapshots (id),
            clv numeric(18, 2) NOT NULL,
            tier text,
            computed_at timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, account_id)
        )""",
        f"CREATE INDEX current_scores_clv ON {S}.current_scores (tenant_id, clv)",
    ]
    for table in ("accounts", "revenue_lines", "snapshots", "current_scores"):
        statements += tenant_rls(S, table)
    for statement in statements:
        op.execute(statement)
