"""What every service's migrations share: Alembic's async runner, and the DDL of the
messaging tables and of row-level security.

Migrations run as the owner role; services connect as the plain application role. The tables
are owned by the owner and use ``FORCE ROW LEVEL SECURITY`` so even the owner is bound.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, pool
from sqlalchemy.ext.asyncio import create_async_engine

TENANT_POLICY = "tenant_id = current_setting('app.tenant_id', true)"
SYSTEM_SCOPE = "current_setting('app.scope', true) = 'system'"


def tenant_rls(schema: str, table: str, *, system_scope: bool = False) -> list[str]:
    """Enable and force RLS on a table; rows are visible only to their tenant's transactions."""
    using = f"{TENANT_POLICY} OR {SYSTEM_SCOPE}" if system_scope else TENANT_POLICY
    return [
        f"ALTER TABLE {schema}.{table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {schema}.{table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_isolation ON {schema}.{table} USING ({using}) WITH CHECK ({using})",
    ]


def across_tenants(backfill: str, *tables: str) -> list[str]:
    """Run a backfill across tenants: the owner is bound by the tenant policies of
    ``tables`` too (FORCE), so they are lifted for the statement, in the migration's
    transaction."""
    return [
        *(f"ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY" for t in tables),
        backfill,
        *(f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY" for t in tables),
    ]


def schema_and_grants(schema: str, app_role: str) -> list[str]:
    return [
        f"CREATE SCHEMA IF NOT EXISTS {schema}",
        f"GRANT USAGE ON SCHEMA {schema} TO {app_role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema}"
        f" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app_role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema}"
        f" GRANT USAGE, SELECT ON SEQUENCES TO {app_role}",
    ]


def messaging_tables(schema: str) -> list[str]:
    """The outbox, the inbox and the idempotency keys of a service (as first created: with a
    NOTIFY trigger on the outbox that a later migration drops)."""
    return [
        f"""CREATE TABLE {schema}.outbox (
            id bigserial PRIMARY KEY,
            tenant_id text NOT NULL,
            topic text NOT NULL,
            key bytea NOT NULL,
            event_id text NOT NULL UNIQUE,
            event_type text NOT NULL,
            subject text NOT NULL,
            payload bytea,
            trace_headers jsonb NOT NULL DEFAULT '{{}}',
            created_at timestamptz NOT NULL DEFAULT now(),
            sent_at timestamptz
        )""",
        f"CREATE INDEX outbox_unsent ON {schema}.outbox (id) WHERE sent_at IS NULL",
        # dropped again by each service's next migration: see drop_outbox_notify
        f"""CREATE FUNCTION {schema}.notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_notify('{schema}_outbox', ''); RETURN NULL; END $$""",
        f"""CREATE TRIGGER outbox_notify AFTER INSERT ON {schema}.outbox
            FOR EACH STATEMENT EXECUTE FUNCTION {schema}.notify_outbox()""",
        *tenant_rls(schema, "outbox", system_scope=True),
        f"""CREATE TABLE {schema}.inbox (
            consumer_group text NOT NULL,
            tenant_id text NOT NULL,
            event_id text NOT NULL,
            event_type text NOT NULL,
            processed_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (consumer_group, tenant_id, event_id)
        )""",
        *tenant_rls(schema, "inbox"),
        f"""CREATE TABLE {schema}.idempotency_keys (
            tenant_id text NOT NULL,
            key text NOT NULL,
            fingerprint char(64) NOT NULL,
            status smallint NOT NULL,
            body bytea NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, key)
        )""",
        *tenant_rls(schema, "idempotency_keys"),
    ]


def alembic_config(migrations_dir: Path, schema: str, url: str, app_role: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["schema"] = schema
    config.attributes["app_role"] = app_role
    return config


def upgrade(migrations_dir: Path, schema: str, url: str, app_role: str) -> None:
    """Apply every migration of one schema; run in a thread when an event loop is running."""
    command.upgrade(alembic_config(migrations_dir, schema, url, app_role), "head")


def app_role() -> str:
    """The application role of the running migration (set by :func:`alembic_config`)."""
    from alembic import op

    role = op.get_context().config.attributes["app_role"]  # type: ignore[union-attr]
    return str(role)


def run_env(context: object, schema: str) -> None:
    """The body of every service's ``env.py``: online, async, version table in the schema."""
    from alembic import context as alembic_context

    assert context is alembic_context
    config = alembic_context.config
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None

    def migrate(connection: Connection) -> None:
        connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        alembic_context.configure(
            connection=connection,
            version_table_schema=schema,
        )
        with alembic_context.begin_transaction():
            # One migrator at a time, even when several replicas start together.
            connection.exec_driver_sql(
                f"SELECT pg_advisory_xact_lock(hashtext('migrate:{schema}'))"
            )
            alembic_context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(migrate)
            await connection.commit()
        await engine.dispose()

    asyncio.run(main())


def drop_outbox_notify(schema: str) -> list[str]:
    """Drop the outbox's NOTIFY trigger: the relay is woken in-process instead (why: see
    :mod:`accountpulse.common.messaging.outbox`)."""
    return [
        f"DROP TRIGGER IF EXISTS outbox_notify ON {schema}.outbox",
        f"DROP FUNCTION IF EXISTS {schema}.notify_outbox()",
    ]


def outbox_pending(schema: str) -> list[str]:
    """The outbox's unsent rows listed in a narrow table of their own, instead of a ``sent_at``
    column the relay sets (why: see :mod:`accountpulse.common.messaging.relay`).

    A statement trigger lists every row any statement inserts into the outbox (a bulk
    ``INSERT``, a ``COPY``, a writer of the version before), from its transition table; the
    relay deletes a row's listing once Kafka has acknowledged it. The rows unsent when the
    migration runs are listed (no writer can insert meanwhile: creating the trigger locks
    the outbox until the migration commits), then the column and its index go."""
    return [
        f"""CREATE TABLE {schema}.outbox_pending (
            id bigint PRIMARY KEY,
            created_at timestamptz NOT NULL
        )""",
        f"""CREATE FUNCTION {schema}.list_outbox_pending() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO {schema}.outbox_pending (id, created_at)
                SELECT id, created_at FROM inserted;
                RETURN NULL;
            END $$""",
        f"""CREATE TRIGGER outbox_pending AFTER INSERT ON {schema}.outbox
            REFERENCING NEW TABLE AS inserted
            FOR EACH STATEMENT EXECUTE FUNCTION {schema}.list_outbox_pending()""",
        *across_tenants(
            f"INSERT INTO {schema}.outbox_pending (id, created_at)"
            f" SELECT id, created_at FROM {schema}.outbox WHERE sent_at IS NULL",
            f"{schema}.outbox",
        ),
        f"DROP INDEX {schema}.outbox_unsent",
        f"ALTER TABLE {schema}.outbox DROP COLUMN sent_at",
    ]


def erased_accounts_table(schema: str) -> list[str]:
    """The accounts a service has erased (:mod:`accountpulse.common.projections`): an id and
    when, nothing about the account, so an event about it that arrives late on another topic
    (a score change, a stale plan) is recognised and leaves nothing behind."""
    return [
        f"""CREATE TABLE {schema}.erased_accounts (
            tenant_id text NOT NULL,
            account_id text NOT NULL,
            erased_at timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, account_id)
        )""",
        *tenant_rls(schema, "erased_accounts"),
    ]


def housekeeping_support(schema: str) -> list[str]:
    """What the housekeeping job (``accountpulse.common.housekeeping``) needs: a BRIN index on
    the time of each messaging table's rows (a few pages for millions of rows; an insert into
    the table's newest pages costs it nothing), and the system scope on the inbox's and the
    idempotency keys' rows, to delete expired ones of every tenant in one statement."""
    statements = [
        f"CREATE INDEX outbox_created_at ON {schema}.outbox USING brin (created_at)",
        f"CREATE INDEX inbox_processed_at ON {schema}.inbox USING brin (processed_at)",
        f"CREATE INDEX idempotency_keys_created_at ON {schema}.idempotency_keys"
        " USING brin (created_at)",
    ]
    for table in ("inbox", "idempotency_keys"):
        using = f"{TENANT_POLICY} OR {SYSTEM_SCOPE}"
        statements += [
            f"DROP POLICY tenant_isolation ON {schema}.{table}",
            f"CREATE POLICY tenant_isolation ON {schema}.{table} USING ({using})"
            f" WITH CHECK ({using})",
        ]
    return statements


def maintain_privilege(schema: str, app_role: str) -> list[str]:
    """Let the application role ``ANALYZE`` the schema's tables (the ``MAINTAIN`` privilege, for
    ``accountpulse.common.statistics``), on PostgreSQL 17 and later (earlier servers have no
    such privilege; there the role's ``ANALYZE`` is skipped with a warning)."""
    grants = (
        f"GRANT MAINTAIN ON ALL TABLES IN SCHEMA {schema} TO {app_role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT MAINTAIN ON TABLES TO {app_role}",
    )
    executes = " ".join(f"EXECUTE '{grant}';" for grant in grants)
    return [
        "DO $$ BEGIN IF current_setting('server_version_num')::int >= 170000 THEN"
        f" {executes} END IF; END $$"
    ]
