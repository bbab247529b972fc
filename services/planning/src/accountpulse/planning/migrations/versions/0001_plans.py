"""Account projection, plans with their versions, messaging tables.

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

S = "planning"


def upgrade() -> None:
    statements = [
        *schema_and_grants(S, app_role()),
        *messaging_tables(S),
        f"""CREATE TABLE {S}.accounts (
            tenant_id text NOT NULL,
            account_id text NOT NULL,
            owner_id text,
            version bigint NOT NULL,
            PRIMARY KEY (tenant_id, account_id)
        )""",
        f"""CREATE TABLE {S}.plans (
            tenant_id text NOT NULL,
            account_id text NOT NULL,
            plan_id uuid NOT NULL UNIQUE,
            version integer NOT NULL,
            body jsonb NOT NULL,
            stale_reasons text[] NOT NULL DEFAULT '{{}}',
            stale_since timestamptz,
            last_reviewed_at timestamptz,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            updated_by text NOT NULL,
            PRIMARY KEY (tenant_id, account_id)
        )""",
        f"""CREATE INDEX plans_stale ON {S}.plans (tenant_id)
            WHERE cardinality(stale_reasons) > 0""",
        f"""CREATE TABLE {S}.plan_versions (
            tenant_id text NOT NULL,
            plan_id uuid NOT NULL,
            version integer NOT NULL,
            body jsonb NOT NULL,
            stale_reasons text[] NOT NULL,
            recorded_at timestamptz NOT NULL,
            recorded_by text NOT NULL,
            PRIMARY KEY (tenant_id, plan_id, version)
        )""",
    ]
    for table in ("accounts", "plans", "plan_versions"):
        statements += tenant_rls(S, table)
    for statement in statements:
        op.execute(statement)
