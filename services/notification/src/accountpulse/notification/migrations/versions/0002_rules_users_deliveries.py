"""Alert rules, recipients (projection and preferences), contracts and health readings for the
time- and history-driven rules, alert lifecycle columns, deliveries and their attempts.

Revision ID: 0002
"""

from alembic import op

from accountpulse.common.migrations import tenant_rls

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "notification"


def upgrade() -> None:
    statements = [
        f"""CREATE TABLE {S}.alert_rules (
            tenant_id text PRIMARY KEY,
            rules jsonb NOT NULL,
            version integer NOT NULL,
            updated_at timestamptz NOT NULL
        )""",
        f"""CREATE TABLE {S}.users (
            tenant_id text NOT NULL,
            user_id text NOT NULL,
            name text,
            email text,
            manager_id text,
            channels text[] NOT NULL DEFAULT '{{inbox}}',
            timezone text NOT NULL DEFAULT 'UTC',
            quiet_start smallint,
            quiet_end smallint,
            webhook_url text,
            version bigint NOT NULL,
            PRIMARY KEY (tenant_id, user_id)
        )""",
        f"""CREATE TABLE {S}.preferences (
            tenant_id text NOT NULL,
            user_id text NOT NULL,
            channels text[],
            timezone text,
            quiet_start smallint,
            quiet_end smallint,
            webhook_url text,
            webhook_secret text,
            updated_at timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, user_id)
        )""",
        f"""CREATE TABLE {S}.contracts (
            tenant_id text NOT NULL,
            account_id text NOT NULL,
            contract_id text NOT NULL,
            ends_on date,
            auto_renew boolean NOT NULL,
            version bigint NOT NULL,
            alerted_window_days integer,
            due_on date,
            PRIMARY KEY (tenant_id, account_id, contract_id)
        )""",
        f"CREATE INDEX contracts_due ON {S}.contracts (due_on) WHERE due_on IS NOT NULL",
        f"""CREATE TABLE {S}.health_readings (
            tenant_id text NOT NULL,
            account_id text NOT NULL,
            computed_at timestamptz NOT NULL,
            health double precision NOT NULL,
            PRIMARY KEY (tenant_id, account_id, computed_at)
        )""",
        f"ALTER TABLE {S}.alerts ADD COLUMN kind text NOT NULL DEFAULT 'alert'"
        " CHECK (kind IN ('alert', 'digest'))",
        f"ALTER TABLE {S}.alerts ADD COLUMN folded_into uuid",
        f"ALTER TABLE {S}.alerts ADD COLUMN folded_count integer NOT NULL DEFAULT 0",
        f"ALTER TABLE {S}.alerts ADD COLUMN collecting_until timestamptz",
        f"ALTER TABLE {S}.alerts ADD COLUMN snoozed_until timestamptz",
        f"ALTER TABLE {S}.alerts ADD COLUMN resolved_at timestamptz",
        f"ALTER TABLE {S}.alerts ADD COLUMN escalate_at timestamptz",
        f"ALTER TABLE {S}.alerts ADD COLUMN escalated_at timestamptz",
        f"ALTER TABLE {S}.alerts ADD COLUMN escalated_to text",
        f"ALTER TABLE {S}.alerts ADD COLUMN escalated_from uuid",
        f"""CREATE INDEX alerts_escalation_due ON {S}.alerts (escalate_at)
            WHERE escalate_at IS NOT NULL AND escalated_at IS NULL""",
        f"""CREATE INDEX alerts_snoozed ON {S}.alerts (snoozed_until)
            WHERE state = 'snoozed'""",
        f"""CREATE INDEX alerts_rate ON {S}.alerts (tenant_id, recipient_id, created_at)
            WHERE kind = 'alert' AND folded_into IS NULL""",
        f"""CREATE TABLE {S}.deliveries (
            id uuid PRIMARY KEY,
            tenant_id text NOT NULL,
            alert_id uuid NOT NULL,
            recipient_id text NOT NULL,
            channel text NOT NULL CHECK (channel IN ('inbox', 'email', 'webhook')),
            target text NOT NULL,
            state text NOT NULL
                CHECK (state IN ('pending', 'sending', 'delivered', 'dead', 'cancelled')),
            attempts integer NOT NULL DEFAULT 0,
            max_attempts integer NOT NULL,
            next_attempt_at timestamptz NOT NULL,
            lease_until timestamptz,
            subject text NOT NULL,
            body text NOT NULL,
            last_error text,
            created_at timestamptz NOT NULL,
            delivered_at timestamptz
        )""",
        f"CREATE INDEX deliveries_of_alert ON {S}.deliveries (tenant_id, alert_id)",
        f"""CREATE INDEX deliveries_due ON {S}.deliveries (next_attempt_at)
            WHERE state IN ('pending', 'sending')""",
        f"""CREATE TABLE {S}.delivery_attempts (
            id bigserial PRIMARY KEY,
            tenant_id text NOT NULL,
            delivery_id uuid NOT NULL,
            attempt integer NOT NULL,
            started_at timestamptz NOT NULL,
            finished_at timestamptz,
            outcome text NOT NULL
                CHECK (outcome IN ('sending', 'delivered', 'failed', 'interrupted')),
            detail text,
            UNIQUE (delivery_id, attempt)
        )""",
        # The delivery worker and the time-driven jobs find due rows across tenants (system
        # scope), then handle each in its tenant's transaction.
        f"DROP POLICY tenant_isolation ON {S}.alerts",
        f"""CREATE POLICY tenant_isolation ON {S}.alerts
            USING (tenant_id = current_setting('app.tenant_id', true)
                   OR current_setting('app.scope', true) = 'system')
            WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
                   OR current_setting('app.scope', true) = 'system')""",
    ]
    for table in ("alert_rules", "users", "preferences", "health_readings"):
        statements += tenant_rls(S, table)
    for table in ("contracts", "deliveries", "delivery_attempts"):
        statements += tenant_rls(S, table, system_scope=True)
    for statement in statements:
        op.execute(statement)
