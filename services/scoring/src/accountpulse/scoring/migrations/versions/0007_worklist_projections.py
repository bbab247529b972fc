"""What the worklist needs from planning and notification (each plan's staleness, each alert's
state), and the tenant's observed retention the portfolio pass stores for expected lifetime.

Revision ID: 0007
"""

from alembic import op

from accountpulse.common.migrations import tenant_rls

revision = "0007"
down_revision = "0006_clv_fits"
branch_labels = None
depends_on = None

S = "scoring"


def upgrade() -> None:
    statements = [
        # One row per account: its plan's latest known staleness (plans.events.v1).
        f"""CREATE TABLE {S}.plan_status (
            tenant_id text NOT NULL,
            account_id text NOT NULL,
            plan_id text NOT NULL,
            plan_version integer NOT NULL,
            stale_reasons text[] NOT NULL DEFAULT '{{}}',
            stale_since timestamptz,
            last_reviewed_at timestamptz,
            PRIMARY KEY (tenant_id, account_id)
        )""",
        # One row per alert: its state as notification announced it (alerts.events.v1).
        f"""CREATE TABLE {S}.account_alerts (
            tenant_id text NOT NULL,
            alert_id text NOT NULL,
            account_id text NOT NULL,
            rule text NOT NULL,
            severity text NOT NULL,
            recipient_id text NOT NULL,
            state text NOT NULL CHECK (state IN ('open', 'acknowledged', 'snoozed', 'resolved')),
            snoozed_until timestamptz,
            escalation_of text,
            raised_at timestamptz NOT NULL,
            state_at timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, alert_id)
        )""",
        f"""CREATE INDEX account_alerts_unresolved ON {S}.account_alerts
            (tenant_id, account_id) WHERE state <> 'resolved'""",
        f"""CREATE INDEX accounts_owner ON {S}.accounts (tenant_id, owner_id)
            WHERE erased_at IS NULL AND merged_into IS NULL""",
        # The tenant's retention over its last full period, as the portfolio pass found it.
        f"""CREATE TABLE {S}.tenant_retention (
            tenant_id text PRIMARY KEY,
            retention_rate double precision,
            accounts_at_start integer NOT NULL,
            accounts_retained integer NOT NULL,
            active_accounts integer NOT NULL,
            history_since date,
            computed_on date NOT NULL
        )""",
    ]
    for table in ("plan_status", "account_alerts", "tenant_retention"):
        statements += tenant_rls(S, table)
    for statement in statements:
        op.execute(statement)
