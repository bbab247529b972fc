"""Projections for goals, staleness, whitespace and restructuring; review bookkeeping;
restructure proposals with per-move progress; the scheduler may list plans across tenants.

Revision ID: 0002
"""

from alembic import op

from accountpulse.common.migrations import tenant_rls

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "planning"


def upgrade() -> None:
    statements = [
        # Account projection: segment facts (industry, size), scoring's tier, the 45-day window.
        f"""ALTER TABLE {S}.accounts
            ADD COLUMN industry text,
            ADD COLUMN employees integer,
            ADD COLUMN lifecycle_status text,
            ADD COLUMN tier text,
            ADD COLUMN tier_version bigint NOT NULL DEFAULT 0,
            ADD COLUMN at_risk boolean NOT NULL DEFAULT false,
            ADD COLUMN evaluation_due_at timestamptz""",
        f"""ALTER TABLE {S}.plans
            ADD COLUMN last_deep_review_at timestamptz,
            ADD COLUMN off_track_goal_ids text[] NOT NULL DEFAULT '{{}}'""",
        # The scheduler lists which tenants have plans in a system transaction.
        f"DROP POLICY tenant_isolation ON {S}.plans",
        f"""CREATE POLICY tenant_isolation ON {S}.plans
            USING (tenant_id = current_setting('app.tenant_id', true)
                   OR current_setting('app.scope', true) = 'system')
            WITH CHECK (tenant_id = current_setting('app.tenant_id', true))""",
        f"""CREATE TABLE {S}.revenue_lines (
            tenant_id text NOT NULL,
            account_id text NOT NULL,
            line_id text NOT NULL,
            booked_on date NOT NULL,
            amount numeric(18, 2) NOT NULL,
            product text,
            PRIMARY KEY (tenant_id, account_id, line_id)
        )""",
        f"CREATE INDEX revenue_lines_by_date ON {S}.revenue_lines (tenant_id, booked_on)",
        f"""CREATE TABLE {S}.nps_responses (
            tenant_id text NOT NULL,
            account_id text NOT NULL,
            response_id text NOT NULL,
            score smallint NOT NULL,
            responded_on date NOT NULL,
            PRIMARY KEY (tenant_id, account_id, response_id)
        )""",
        f"""CREATE TABLE {S}.contracts (
            tenant_id text NOT NULL,
            account_id text NOT NULL,
            contract_id text NOT NULL,
            ends_on date,
            auto_renew boolean NOT NULL,
            arr numeric(18, 2) NOT NULL,
            PRIMARY KEY (tenant_id, account_id, contract_id)
        )""",
        f"""CREATE TABLE {S}.contacts (
            tenant_id text NOT NULL,
            account_id text NOT NULL,
            contact_id text NOT NULL,
            role text,
            department text,
            decision_power text,
            sentiment text,
            PRIMARY KEY (tenant_id, account_id, contact_id)
        )""",
        f"""CREATE TABLE {S}.users (
            tenant_id text NOT NULL,
            user_id text NOT NULL,
            role text NOT NULL,
            capacity integer,
            version bigint NOT NULL,
            PRIMARY KEY (tenant_id, user_id)
        )""",
        f"""CREATE TABLE {S}.restructure_proposals (
            tenant_id text NOT NULL,
            proposal_id uuid NOT NULL,
            status text NOT NULL,
            body jsonb NOT NULL,
            created_at timestamptz NOT NULL,
            created_by text NOT NULL,
            applied_at timestamptz,
            PRIMARY KEY (tenant_id, proposal_id)
        )""",
        f"""CREATE TABLE {S}.restructure_moves (
            tenant_id text NOT NULL,
            proposal_id uuid NOT NULL,
            seq integer NOT NULL,
            account_id text NOT NULL,
            from_owner text,
            to_owner text NOT NULL,
            reason text NOT NULL,
            status text NOT NULL DEFAULT 'pending',
            attempts integer NOT NULL DEFAULT 0,
            last_error text,
            done_at timestamptz,
            PRIMARY KEY (tenant_id, proposal_id, seq)
        )""",
    ]
    for table in (
        "revenue_lines",
        "nps_responses",
        "contracts",
        "contacts",
        "users",
        "restructure_proposals",
        "restructure_moves",
    ):
        statements += tenant_rls(S, table)
    for statement in statements:
        op.execute(statement)
