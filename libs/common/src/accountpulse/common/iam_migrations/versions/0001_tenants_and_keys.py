"""Tenants and API keys.

Revision ID: 0001
"""

from alembic import op

from accountpulse.common.migrations import app_role as migration_app_role
from accountpulse.common.migrations import schema_and_grants, tenant_rls

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    app_role = migration_app_role()
    for statement in [
        *schema_and_grants("iam", app_role),
        """CREATE TABLE iam.tenants (
            id text PRIMARY KEY,
            name text NOT NULL,
            reporting_currency char(3) NOT NULL DEFAULT 'EUR',
            created_at timestamptz NOT NULL DEFAULT now()
        )""",
        """CREATE TABLE iam.api_keys (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id text NOT NULL REFERENCES iam.tenants (id),
            name text NOT NULL,
            key_hash char(64) NOT NULL UNIQUE,
            scopes text[] NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            revoked_at timestamptz
        )""",
        "ALTER TABLE iam.tenants ADD COLUMN tenant_id text GENERATED ALWAYS AS (id) STORED",
        *tenant_rls("iam", "tenants", system_scope=True),
        *tenant_rls("iam", "api_keys", system_scope=True),
        f"REVOKE INSERT, UPDATE, DELETE ON iam.api_keys, iam.tenants FROM {app_role}",
    ]:
        op.execute(statement)
