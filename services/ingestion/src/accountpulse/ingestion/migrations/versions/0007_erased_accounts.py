"""The ids of erased accounts (an id and when, nothing about the account), so an erased id is
not created again: every other service ignores what follows an erasure of that id, and a new
account under it would silently never be scored, planned or alerted on.

Accounts erased before this migration are found in the audit log (``account.erased``).

Revision ID: 0007
"""

from alembic import op

from accountpulse.common.migrations import erased_accounts_table

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

S = "ingestion"


def upgrade() -> None:
    for statement in [
        *erased_accounts_table(S),
        # the audit log is bound by its tenant policy (FORCE): lifted for the backfill, in
        # the migration's transaction
        f"ALTER TABLE {S}.audit_log NO FORCE ROW LEVEL SECURITY",
        f"ALTER TABLE {S}.erased_accounts NO FORCE ROW LEVEL SECURITY",
        f"""INSERT INTO {S}.erased_accounts (tenant_id, account_id, erased_at)
            SELECT tenant_id, substr(subject, 9), min(at) FROM {S}.audit_log
             WHERE action = 'account.erased' AND subject LIKE 'account:%'
             GROUP BY tenant_id, substr(subject, 9)""",
        f"ALTER TABLE {S}.audit_log FORCE ROW LEVEL SECURITY",
        f"ALTER TABLE {S}.erased_accounts FORCE ROW LEVEL SECURITY",
    ]:
        op.execute(statement)


def downgrade() -> None:
    op.execute(f"DROP TABLE {S}.erased_accounts")
