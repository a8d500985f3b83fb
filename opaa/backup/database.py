"""The database half of a backup: reaching Postgres with its own tools (``pg_dump``,
``pg_restore``, ``psql``), the one consistent snapshot a backup is taken from, and what
it reads there (schemas, organizations' public rows, the keys documents name).

The underscored functions are this package's own; ``archive`` uses them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.conf import settings

from infra.storage import BACKUP_LOCK
from opaa.settings.env import DATA_DIR

# The embedded server's superuser, reachable on the embedded server's Unix socket only.
EMBEDDED_SUPERUSER = "postgres"
# How long a backup waits for the lock: deletions of originals hold it for moments, but
# another backup (a second one started meanwhile) for as long as it runs.
BACKUP_LOCK_TIMEOUT = "30min"


class BackupError(RuntimeError):
    """A backup or restore cannot proceed; the message says why (never a password)."""


@dataclass(frozen=True)
class Database:
    """How to reach a database with libpq tools: keyword conninfo plus its password."""

    host: str
    port: str
    user: str
    name: str
    password: str = ""

    @classmethod
    def from_url(cls, url: str) -> Database:
        """From ``postgres://user:password@host:port/name``; a Unix-socket directory may
        stand in for the host, percent-encoded (``postgres://user@%2Frun%2Fpg/name``)."""
        parsed = urlparse(url)
        if parsed.scheme not in {"postgres", "postgresql"}:
            raise BackupError("The database URL must start with postgres://")
        userinfo, _, hostport = parsed.netloc.rpartition("@")
        user, _, password = userinfo.partition(":")
        host, _, port = hostport.partition(":")
        return cls(
            host=unquote(host),
            port=port,
            user=unquote(user),
            name=unquote(parsed.path.lstrip("/")),
            password=unquote(password),
        )

    @classmethod
    def from_settings(cls) -> Database:
        """The installation's database, as the schema owner when one is configured.

        With the embedded Postgres (development, tests) its superuser is used instead:
        a dump must read every row, and the owner is subject to row-level security.
        """
        db = settings.DATABASES["default"]
        owner = db.get("OWNER") or {}
        host = db.get("HOST") or ""
        if host and Path(host).resolve().is_relative_to(DATA_DIR.resolve()):
            return cls(host=host, port=str(db.get("PORT") or ""), user=EMBEDDED_SUPERUSER,
                       name=db["NAME"])  # fmt: skip
        return cls(
            host=host,
            port=str(db.get("PORT") or ""),
            user=owner.get("USER") or db.get("USER") or "",
            name=db["NAME"],
            password=owner.get("PASSWORD") or db.get("PASSWORD") or "",
        )

    def conninfo(self) -> str:
        parts = {"host": self.host, "port": self.port, "user": self.user, "dbname": self.name}
        return " ".join(f"{k}='{v}'" for k, v in parts.items() if v)

    def env(self) -> dict[str, str]:
        # The password travels in the environment, never on a command line.
        env = {**os.environ}
        if self.password:
            env["PGPASSWORD"] = self.password
        return env


def pg_tool(name: str) -> str:
    """``pg_dump``/``pg_restore``/``psql``: the embedded server's own when it is installed
    (same major version as the server it runs), else the one on PATH."""
    from opaa.embedded import postgres_bin_dir

    bundled_dir = postgres_bin_dir()
    if bundled_dir is not None and (bundled_dir / name).exists():
        return str(bundled_dir / name)
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} was not found; install the PostgreSQL client tools.")
    return found


