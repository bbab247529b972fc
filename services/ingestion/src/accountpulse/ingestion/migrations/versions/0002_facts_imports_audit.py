"""Contacts, engagement, NPS, contracts, opportunities, imports, merges and the audit log.

Revision ID: 0002
"""

from alembic import op

from accountpulse.common.migrations import tenant_rls

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "ingestion"


def upgrade() -> None:
    statements = [
        f"ALTER TABLE {S}.accounts ADD COLUMN merged_into text",
        f"""CREATE TABLE {S}.contacts (
            tenant_id text NOT NULL,
            contact_id text NOT NULL,
            account_id text NOT NULL,
            name text,
            email text,
            phone text,
            role text,
            department text,
            decision_power text,
            sentiment text,
            last_contacted_on date,
            erased_at timestamptz,
            updated_at timestamptz NOT NULL,
            updated_by text NOT NULL,
            PRIMARY KEY (tenant_id, contact_id)
        )""",
        f"CREATE INDEX contacts_account ON {S}.contacts (tenant_id, account_id)",
        f"""CREATE TABLE {S}.engagement_signals (
            tenant_id text NOT NULL,
            signal_id text NOT NULL,
            account_id text NOT NULL,
            signal text NOT NULL,
            occurred_on date NOT NULL,
            count integer NOT NULL CHECK (count >= 0),
            resolution_hours numeric(10, 2),
            created_at timestamptz NOT NULL,
            created_by text NOT NULL,
            PRIMARY KEY (tenant_id, signal_id)
        )""",
        f"CREATE INDEX engagement_account ON {S}.engagement_signals (tenant_id, account_id)",
        f"""CREATE TABLE {S}.nps_responses (
            tenant_id text NOT NULL,
            response_id text NOT NULL,
            account_id text NOT NULL,
            contact_id text,
            score smallint NOT NULL CHECK (score BETWEEN 0 AND 10),
            responded_on date NOT NULL,
            comment text,
            created_at timestamptz NOT NULL,
            created_by text NOT NULL,
            PRIMARY KEY (tenant_id, response_id)
        )""",
        f"CREATE INDEX nps_account ON {S}.nps_responses (tenant_id, account_id)",
        f"""CREATE TABLE {S}.contracts (
            tenant_id text NOT NULL,
            contract_id text NOT NULL,
            account_id text NOT NULL,
            starts_on date NOT NULL,
            ends_on date,
            arr numeric(18, 2) NOT NULL,
            auto_renew boolean NOT NULL,
            notice_period_days integer NOT NULL,
            updated_at timestamptz NOT NULL,
            updated_by text NOT NULL,
            PRIMARY KEY (tenant_id, contract_id)
        )""",
        f"CREATE INDEX contracts_account ON {S}.contracts (tenant_id, account_id)",
        f"""CREATE TABLE {S}.opportunities (
            tenant_id text NOT NULL,
            opportunity_id text NOT NULL,
            account_id text NOT NULL,
            stage text NOT NULL,
            amount numeric(18, 2) NOT NULL,
            expected_close_on date,
            outcome text NOT NULL,
            updated_at timestamptz NOT NULL,
            updated_by text NOT NULL,
            PRIMARY KEY (tenant_id, opportunity_id)
        )""",
        f"CREATE INDEX opportunities_account ON {S}.opportunities (tenant_id, account_id)",
        f"""CREATE TABLE {S}.imports (
            tenant_id text NOT NULL,
            import_id uuid NOT NULL,
            kind text NOT NULL,
            format text NOT NULL,
            status text NOT NULL,
            rows_read bigint NOT NULL DEFAULT 0,
            rows_accepted bigint NOT NULL DEFAULT 0,
            rows_rejected bigint NOT NULL DEFAULT 0,
            rejections jsonb NOT NULL DEFAULT '[]',
            next_line bigint NOT NULL DEFAULT 1,
            total_lines bigint,
            created_at timestamptz NOT NULL,
            uploaded_at timestamptz,
            finished_at timestamptz,
            created_by text NOT NULL,
            PRIMARY KEY (tenant_id, import_id)
        )""",
        f"CREATE INDEX imports_pending ON {S}.imports (status) WHERE status = 'processing'",
        # Staging rows of an upload, filled by COPY: durable before it is parsed.
        f"""CREATE TABLE {S}.import_lines (
            tenant_id text NOT NULL,
            import_id uuid NOT NULL,
            line_no bigint NOT NULL,
            line text NOT NULL,
            PRIMARY KEY (tenant_id, import_id, line_no)
        )""",
        f"""CREATE TABLE {S}.audit_log (
            id bigserial PRIMARY KEY,
            tenant_id text NOT NULL,
            key_id text NOT NULL,
            action text NOT NULL,
            subject text NOT NULL,
            detail jsonb NOT NULL DEFAULT '{{}}',
            at timestamptz NOT NULL
        )""",
        f"CREATE INDEX audit_subject ON {S}.audit_log (tenant_id, subject, at)",
    ]
    for table in (
        "contacts", "engagement_signals", "nps_responses", "contracts", "opportunities",
        "imports", "import_lines", "audit_log",
    ):  # fmt: skip
        statements += tenant_rls(S, table)
    for statement in statements:
        op.execute(statement)
