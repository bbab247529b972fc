"""Owners projection, alerts, messaging tables.

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

S = "notification"


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
        f"""CREATE TABLE {S}.alerts (
            id uuid PRIMARY KEY,
            tenant_id text NOT NULL,
            account_id text NOT NULL,
            rule text NOT NULL,
            severity text NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
            recipient_id text NOT NULL,
            state text NOT NULL
                CHECK (state IN ('open', 'acknowledged', 'snoozed', 'resolved')),
            title text NOT NULL,
            detail text NOT NULL,
            source_event_id text NOT NULL,
            trace_id text,
            created_at timestamptz NOT NULL,
            acknowledged_at timestamptz
        )""",
        f"""CREATE INDEX alerts_inbox
            ON {S}.alerts (tenant_id, recipient_id, created_at DESC)""",
        f"""CREATE INDEX alerts_dedup
            ON {S}.alerts (tenant_id, account_id, rule, created_at DESC)""",
    ]
    for table in ("accounts", "alerts"):
        statements += tenant_rls(S, table)
    for statement in statements:
        op.execute(statement)
