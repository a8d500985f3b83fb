"""docker/postgres/05-opaa-owner-role.sh and 10-opaa-app-role.sh, run by psql against a
real Postgres server (an embedded one here, with pgvector; the pgvector image runs them
in that order as its superuser on first start).

The embedded server trusts every local connection, so the tests connect as each role
without its password; the stored SCRAM verifier is checked against the password instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

INIT = Path(__file__).resolve().parents[2] / "docker" / "postgres"
SCRIPT = INIT / "10-opaa-app-role.sh"
OWNER_SCRIPT = INIT / "05-opaa-owner-role.sh"


@pytest.fixture(scope="module")
def server():
    from opaa.embedded import postgres_server

    root = Path(tempfile.mkdtemp(prefix="opaa-initdb-", dir="/tmp"))
    pg = postgres_server(root / "pg")
    try:
        yield str(pg.get_postmaster_info().socket_dir)
    finally:
        pg.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def run_script(socket_dir: str, script: Path = SCRIPT, **env: str) -> subprocess.CompletedProcess:
    environment = {
        "PATH": os.environ["PATH"],
        "PGHOST": socket_dir,
        "POSTGRES_USER": "postgres",
        "POSTGRES_DB": "postgres",
        **env,
    }
    return subprocess.run(
        ["sh", str(script)], env=environment, capture_output=True, text=True, check=False
    )


def role(socket_dir: str) -> tuple:
    with psycopg.connect(host=socket_dir, user="postgres", dbname="postgres") as db:
        return db.execute(
            "SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole,"
            " rolpassword FROM pg_authid WHERE rolname = 'opaa_app'"
        ).fetchone()


def test_creates_an_application_role_bound_by_row_level_security(server):
    # A quote in the password must not break out of the statement.
    first = run_script(server, POSTGRES_APP_PASSWORD="it's'; DROP ROLE postgres; --")
    assert first.returncode == 0, first.stderr
    login, superuser, bypassrls, createdb, createrole, password = role(server)
    assert (login, superuser, bypassrls, createdb, createrole) == (True, False, False, False, False)
    assert password.startswith("SCRAM-SHA-256$")

    # Idempotent: run again on an existing volume, it resets the password.
    again = run_script(server, POSTGRES_APP_PASSWORD="another-password")
    assert again.returncode == 0, again.stderr
    assert role(server)[5] != password
    with psycopg.connect(host=server, user="postgres", dbname="postgres") as db:
        # The injected DROP ROLE did not run.
        survivors = db.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'postgres'")
        assert survivors.fetchone() == (1,)
        owns = db.execute(
            "SELECT count(*) FROM pg_class WHERE relowner = 'opaa_app'::regrole"
        ).fetchone()
    assert owns == (0,)


def test_refuses_to_run_without_a_password(server):
    result = run_script(server)
    assert result.returncode != 0
    assert "POSTGRES_APP_PASSWORD" in result.stderr


# --- 05-opaa-owner-role.sh: the schema owner ------------------------------------------

OWNER_PASSWORD = "it's'; DROP ROLE postgres; --"


def superuser(socket_dir: str, dbname: str = "postgres") -> psycopg.Connection:
    return psycopg.connect(host=socket_dir, user="postgres", dbname=dbname, autocommit=True)


def new_database(socket_dir: str, name: str) -> str:
    """A database created and owned by the superuser, as the image creates POSTGRES_DB."""
    with superuser(socket_dir) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        db.execute(f'CREATE DATABASE "{name}"')
    return name


def run_owner_script(socket_dir: str, dbname: str, **env: str) -> subprocess.CompletedProcess:
    return run_script(socket_dir, OWNER_SCRIPT, POSTGRES_DB=dbname, **env)


def scram_matches(verifier: str, password: str) -> bool:
    """Whether a SCRAM-SHA-256 verifier (pg_authid.rolpassword) is ``password``'s."""
    method, iterations_salt, keys = verifier.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key, server_key = (base64.b64decode(key) for key in keys.split(":"))
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return (
        method == "SCRAM-SHA-256"
        and hashlib.sha256(client_key).digest() == stored_key
        and hmac.new(salted, b"Server Key", hashlib.sha256).digest() == server_key
    )


