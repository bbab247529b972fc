"""Rescore lanes: a run's accounts split by a hash of their id into lanes, each with its own
cursor and counters, so chunks of one run are scored concurrently (one lane's Python scoring
overlaps another's database round trips) and still each exactly once.

A run that was running before this migration continues in lanes from its cursor: accounts up
to the cursor are scored; the run's own counters stay the base the lanes add to.

Revision ID: 0003
"""

from alembic import op

from accountpulse.common.migrations import tenant_rls

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "scoring"
LANES = 2


def upgrade() -> None:
    for statement in [
        f"""CREATE TABLE {S}.rescore_lanes (
            run_id uuid NOT NULL REFERENCES {S}.rescore_runs (id) ON DELETE CASCADE,
            lane smallint NOT NULL,
            lanes smallint NOT NULL,
            tenant_id text NOT NULL,
            cursor text NOT NULL DEFAULT '',
            done integer NOT NULL DEFAULT 0,
            published integer NOT NULL DEFAULT 0,
            finished boolean NOT NULL DEFAULT false,
            updated_at timestamptz,
            PRIMARY KEY (run_id, lane)
        )""",
        *tenant_rls(S, "rescore_lanes", system_scope=True),
        f"""INSERT INTO {S}.rescore_lanes (run_id, lane, lanes, tenant_id, cursor)
            SELECT r.id, l, {LANES}, r.tenant_id, r.cursor
            FROM {S}.rescore_runs r, generate_series(0, {LANES - 1}) AS l
            WHERE r.status = 'running'""",
    ]:
        op.execute(statement)
