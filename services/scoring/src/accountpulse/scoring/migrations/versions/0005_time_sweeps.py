"""Scores stay true as time passes: the daily sweep of each tenant, and drift published.

- ``rescore_runs.kind``: a run is a full rescore after a model change (``rescore``) or a
  time sweep (``sweep``); a sweep reuses the lanes, cursors and locks of the rescore. Only
  rescores stay unique per model version (a tenant is swept every day at the same model).
- ``snapshots.as_of``: the day a snapshot was evaluated as of. Every score depends on the
  date, so the exactly-once key becomes (account version, model version, day): an account
  re-evaluated by a sweep gets one snapshot per day at most, never two for one day.
- ``sweeps``: per tenant, when its last sweep started (or when it was first scored), so a
  tenant is swept when that is 24 hours old by the services' clock.
- ``current_scores.published_scores``: the scores as last published (``score.changed``),
  which materiality measures moves against (NULL: the current snapshot's scores).

Revision ID: 0005
"""

from alembic import op

from accountpulse.common.migrations import across_tenants, tenant_rls

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

S = "scoring"

# The unique constraints of 0001/0002 were unnamed; find them by their columns.
_DROP_UNIQUE = """
DO $$
DECLARE found text;
BEGIN
  SELECT conname INTO found FROM pg_constraint
   WHERE conrelid = '{table}'::regclass AND contype = 'u'
     AND array_length(conkey, 1) = {columns};
  IF found IS NOT NULL THEN
    EXECUTE format('ALTER TABLE {table} DROP CONSTRAINT %I', found);
  END IF;
END $$
"""


def upgrade() -> None:
    for statement in [
        f"ALTER TABLE {S}.rescore_runs ADD COLUMN kind text NOT NULL DEFAULT 'rescore'",
        _DROP_UNIQUE.format(table=f"{S}.rescore_runs", columns=2),
        f"""CREATE UNIQUE INDEX rescore_runs_model_version ON {S}.rescore_runs
            (tenant_id, model_version) WHERE kind = 'rescore'""",
        f"ALTER TABLE {S}.snapshots ADD COLUMN as_of date",
        *across_tenants(
            f"UPDATE {S}.snapshots SET as_of = (computed_at AT TIME ZONE 'UTC')::date",
            f"{S}.snapshots",
        ),
        f"ALTER TABLE {S}.snapshots ALTER COLUMN as_of SET NOT NULL",
        _DROP_UNIQUE.format(table=f"{S}.snapshots", columns=4),
        f"""CREATE UNIQUE INDEX snapshots_once_a_day ON {S}.snapshots
            (tenant_id, account_id, account_version, model_version, as_of)""",
        f"""CREATE TABLE {S}.sweeps (
            tenant_id text PRIMARY KEY,
            swept_at timestamptz NOT NULL,
            run_id uuid
        )""",
        *tenant_rls(S, "sweeps", system_scope=True),
        *across_tenants(
            f"""INSERT INTO {S}.sweeps (tenant_id, swept_at)
                SELECT DISTINCT tenant_id, now() FROM {S}.current_scores""",
            f"{S}.current_scores",
            f"{S}.sweeps",
        ),
        f"ALTER TABLE {S}.current_scores ADD COLUMN published_scores jsonb",
    ]:
        op.execute(statement)
