from alembic import context

from accountpulse.common.migrations import run_env

run_env(context, schema="iam")
