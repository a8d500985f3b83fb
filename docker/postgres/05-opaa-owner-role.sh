#!/bin/sh
# Creates OPAA's schema owner role (docs/security.md, "Database roles"): it logs in, owns
# the database, schema public and every schema and table of OPAA, and runs migrations
# and organization schema DDL (DATABASE_OWNER_URL of migrate, app and worker). It is no
# superuser: the image's POSTGRES_USER (`opaa`) stays the only superuser, and no OPAA
# process has its password.
#
# BYPASSRLS: `manage.py backup` runs pg_dump as this role, and a dump must read every row
# past the row-level security forced on OPAA's tables (opaa/backup.py refuses a role
# without it). It adds no real power: the owner of a table may switch its row-level
# security off anyway. The application's role (opaa_app, 10-opaa-app-role.sh) has none.
#
# Runs as the image's superuser: it also creates the vector extension (not a trusted
# extension: the owner could not; migrations then find it), and hands the owner what the
# superuser owns in this database (an existing volume whose OPAA tables it created).
#
# The Postgres image runs this once, on the first start with an empty data volume,
# before 10-opaa-app-role.sh. Idempotent: on an existing volume, run it by hand to move
# ownership to the role or to reset its password:
#   docker compose -f docker/compose.yaml exec postgres sh /docker-entrypoint-initdb.d/05-opaa-owner-role.sh
# Each statement commits on its own (one transaction over every organization's tables
# could exhaust the lock table); if it stops half-way, run it again.
set -eu
: "${POSTGRES_OWNER_PASSWORD:?set POSTGRES_OWNER_PASSWORD}"
SUPERUSER="${POSTGRES_USER:-opaa}"
OWNER_ROLE="${POSTGRES_OWNER_USER:-opaa_owner}"
# Never strip the superuser of its powers, nor give the application's role the tables.
if [ "$OWNER_ROLE" = "$SUPERUSER" ] || [ "$OWNER_ROLE" = "${POSTGRES_APP_USER:-opaa_app}" ]; then
  echo "POSTGRES_OWNER_USER ($OWNER_ROLE) must differ from POSTGRES_USER and POSTGRES_APP_USER" >&2
  exit 1
fi
# The password travels as a psql variable and is quoted by format(%L), never spliced.
psql -v ON_ERROR_STOP=1 --no-psqlrc \
  --username "$SUPERUSER" --dbname "${POSTGRES_DB:-opaa}" \
  -v owner_role="$OWNER_ROLE" -v owner_password="$POSTGRES_OWNER_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'owner_role')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner_role')
\gexec
SELECT format(
  'ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION BYPASSRLS PASSWORD %L',
  :'owner_role', :'owner_password')
\gexec
CREATE EXTENSION IF NOT EXISTS vector;
SELECT format('ALTER DATABASE %I OWNER TO %I', current_database(), :'owner_role')
\gexec
SELECT format('ALTER SCHEMA public OWNER TO %I', :'owner_role')
\gexec

-- What the superuser owns in this database, outside the system schemas and extensions,
-- goes to the owner. (REASSIGN OWNED BY the image's superuser is refused: it is the
-- bootstrap superuser and owns the system catalogs.) OPAA's migrations create schemas,
-- tables, sequences, indexes, views, functions and triggers; indexes, triggers and the
-- sequences of identity and serial columns follow their table.
CREATE TEMPORARY VIEW opaa_superuser_owns AS
SELECT 'SCHEMA' AS kind, format('%I', n.nspname) AS name, 'pg_namespace'::regclass AS catalog,
       n.oid, n.oid AS namespace
FROM pg_namespace n WHERE n.nspowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
UNION ALL
SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                      WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'S' THEN 'SEQUENCE'
                      WHEN 'c' THEN 'TYPE' ELSE 'TABLE' END,
       c.oid::regclass::text, 'pg_class'::regclass, c.oid, c.relnamespace
FROM pg_class c
WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S', 'c')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d  -- a sequence that belongs to a column
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                    AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                    AND c.relkind = 'S')
UNION ALL
SELECT CASE p.prokind WHEN 'a' THEN 'AGGREGATE' ELSE 'ROUTINE' END,
       p.oid::regprocedure::text, 'pg_proc'::regclass, p.oid, p.pronamespace
FROM pg_proc p WHERE p.proowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
UNION ALL
SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END,
       t.oid::regtype::text, 'pg_type'::regclass, t.oid, t.typnamespace
FROM pg_type t
WHERE t.typowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
  AND t.typtype IN ('b', 'd', 'e', 'r')  -- composite types go with pg_class above
  AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = t.oid);  -- arrays follow

SELECT format('ALTER %s %s OWNER TO %I', o.kind, o.name, :'owner_role')
FROM opaa_superuser_owns o JOIN pg_namespace n ON n.oid = o.namespace
WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d  -- an extension's objects stay its own
                  WHERE d.classid = o.catalog AND d.objid = o.oid AND d.deptype = 'e')
ORDER BY o.kind = 'SCHEMA' DESC, o.name
\gexec
SQL