def test_owner_script_creates_a_schema_owner_that_is_no_superuser(server):
    dbname = new_database(server, "opaa_fresh")
    first = run_owner_script(server, dbname, POSTGRES_OWNER_PASSWORD=OWNER_PASSWORD)
    assert first.returncode == 0, first.stderr
    with superuser(server, dbname) as db:
        attributes = db.execute(
            "SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb,"
            " rolreplication, rolpassword FROM pg_authid WHERE rolname = 'opaa_owner'"
        ).fetchone()
        *flags, password = attributes
        # Logs in, reads every row past row-level security (backups), nothing more.
        assert flags == [True, False, True, False, False, False]
        # The quoted password was stored as given (the injected DROP ROLE did not run).
        assert scram_matches(password, OWNER_PASSWORD)
        assert db.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'postgres'").fetchone()
        assert db.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = 'postgres'"
        ).fetchone() == (True,)
        owners = db.execute(
            "SELECT (SELECT datdba::regrole::text FROM pg_database WHERE datname = %s),"
            " (SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'public'),"
            " (SELECT count(*) FROM pg_extension WHERE extname = 'vector')",
            [dbname],
        ).fetchone()
    assert owners == ("opaa_owner", "opaa_owner", 1)

    # Idempotent: run again on an existing volume, it resets the password.
    again = run_owner_script(server, dbname, POSTGRES_OWNER_PASSWORD="another-password")
    assert again.returncode == 0, again.stderr
    with superuser(server) as db:
        (changed,) = db.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = 'opaa_owner'"
        ).fetchone()
    assert scram_matches(changed, "another-password")

    # Then the application's role, as the image runs the scripts: 05, then 10.
    app = run_script(server, POSTGRES_APP_PASSWORD="app-password", POSTGRES_DB=dbname)
    assert app.returncode == 0, app.stderr

    # As the owner, what migrations and signup do: find the extension, create a schema and
    # a table with a vector column, protect it with forced row-level security, grant it.
    with psycopg.connect(host=server, user="opaa_owner", dbname=dbname, autocommit=True) as db:
        db.execute("CREATE EXTENSION IF NOT EXISTS vector")  # pgvector's VectorExtension
        db.execute("CREATE SCHEMA org_acme")
        db.execute(
            "CREATE TABLE org_acme.chunk (id bigint GENERATED BY DEFAULT AS IDENTITY"
            " PRIMARY KEY, embedding vector(3))"
        )
        db.execute("INSERT INTO org_acme.chunk (embedding) VALUES ('[1,2,3]')")
        db.execute("ALTER TABLE org_acme.chunk ENABLE ROW LEVEL SECURITY")
        db.execute("ALTER TABLE org_acme.chunk FORCE ROW LEVEL SECURITY")
        db.execute("CREATE POLICY nobody ON org_acme.chunk USING (false)")
        db.execute("GRANT USAGE ON SCHEMA org_acme TO opaa_app")
        db.execute("GRANT SELECT ON org_acme.chunk TO opaa_app")
        # opaa/backup/database.py's _reads_every_row, and what it protects: every row is read.
        assert db.execute(
            "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
        ).fetchone() == (True,)
        assert db.execute("SELECT count(*) FROM org_acme.chunk").fetchone() == (1,)
    with psycopg.connect(host=server, user="opaa_app", dbname=dbname) as db:
        assert db.execute("SELECT count(*) FROM org_acme.chunk").fetchone() == (0,)

    # pg_dump, as manage.py backup runs it, as the owner (it refuses a role that row-level
    # security would filter).
    from opaa.embedded import postgres_bin_dir

    dump = subprocess.run(
        [str(postgres_bin_dir() / "pg_dump"), "--data-only", "--table=org_acme.chunk",
         "-h", server, "-U", "opaa_owner", dbname],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert dump.returncode == 0, dump.stderr
    assert "[1,2,3]" in dump.stdout


def test_owner_script_refuses_to_run_without_a_password(server):
    result = run_owner_script(server, "postgres")
    assert result.returncode != 0
    assert "POSTGRES_OWNER_PASSWORD" in result.stderr


def test_owner_script_never_demotes_the_superuser(server):
    result = run_owner_script(
        server, "postgres", POSTGRES_OWNER_PASSWORD="x", POSTGRES_OWNER_USER="postgres"
    )
    assert result.returncode != 0
    assert "POSTGRES_OWNER_USER" in result.stderr
    with superuser(server) as db:
        assert db.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = 'postgres'"
        ).fetchone() == (True,)


EXISTING_VOLUME_SQL = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE public.django_migrations (id bigserial PRIMARY KEY, app text);
CREATE SCHEMA org_acme;
CREATE TYPE org_acme.status AS ENUM ('new', 'done');
CREATE DOMAIN org_acme.positive AS integer CHECK (VALUE > 0);
CREATE TYPE org_acme.pair AS (a integer, b integer);
CREATE TABLE org_acme.document (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    status org_acme.status, pages org_acme.positive, embedding vector(3));
CREATE SEQUENCE org_acme.counter;
-- Sorts before its table: changed alone, it would be refused (it follows the table).
CREATE SEQUENCE org_acme.a_page_seq OWNED BY org_acme.document.pages;
CREATE VIEW org_acme.done AS SELECT id FROM org_acme.document WHERE status = 'done';
CREATE MATERIALIZED VIEW org_acme.totals AS SELECT count(*) FROM org_acme.document;
CREATE TABLE org_acme.event (id bigint, at date) PARTITION BY RANGE (at);
CREATE TABLE org_acme.event_2026 PARTITION OF org_acme.event
    FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE FUNCTION org_acme.refuse() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'append only'; END $$;
CREATE TRIGGER refuse BEFORE DELETE ON org_acme.document
    FOR EACH ROW EXECUTE FUNCTION org_acme.refuse();
