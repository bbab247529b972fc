"""Facts for every score (engagement, NPS, contracts, opportunities, users), ICP inputs, the
versioned scoring model, resumable rescore runs, percentile distributions, tiers.

Revision ID: 0002
"""

from alembic import op

from accountpulse.common.migrations import tenant_rls

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "scoring"


def upgrade() -> None:
    statements = [
        f"""ALTER TABLE {S}.accounts
            ADD COLUMN annual_revenue_band text,
            ADD COLUMN region text,
            ADD COLUMN wallet numeric(18, 2),
            ADD COLUMN pain_points text[] NOT NULL DEFAULT '{{}}',
            ADD COLUMN merged_into text,
            ADD COLUMN erased_at timestamptz""",
        f"ALTER TABLE {S}.revenue_lines ADD COLUMN product text",
        f"""CREATE TABLE {S}.engagement_daily (
            tenant_id text NOT NULL,
            account_id text NOT NULL,
            signal text NOT NULL,
            occurred_on date NOT NULL,
            count bigint NOT NULL,
            resolution_hours numeric(18, 2) NOT NULL DEFAULT 0,
            resolutions_timed integer NOT NULL DEFAULT 0,
            PRIMARY KEY (tenant_id, account_id, signal, occurred_on)
        )""",
        f"""CREATE TABLE {S}.nps_responses (
            tenant_id text NOT NULL,
            response_id text NOT NULL,
            account_id text NOT NULL,
            score smallint NOT NULL,
            responded_on date NOT NULL,
            PRIMARY KEY (tenant_id, response_id)
        )""",
        f"CREATE INDEX nps_account ON {S}.nps_responses (tenant_id, account_id, responded_on)",
        f"""CREATE TABLE {S}.contracts (
            tenant_id text NOT NULL,
            contract_id text NOT NULL,
            account_id text NOT NULL,
            starts_on date NOT NULL,
            ends_on date,
            arr numeric(18, 2) NOT NULL,
            auto_renew boolean NOT NULL,
            notice_period_days integer NOT NULL,
            PRIMARY KEY (tenant_id, contract_id)
        )""",
        f"CREATE INDEX contracts_account ON {S}.contracts (tenant_id, account_id)",
        f"""CREATE TABLE {S}.opportunities (
            tenant_id text NOT NULL,
            opportunity_id text NOT NULL,
            account_id text NOT NULL,
            stage text NOT NULL,
            amount numeric(18, 2) NOT NULL,
            outcome text NOT NULL,
            expected_close_on date,
            PRIMARY KEY (tenant_id, opportunity_id)
        )""",
        f"CREATE INDEX opportunities_account ON {S}.opportunities (tenant_id, account_id)",
        f"""CREATE TABLE {S}.users (
            tenant_id text NOT NULL,
            user_id text NOT NULL,
            role text,
            capacity integer,
            version bigint NOT NULL,
            erased boolean NOT NULL DEFAULT false,
            PRIMARY KEY (tenant_id, user_id)
        )""",
        f"""CREATE TABLE {S}.scoring_models (
            tenant_id text NOT NULL,
            version integer NOT NULL,
            config jsonb NOT NULL,
            reason text NOT NULL,
            created_at timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, version)
        )""",
        f"""CREATE TABLE {S}.rescore_runs (
            id uuid PRIMARY KEY,
            tenant_id text NOT NULL,
            model_version integer NOT NULL,
            status text NOT NULL,
            cursor text NOT NULL DEFAULT '',
            total integer NOT NULL,
            done integer NOT NULL DEFAULT 0,
            published integer NOT NULL DEFAULT 0,
            started_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            finished_at timestamptz,
            UNIQUE (tenant_id, model_version)
        )""",
        f"CREATE INDEX rescore_runs_running ON {S}.rescore_runs (status) WHERE status = 'running'",
        f"""CREATE TABLE {S}.distributions (
            tenant_id text PRIMARY KEY,
            cuts jsonb NOT NULL,
            population integer NOT NULL,
            refreshed_at timestamptz NOT NULL
        )""",
        f"""CREATE TABLE {S}.portfolio_dirty (
            tenant_id text PRIMARY KEY,
            marked_at timestamptz NOT NULL DEFAULT now()
        )""",
        f"""CREATE TABLE {S}.portfolio_schedule (
            tenant_id text PRIMARY KEY,
            due_at timestamptz NOT NULL
        )""",
        f"""ALTER TABLE {S}.current_scores
            ADD COLUMN model_version integer NOT NULL DEFAULT 1,
            ADD COLUMN revenue_ttm numeric(18, 2) NOT NULL DEFAULT 0,
            ADD COLUMN active boolean NOT NULL DEFAULT true,
            ADD COLUMN fit double precision,
            ADD COLUMN potential double precision,
            ADD COLUMN health double precision,
            ADD COLUMN priority double precision,
            ADD COLUMN at_risk boolean NOT NULL DEFAULT false,
            ADD COLUMN tier_hint text NOT NULL DEFAULT 'standard',
            ADD COLUMN metrics jsonb NOT NULL DEFAULT '{{}}',
            ADD COLUMN below_line_since timestamptz""",
        # The Pareto ranking walks this index; tiers are listed through the second.
        f"""CREATE INDEX current_scores_revenue ON {S}.current_scores
            (tenant_id, revenue_ttm DESC, account_id) WHERE active""",
        f"CREATE INDEX current_scores_tier ON {S}.current_scores (tenant_id, tier, account_id)",
    ]
    for table in ("engagement_daily", "nps_responses", "contracts", "opportunities", "users"):
        statements += tenant_rls(S, table)
    for table in ("scoring_models", "distributions"):
        statements += tenant_rls(S, table)
    # Jobs list the tenants with work across tenants (system scope), then work per tenant.
    for table in ("rescore_runs", "portfolio_dirty", "portfolio_schedule"):
        statements += tenant_rls(S, table, system_scope=True)
    for statement in statements:
        op.execute(statement)
