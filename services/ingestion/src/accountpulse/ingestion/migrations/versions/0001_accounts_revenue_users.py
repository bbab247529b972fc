"""Accounts, revenue lines, users, and the messaging tables.

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

S = "ingestion"


def upgrade() -> None:
    statements = [
        *schema_and_grants(S, app_role()),
        *messaging_tables(S),
        f"""CREATE TABLE {S}.accounts (
            tenant_id text NOT NULL,
            external_id text NOT NULL,
            name text NOT NULL,
            industry text,
            employees integer,
            annual_revenue_band text,
            country char(2),
            region text,
            domain text,
            owner_id text,
            parent_account_id text,
            lifecycle_status text NOT NULL
                CHECK (lifecycle_status IN ('prospect', 'active', 'churned')),
            wallet numeric(18, 2),
            pain_points text[] NOT NULL DEFAULT '{{}}',
            custom_attributes jsonb NOT NULL DEFAULT '{{}}',
            version bigint NOT NULL,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            updated_by text NOT NULL,
            PRIMARY KEY (tenant_id, external_id)
        )""",
        f"CREATE INDEX accounts_owner ON {S}.accounts (tenant_id, owner_id)",
        f"""CREATE TABLE {S}.revenue_lines (
            tenant_id text NOT NULL,
            line_id text NOT NULL,
            account_id text NOT NULL,
            booked_on date NOT NULL,
            amount numeric(18, 2) NOT NULL CHECK (amount > 0),
            original_amount numeric(18, 2) NOT NULL,
            original_currency char(3) NOT NULL,
            fx_rate numeric(18, 8) NOT NULL,
            product text,
            kind text NOT NULL,
            account_version bigint NOT NULL,
            created_at timestamptz NOT NULL,
            created_by text NOT NULL,
            PRIMARY KEY (tenant_id, line_id),
            FOREIGN KEY (tenant_id, account_id) REFERENCES {S}.accounts (tenant_id, external_id)
        )""",
        f"CREATE INDEX revenue_lines_account ON {S}.revenue_lines (tenant_id, account_id)",
        f"""CREATE TABLE {S}.users (
            tenant_id text NOT NULL,
            user_id text NOT NULL,
            name text NOT NULL,
            email text,
            role text NOT NULL CHECK (role IN ('am', 'kam', 'manager')),
            manager_id text,
            capacity integer,
            channels text[] NOT NULL,
            timezone text NOT NULL,
            quiet_hours integer[],
            webhook_url text,
            version bigint NOT NULL,
            updated_at timestamptz NOT NULL,
            updated_by text NOT NULL,
            PRIMARY KEY (tenant_id, user_id)
        )""",
    ]
    for table in ("accounts", "revenue_lines", "users"):
        statements += tenant_rls(S, table)
    for statement in statements:
        op.execute(statement)