def _run(argv: list[str], database: Database) -> str:
    result = subprocess.run(  # noqa: S603 - fixed tools, arguments built here
        argv, env=database.env(), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BackupError(f"{Path(argv[0]).name} failed: {result.stderr.strip()[:1000]}")
    return result.stdout


def pg_restore(database: Database, dump: Path, *options: str) -> None:
    """``pg_restore`` ``dump`` into ``database``, stopping at the first error."""
    argv = [pg_tool("pg_restore"), "--exit-on-error", *options, "-d", database.conninfo()]
    _run([*argv, str(dump)], database)


def _psql_output(database: Database, sql: str) -> str:
    return _run(
        [pg_tool("psql"), "-X", "-A", "-t", "-F", "\t", "-d", database.conninfo(), "-c", sql],
        database,
    )


def _psql(database: Database, sql: str) -> list[list[str]]:
    return [line.split("\t") for line in _psql_output(database, sql).splitlines() if line]


def psql_run(database: Database, sql: str) -> None:
    """Run SQL statements (one transaction) on ``database``; BackupError if any fails."""
    _run(
        [pg_tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-d", database.conninfo(),
         "-c", sql],
        database,
    )  # fmt: skip


# Each organization's public rows, as JSON: enough to bring it back on its own.
_ORGANIZATIONS_SQL = """
SELECT coalesce(json_agg(json_build_object(
    'slug', o.slug, 'schema', o.schema_name, 'name', o.name, 'status', o.status,
    'created_at', o.created_at, 'status_changed_at', o.status_changed_at,
    'suspension_reason', o.suspension_reason, 'quota_overrides', o.quota_overrides,
    'plan', p.code,
    'domains', (SELECT coalesce(json_agg(json_build_object(
                    'domain', d.domain, 'is_primary', d.is_primary) ORDER BY d.domain), '[]')
                FROM public.tenants_domain AS d WHERE d.tenant_id = o.id),
    'usage', (SELECT coalesce(json_agg(to_jsonb(u) - 'id' - 'organization_id'
                                       ORDER BY u.day), '[]')
              FROM public.tenants_usageday AS u WHERE u.organization_id = o.id)
) ORDER BY o.slug), '[]')
FROM public.tenants_organization AS o LEFT JOIN public.tenants_plan AS p ON p.id = o.plan_id
"""


def _organizations(database: Database, slug: str | None = None) -> list[dict]:
    sql = _ORGANIZATIONS_SQL
    if slug is not None:
        sql += f" WHERE o.slug = '{slug_checked(slug)}'"  # a checked slug
    return json.loads(_psql_output(database, sql))


def slug_checked(slug: str) -> str:
    """``slug`` when it is an organization slug (so safe in SQL and file names)."""
    if not re.fullmatch(r"[-a-zA-Z0-9_]{1,63}", slug):
        raise BackupError(f"{slug!r} is not an organization slug.")
    return slug


def _describe(database: Database, schema: str | None = None) -> dict:
    """Server version, schemas and the last migration of each app; of one schema's
    ``django_migrations`` when ``schema`` is given, else of the public schema's."""
    schemas = [
        row[0]
        for row in _psql(
            database,
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
            "AND nspname <> 'information_schema' ORDER BY 1",
        )
    ]
    migrations = dict(
        _psql(
            database,
            "SELECT app, max(name) FROM "  # noqa: S608 - a schema name from pg_namespace
            f'"{schema or "public"}".django_migrations GROUP BY app ORDER BY app',
        )
    )
    version = _psql(database, "SHOW server_version")[0][0]
    return {
        "server_version": version,
        "schemas": [schema] if schema else schemas,
        "migrations": migrations,
    }


def _reads_every_row(database: Database) -> None:
    """Refuse a role that row-level security would silently filter (an incomplete dump)."""
    rows = _psql(
        database,
        "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
    )
    if rows != [["t"]]:
        raise BackupError(
            f"The role {database.user!r} cannot read every row past row-level security; "
            "back up as a superuser or a BYPASSRLS role (--database-url)."
        )


@contextmanager
def _consistency_point(database: Database) -> Iterator[tuple[str, object]]:
    """A snapshot of the database for ``pg_dump --snapshot``, and an open transaction
    reading that same snapshot; ``BACKUP_LOCK`` held exclusively until the block ends, so no
    original is deleted meanwhile (``ingestion.storage.original_delete`` keeps it for
    the sweep instead)."""
    import psycopg

    try:
        db = psycopg.connect(database.conninfo(), password=database.password or None)
    except psycopg.Error as exc:
        raise BackupError(f"Could not connect to the database: {exc}") from exc
    try:
        db.autocommit = True
        db.execute(f"SET lock_timeout = '{BACKUP_LOCK_TIMEOUT}'")
        try:
            # Taken before the snapshot: a deletion committed before it has its rows
            # gone from the snapshot; one after it is skipped (the sweep does it later).
            db.execute("SELECT pg_advisory_lock(%s)", [BACKUP_LOCK])
        except psycopg.errors.LockNotAvailable as exc:
            raise BackupError(
                f"Waited {BACKUP_LOCK_TIMEOUT} for the backup lock (another backup running, "
                "or a deletion of stored originals); try again."
            ) from exc
        db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snapshot = db.execute("SELECT pg_export_snapshot()").fetchone()[0]
        yield snapshot, db
    finally:
        db.close()  # ends the transaction and releases the lock


def _schemas(db) -> list[str]:
    """Every schema in ``db``'s snapshot (an organization created meanwhile included)."""
    rows = db.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
        "AND nspname <> 'information_schema' ORDER BY 1"
    )
    return [row[0] for row in rows]


def _document_keys(db, schemas: list[str]) -> set[str]:
    """The storage keys every document of ``schemas`` names, in ``db``'s snapshot."""
    keys: set[str] = set()
    for schema in schemas:
        quoted = '"' + schema.replace('"', '""') + '"'
        exists = db.execute("SELECT to_regclass(%s)", [f"{quoted}.ingestion_document"]).fetchone()
        if exists[0] is None:
            continue  # the public schema, or a spare organization not yet migrated
        rows = db.execute(f"SELECT storage_key FROM {quoted}.ingestion_document")  # noqa: S608
        keys.update(row[0] for row in rows if row[0])
    return keys


def _database_empty(database: Database) -> bool:
    rows = _psql(
        database,
        "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', "
        "'information_schema')",
    )
    return rows[0][0] == "0"
