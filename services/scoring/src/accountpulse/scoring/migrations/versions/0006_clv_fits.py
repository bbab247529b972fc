"""Predictive CLV fits per tenant: every fit (or the reason there is none), the refits asked for
through the API, and the tenants whose revenue changed since their last fit.

The marks are seeded with every tenant that already has revenue, so existing tenants get their
first fit without waiting for new revenue.

Revision ID: 0006_clv_fits
"""

from alembic import op

from accountpulse.common.migrations import tenant_rls

revision = "0006_clv_fits"
down_revision = "0005"
branch_labels = None
depends_on = None

S = "scoring"


def upgrade() -> None:
    statements = [
        f"""CREATE TABLE {S}.clv_fits (
            id uuid PRIMARY KEY,
            tenant_id text NOT NULL,
            request_id uuid,
            status text NOT NULL,
            message text NOT NULL DEFAULT '',
            fitted_at timestamptz NOT NULL,
            calibration_end date NOT NULL,
            accounts integer NOT NULL DEFAULT 0,
            bgnbd jsonb,
            gamma_gamma jsonb,
            sbg jsonb,
            log_likelihood double precision,
            converged boolean NOT NULL DEFAULT false,
            frequency_value_correlation double precision,
            calibration jsonb,
            fit_seconds double precision NOT NULL DEFAULT 0
        )""",
        f"CREATE INDEX clv_fits_latest ON {S}.clv_fits (tenant_id, fitted_at DESC)",
        f"""CREATE TABLE {S}.clv_fit_requests (
            tenant_id text PRIMARY KEY,
            request_id uuid NOT NULL,
            calibration_end date,
            requested_at timestamptz NOT NULL
        )""",
        f"""CREATE TABLE {S}.clv_revenue_changed (
            tenant_id text PRIMARY KEY,
            marked_at timestamptz NOT NULL DEFAULT now(),
            seen_lines bigint
        )""",
        *tenant_rls(S, "clv_fits", system_scope=True),
        *tenant_rls(S, "clv_fit_requests", system_scope=True),
        *tenant_rls(S, "clv_revenue_changed", system_scope=True),
        "SELECT set_config('app.scope', 'system', true)",  # to write the marks of every tenant
        # the owner is bound by the tenant policy of revenue_lines: lifted for this one read
        f"ALTER TABLE {S}.revenue_lines NO FORCE ROW LEVEL SECURITY",
        f"""INSERT INTO {S}.clv_revenue_changed (tenant_id)
            SELECT DISTINCT tenant_id FROM {S}.revenue_lines""",
        f"ALTER TABLE {S}.revenue_lines FORCE ROW LEVEL SECURITY",
    ]
    for statement in statements:
        op.execute(statement)
