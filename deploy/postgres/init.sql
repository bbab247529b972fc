-- Run once by the postgres image's entrypoint, on an empty data directory, as the superuser,
-- connected to POSTGRES_DB (accountpulse). Mirrors bootstrap_database() of deploy/local/stack.py.
--
--   accountpulse_owner  owns the database; `accountpulse migrate` connects as it and creates
--                       the schemas, tables and row-level-security policies.
--   accountpulse_app    what the services connect as: may only connect; the migrations grant
--                       it USAGE on each schema and DML on its tables. NOBYPASSRLS, so the
--                       tenant policies always apply.
--
-- The passwords are local-development placeholders (the services refuse them in production).

\set ON_ERROR_STOP on

CREATE ROLE accountpulse_owner WITH LOGIN PASSWORD 'owner'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT;

CREATE ROLE accountpulse_app WITH LOGIN PASSWORD 'app'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT;

ALTER DATABASE accountpulse OWNER TO accountpulse_owner;
GRANT ALL ON DATABASE accountpulse TO accountpulse_owner;
GRANT CONNECT, TEMPORARY ON DATABASE accountpulse TO accountpulse_app;
