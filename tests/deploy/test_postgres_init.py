"""docker/postgres/10-opaa-app-role.sh, run by psql against a real Postgres server (an
embedded one here; the pgvector image runs it as its superuser on first start)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "docker" / "postgres" / "10-opaa-app-role.sh"


@pytest.fixture(scope="module")
def server():
    import pgserver

    root = Path(tempfile.mkdtemp(prefix="opaa-initdb-", dir="/tmp"))
    pg = pgserver.get_server(root / "pg", cleanup_mode="stop")
    try:
        yield str(pg.get_postmaster_info().socket_dir)
    finally:
        pg.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def run_script(socket_dir: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        "PATH": os.environ["PATH"],
        "PGHOST": socket_dir,
        "POSTGRES_USER": "postgres",
        "POSTGRES_DB": "postgres",
        **env,
    }
    return subprocess.run(
        ["sh", str(SCRIPT)], env=environment, capture_output=True, text=True, check=False
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
