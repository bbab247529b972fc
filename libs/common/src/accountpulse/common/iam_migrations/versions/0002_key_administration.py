"""API keys administered by the tenant's admin keys: the application role may insert keys and
set ``revoked_at`` (row-level security keeps each tenant to its own keys).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

from accountpulse.common.migrations import app_role as migration_app_role

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    app_role = migration_app_role()
    op.execute(f"GRANT INSERT, UPDATE (revoked_at) ON iam.api_keys TO {app_role}")
    op.execute("ALTER TABLE iam.api_keys ADD COLUMN rotated_from uuid")
    op.execute("ALTER TABLE iam.api_keys ADD COLUMN last_used_at timestamptz")


def downgrade() -> None:
    app_role = migration_app_role()
    op.execute("ALTER TABLE iam.api_keys DROP COLUMN last_used_at")
    op.execute("ALTER TABLE iam.api_keys DROP COLUMN rotated_from")
    op.execute(f"REVOKE INSERT, UPDATE ON iam.api_keys FROM {app_role}")