ALTER TABLE org_acme.document ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_acme.document FORCE ROW LEVEL SECURITY;
CREATE POLICY nobody ON org_acme.document USING (false);
INSERT INTO org_acme.document (status, pages) VALUES ('new', 1);
GRANT USAGE ON SCHEMA org_acme TO opaa_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON org_acme.document TO opaa_app;
"""

# What the superuser owns in a database, outside the system schemas and extensions.
SUPERUSER_OWNS_SQL = """
SELECT 'schema ' || nspname FROM pg_namespace
WHERE nspowner = 'postgres'::regrole AND nspname NOT LIKE 'pg\\_%'
  AND nspname <> 'information_schema'
UNION ALL
SELECT 'relation ' || c.oid::regclass FROM pg_class c
WHERE c.relowner = 'postgres'::regrole
  AND c.relnamespace::regnamespace::text NOT LIKE 'pg\\_%'
  AND c.relnamespace::regnamespace::text <> 'information_schema'
UNION ALL
SELECT 'function ' || p.oid::regprocedure FROM pg_proc p
WHERE p.proowner = 'postgres'::regrole AND p.pronamespace::regnamespace::text NOT LIKE 'pg\\_%'
  AND p.pronamespace::regnamespace::text <> 'information_schema'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
UNION ALL
SELECT 'type ' || t.oid::regtype FROM pg_type t
WHERE t.typowner = 'postgres'::regrole AND t.typnamespace::regnamespace::text NOT LIKE 'pg\\_%'
  AND t.typnamespace::regnamespace::text <> 'information_schema'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d JOIN pg_type e ON e.oid = d.refobjid
                  WHERE d.objid = t.oid AND d.deptype = 'i')
ORDER BY 1
"""


def test_owner_script_hands_an_existing_volume_to_the_owner(server):
    # An installation from before the owner role: the superuser created the database and
    # every table, function and type; opaa_app already exists and has its grants.
    dbname = new_database(server, "opaa_existing")
    app = run_script(server, POSTGRES_APP_PASSWORD="app-password", POSTGRES_DB=dbname)
    assert app.returncode == 0, app.stderr
    with superuser(server, dbname) as db:
        db.execute(EXISTING_VOLUME_SQL)
        before = [row[0] for row in db.execute(SUPERUSER_OWNS_SQL)]
    assert "relation org_acme.document" in before
    assert "function org_acme.refuse()" in before

    for script, env in (
        (OWNER_SCRIPT, {"POSTGRES_OWNER_PASSWORD": "owner-password"}),
        (SCRIPT, {"POSTGRES_APP_PASSWORD": "app-password"}),
    ):
        result = run_script(server, script, POSTGRES_DB=dbname, **env)
        assert result.returncode == 0, result.stderr

    with superuser(server, dbname) as db:
        assert [row[0] for row in db.execute(SUPERUSER_OWNS_SQL)] == []
        owned = {
            row[0]
            for row in db.execute(
                "SELECT c.oid::regclass::text FROM pg_class c"
                " WHERE c.relowner = 'opaa_owner'::regrole"
            )
        }
        assert {
            "django_migrations", "django_migrations_id_seq", "org_acme.document",
            "org_acme.document_id_seq", "org_acme.counter", "org_acme.done",
            "org_acme.totals", "org_acme.event", "org_acme.event_2026", "org_acme.pair",
            "org_acme.a_page_seq",
        } <= owned  # fmt: skip
        # The system catalogs and the extension stay the superuser's.
        assert db.execute(
            "SELECT count(*) FROM pg_class WHERE relowner = 'opaa_owner'::regrole"
            " AND relnamespace = 'pg_catalog'::regnamespace"
        ).fetchone() == (0,)
        assert db.execute(
            "SELECT extowner::regrole::text, (SELECT typowner::regrole::text FROM pg_type"
            " WHERE typname = 'vector') FROM pg_extension WHERE extname = 'vector'"
        ).fetchone() == ("postgres", "postgres")
        # The application's grants survive the change of owner.
        assert db.execute(
            "SELECT has_table_privilege('opaa_app', 'org_acme.document', 'SELECT, DELETE')"
        ).fetchone() == (True,)

    # The owner now migrates: alters the tables, replaces the function (migrations do
    # CREATE OR REPLACE FUNCTION), refreshes the view, reads every row, drops a schema.
    with psycopg.connect(host=server, user="opaa_owner", dbname=dbname, autocommit=True) as db:
        db.execute("ALTER TABLE org_acme.document ADD COLUMN title text")
        db.execute("ALTER TABLE django_migrations ADD COLUMN name text")
        db.execute(
            "CREATE OR REPLACE FUNCTION org_acme.refuse() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN RETURN OLD; END $$"
        )
        db.execute("ALTER TYPE org_acme.status ADD VALUE 'failed'")
        db.execute("ALTER DOMAIN org_acme.positive SET DEFAULT 1")
        db.execute("SELECT setval('org_acme.counter', 5)")
        db.execute("REFRESH MATERIALIZED VIEW org_acme.totals")
        assert db.execute("SELECT count(*) FROM org_acme.document").fetchone() == (1,)
        db.execute("DROP SCHEMA org_acme CASCADE")
    with superuser(server) as db:
        db.execute(f'DROP DATABASE "{dbname}" WITH (FORCE)')
