-- Gatehouse on an existing PostgreSQL server: its database and the three
-- roles of docs/postgresql.md ("Roles"). Run it once, as a superuser (or a
-- role with CREATEROLE and CREATEDB), with psql:
--
--   psql 'postgres://postgres@db.internal/postgres' -X -v ON_ERROR_STOP=1 \
--     -v owner_password="$(cat /etc/gatehouse/pg-owner.pw)" \
--     -v app_password="$(cat /etc/gatehouse/pg-app.pw)" \
--     -v prune_password="$(cat /etc/gatehouse/pg-prune.pw)" \
--     -f postgresql-roles.sql
--
-- Optional variables (-v name=value), with their defaults: dbname
-- (gatehouse), owner_role (gatehouse_owner), app_role (gatehouse_app),
-- prune_role (gatehouse_prune). The group roles gatehouse_runtime and
-- gatehouse_retention keep their names: `gatehouse migrate` grants to them.
--
-- Running it again is safe: a role or database that exists is left as it
-- is (its password is not changed); the database settings are applied again.
-- Tables (and the audit log's two functions) get their privileges from
-- `gatehouse migrate`, after it creates them.
-- tests/api/pg_roles.test.mjs runs this file as it is.

\if :{?dbname}
\else
\set dbname gatehouse
\endif
\if :{?owner_role}
\else
\set owner_role gatehouse_owner
\endif
\if :{?app_role}
\else
\set app_role gatehouse_app
\endif
\if :{?prune_role}
\else
\set prune_role gatehouse_prune
\endif

-- The group roles: nobody logs in as them; `gatehouse migrate` grants them
-- exactly what serve (runtime) and `gatehouse audit prune` (retention) need.
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gatehouse_runtime') AS missing \gset
\if :missing
CREATE ROLE gatehouse_runtime NOLOGIN;
\endif
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gatehouse_retention') AS missing \gset
\if :missing
CREATE ROLE gatehouse_retention NOLOGIN;
\endif

-- The owner: owns the schema and every table, trigger and function in it.
-- Only `gatehouse migrate` logs in as it (GATEHOUSE_DATABASE_MIGRATE_URL).
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner_role') AS missing \gset
\if :missing
CREATE ROLE :"owner_role" LOGIN PASSWORD :'owner_password';
\endif

-- The runtime login: `gatehouse serve` and the other commands
-- (GATEHOUSE_DATABASE_URL). It may append to the audit log, never change it.
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_role') AS missing \gset
\if :missing
CREATE ROLE :"app_role" LOGIN PASSWORD :'app_password' IN ROLE gatehouse_runtime;
\endif

-- The retention login: `gatehouse audit prune` only
-- (GATEHOUSE_DATABASE_RETENTION_URL). It alone may delete old audit rows.
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'prune_role') AS missing \gset
\if :missing
CREATE ROLE :"prune_role" LOGIN PASSWORD :'prune_password' IN ROLE gatehouse_retention;
\endif

SELECT NOT EXISTS (SELECT FROM pg_database WHERE datname = :'dbname') AS missing \gset
\if :missing
CREATE DATABASE :"dbname" OWNER :"owner_role" ENCODING 'UTF8' TEMPLATE template0;
\endif

\connect :"dbname"
-- Only Gatehouse's roles connect, and none of them creates objects but the
-- owner: the runtime role cannot add a table, a function or a temporary
-- table next to Gatehouse's.
REVOKE ALL ON DATABASE :"dbname" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"dbname" TO gatehouse_runtime, gatehouse_retention;
ALTER SCHEMA public OWNER TO :"owner_role";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO gatehouse_runtime, gatehouse_retention;
