#!/bin/sh
# Creates OPAA's application role (docs/security.md, "Database roles"): it logs in,
# owns nothing, is no superuser and has no BYPASSRLS, so row-level security binds it.
# The schema owner (opaa_owner, 05-opaa-owner-role.sh) owns the database and runs
# migrations (DATABASE_OWNER_URL); the tables' grants to this role are made by every migrate.
#
# The Postgres image runs this once, on the first start with an empty data volume, after
# 05-opaa-owner-role.sh.
# Idempotent: on an existing volume, run it by hand to add the role or reset its password:
#   docker compose -f docker/compose.yaml exec postgres sh /docker-entrypoint-initdb.d/10-opaa-app-role.sh
set -eu
: "${POSTGRES_APP_PASSWORD:?set POSTGRES_APP_PASSWORD}"
APP_ROLE="${POSTGRES_APP_USER:-opaa_app}"
# The password travels as a psql variable and is quoted by format(%L), never spliced.
psql -v ON_ERROR_STOP=1 --no-psqlrc \
  --username "${POSTGRES_USER:-opaa}" --dbname "${POSTGRES_DB:-opaa}" \
  -v app_role="$APP_ROLE" -v app_password="$POSTGRES_APP_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'app_role')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app_role')
\gexec
SELECT format(
  'ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L',
  :'app_role', :'app_password')
\gexec
-- No creating objects in the public schema (Postgres 15+ default, made explicit).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
