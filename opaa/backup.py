"""Backup and restore of a whole installation or of one organization: one archive,
checked on the way back.

An archive (``opaa-backup-<UTC time>.tar``, or ``opaa-backup-org-<slug>-<UTC time>.tar``
for one organization) holds:

- ``database.dump``: ``pg_dump --format=custom`` of the whole database (every
  organization's schema and the public one), or of one organization's schema, one
  consistent snapshot;
- ``objects/<key>``: the stored objects of the dump's point in time under ``org/`` (or
  ``org/<schema>/``), copied from the configured storage (local disk or S3): every
  original a document of the dump names, and nothing stored after it (see
  ``backup_create`` for how writes going on meanwhile are kept out or kept back);
- ``manifest.json``: format, scope, OPAA version, time, database server version,
  schemas, the organizations with their public rows (name, status, plan, domains,
  usage), the last migration of each app, and the size and SHA-256 of the dump and of
  every object.

``backup_restore`` verifies every checksum before it touches anything, refuses a
database or storage that is not empty, then restores the dump with ``pg_restore`` and
writes the objects back under their keys. One organization is restored into a running
installation by ``opaa.backup_organization.organization_restore``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage
from django.db import connection

from infra.storage import BACKUP_LOCK, objects_under, objects_walk
from opaa.settings.env import DATA_DIR

FORMAT = 1
# pgserver's superuser, reachable on the embedded server's Unix socket only.
EMBEDDED_SUPERUSER = "postgres"
SCOPE_INSTALLATION = "installation"
SCOPE_ORGANIZATION = "organization"
MANIFEST = "manifest.json"
DUMP = "database.dump"
OBJECTS = "objects/"
PREFIX = "org/"
ARCHIVE_PREFIX = "opaa-backup-"
# Where documents' originals live: org/<schema>/documents/<key>.
DOCUMENT_KEY = re.compile(r"org/[^/]+/documents/[^/]+")
# How long a backup waits for the lock: deletions of originals hold it for moments, but
# another backup (a second one started meanwhile) for as long as it runs.
BACKUP_LOCK_TIMEOUT = "30min"
# opaa-backup-20261127T020000Z.tar or opaa-backup-org-acme-20261127T020000Z.tar
ARCHIVE_NAME = re.compile(
    r"opaa-backup-(?:org-(?P<slug>[-a-zA-Z0-9_]+)-)?(?P<time>\d{8}T\d{6}Z)\.tar"
)


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
    try:
        import pgserver

        bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / name
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
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


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _opaa_version() -> str:
    try:
        return metadata.version("opaa")
    except metadata.PackageNotFoundError:
        return "unknown"


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


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: dict


def backup_create(
    *,
    destination: Path,
    database: Database | None = None,
    storage: Storage | None = None,
    organization: str | None = None,
) -> BackupResult:
    """Write one archive of the database and the stored objects into ``destination``;
    of one organization (its schema, its public rows, its objects) when ``organization``
    names its slug.

    The consistency point is one database snapshot: the dump is taken from it
    (``pg_dump --snapshot``), and the documents' originals copied are exactly those its
    documents name, read in the same snapshot. Writes going on meanwhile are in the
    backup or not, never half: an original stored after the snapshot is left out (its
    document is not in the dump), and one deleted after it (an erasure, a replaced
    version) is kept until the objects are copied: deleting an original skips it while
    a backup holds ``BACKUP_LOCK``, and the hourly originals sweep deletes it
    afterwards. Originals are write-once (a new version gets a new key). A
    named original missing all the same (lost outside OPAA) is listed in the manifest
    under ``missing_objects``.
    """
    database = database or Database.from_settings()
    storage = storage or default_storage
    _reads_every_row(database)
    if organization is None:
        organizations, schema, prefix = _organizations(database), None, PREFIX
    else:
        organizations = _organizations(database, organization)
        if not organizations or organizations[0]["status"] == "spare":
            raise BackupError(f"There is no organization {organization!r}.")
        schema = organizations[0]["schema"]
        prefix = f"{PREFIX}{schema}/"
    destination.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    name = archive_name(started, organization)
    with (
        tempfile.TemporaryDirectory(dir=destination) as work,
        _consistency_point(database) as (snapshot, db),
    ):
        dump = Path(work) / DUMP
        only = ["--schema", schema] if schema else []
        _run(
            [pg_tool("pg_dump"), "--format=custom", f"--snapshot={snapshot}", *only,
             "--file", str(dump), "-d", database.conninfo()],
            database,
        )  # fmt: skip
        named = _document_keys(db, [schema] if schema else _schemas(db))
        listed = objects_in(storage, prefix)
        # Other objects than originals (none today) are copied as listed.
        keys = sorted(
            named.intersection(listed) | {k for k in listed if not DOCUMENT_KEY.fullmatch(k)}
        )
        manifest = {
            "format": FORMAT,
            "scope": SCOPE_ORGANIZATION if schema else SCOPE_INSTALLATION,
            "opaa_version": _opaa_version(),
            "created_at": started.isoformat(),
            "database": {"file": DUMP, "size": dump.stat().st_size, "sha256": _sha256_file(dump)},
            **_describe(database, schema),
            "organizations": organizations,
            "objects": [],
            "missing_objects": sorted(named.difference(listed)),
        }
        archive = destination / name
        partial = archive.with_suffix(".tar.partial")
        with tarfile.open(partial, "w") as tar:
            tar.add(dump, arcname=DUMP)
            for key in keys:
                with storage.open(key, "rb") as handle:
                    data = handle.read()
                manifest["objects"].append(
                    {"key": key, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                )
                _tar_bytes(tar, OBJECTS + key, data)
            manifest["finished_at"] = datetime.now(UTC).isoformat()
            _tar_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
        partial.rename(archive)  # only a complete archive ever carries the final name
    return BackupResult(path=archive, manifest=manifest)


def archive_name(started: datetime, organization: str | None = None) -> str:
    """``opaa-backup-<UTC time>.tar``, or ``opaa-backup-org-<slug>-<UTC time>.tar``."""
    scope = f"org-{slug_checked(organization)}-" if organization else ""
    return f"{ARCHIVE_PREFIX}{scope}{started:%Y%m%dT%H%M%SZ}.tar"


def objects_in(storage: Storage, prefix: str = PREFIX) -> list[str]:
    """Every key under ``prefix`` in ``storage`` (the configured one, or another)."""
    if storage is default_storage:
        return objects_under(prefix)
    # Another storage (e.g. in a test): walk it the same way.
    return objects_walk(storage, prefix)


def _tar_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


def _safe_member(name: str) -> bool:
    path = Path(name)
    return not path.is_absolute() and ".." not in path.parts


def backup_manifest(archive: Path) -> dict:
    """The archive's manifest, unchecked (``backup_verify`` checks it)."""
    try:
        with tarfile.open(archive, "r") as tar:
            try:
                member = tar.extractfile(MANIFEST)
            except KeyError:
                member = None
            if member is None:
                raise BackupError("This archive has no manifest.json: it is not an OPAA backup.")
            manifest = json.loads(member.read())
    except (tarfile.TarError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BackupError(f"This file is not an OPAA backup archive ({exc}).") from exc
    if not isinstance(manifest, dict):
        raise BackupError("This archive's manifest.json is not an OPAA manifest.")
    if manifest.get("format") != FORMAT:
        raise BackupError(f"Unsupported backup format {manifest.get('format')!r}.")
    return manifest


def backup_verify(archive: Path) -> dict:
    """The archive's manifest, after checking every checksum in it; BackupError if any fails."""
    manifest = backup_manifest(archive)
    with tarfile.open(archive, "r") as tar:
        names = set(tar.getnames())
        expected = {DUMP: manifest["database"]["sha256"]}
        expected.update({OBJECTS + o["key"]: o["sha256"] for o in manifest["objects"]})
        for name, sha256 in expected.items():
            if name not in names or not _safe_member(name):
                raise BackupError(f"The archive lacks {name}.")
            digest = hashlib.sha256()
            member = tar.extractfile(name)
            for block in iter(lambda m=member: m.read(1 << 20), b""):
                digest.update(block)
            if digest.hexdigest() != sha256:
                raise BackupError(f"{name} does not match its checksum: the archive is damaged.")
    return manifest


def _database_empty(database: Database) -> bool:
    rows = _psql(
        database,
        "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', "
        "'information_schema')",
    )
    return rows[0][0] == "0"


def backup_restore(
    *,
    archive: Path,
    database: Database | None = None,
    storage: Storage | None = None,
    keep_owners: bool = True,
) -> dict:
    """Restore ``archive`` into an empty database and storage; returns its manifest.

    Every checksum is verified first. ``keep_owners=False`` restores every object as the
    connecting role, for a server without the original's roles. Raises BackupError.
    """
    database = database or Database.from_settings()
    storage = storage or default_storage
    manifest = backup_verify(archive)
    if manifest.get("scope", SCOPE_INSTALLATION) != SCOPE_INSTALLATION:
        slug = manifest["organizations"][0]["slug"]
        raise BackupError(
            f"This archive holds only the organization {slug!r}: restore it into a running "
            "installation with manage.py restore <archive> (docs/operations.md)."
        )
    if not _database_empty(database):
        raise BackupError("The target database is not empty; restore into a new one.")
    if objects_in(storage):
        raise BackupError("The target storage already holds objects under org/.")
    with tempfile.TemporaryDirectory() as work, tarfile.open(archive, "r") as tar:
        dump = Path(work) / DUMP
        with tar.extractfile(DUMP) as source, dump.open("wb") as target:
            shutil.copyfileobj(source, target)
        # Every entry but the extensions' comments: only an extension's owner (a
        # superuser) may set those, and the schema owner restores without being one.
        entries = _run([pg_tool("pg_restore"), "--list", str(dump)], database).splitlines()
        listing = Path(work) / "restore.list"
        listing.write_text(
            "".join(f"{line}\n" for line in entries if " COMMENT - EXTENSION " not in line)
        )
        owners = [] if keep_owners else ["--no-owner", "--no-privileges"]
        pg_restore(database, dump, *owners, "--use-list", str(listing))
        for item in manifest["objects"]:
            data = tar.extractfile(OBJECTS + item["key"]).read()
            saved = storage.save(item["key"], ContentFile(data))
            if saved != item["key"]:
                raise BackupError(f"Storage renamed {item['key']} to {saved}.")
    connection.close()  # the next query sees the restored database afresh
    return manifest


# --- Archives in an S3 bucket ------------------------------------------------------------

S3_SCHEME = "s3://"


@dataclass(frozen=True)
class S3Location:
    """``s3://bucket/prefix``: where archives are kept (``prefix`` may be empty), or, when
    the path ends in ``.tar``, one archive."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> S3Location:
        if not url.startswith(S3_SCHEME):
            raise BackupError(f"Not an S3 location: {url!r}; write s3://bucket/prefix.")
        bucket, _, prefix = url[len(S3_SCHEME) :].partition("/")
        # Bucket names: 3-63 lowercase letters, digits, dots and hyphens.
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
            raise BackupError(f"Not a valid bucket name in {url!r}.")
        prefix = prefix.strip("/")
        if ".." in prefix.split("/"):
            raise BackupError(f"The prefix in {url!r} may not contain '..'.")
        return cls(bucket=bucket, prefix=prefix)

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def __str__(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.prefix}".rstrip("/")


def s3_client():
    """A boto3 S3 client with the installation's S3 settings (``S3_ENDPOINT_URL``,
    ``S3_REGION``, ``S3_ACCESS_KEY_ID``, ``S3_SECRET_ACCESS_KEY``) when originals are
    kept in S3; otherwise boto3's own chain (``AWS_*`` variables, an instance role)."""
    import boto3

    options = {}
    storage = settings.STORAGES.get("default", {})
    if storage.get("BACKEND") == "storages.backends.s3.S3Storage":
        configured = storage.get("OPTIONS", {})
        options = {
            "endpoint_url": configured.get("endpoint_url"),
            "region_name": configured.get("region_name"),
            "aws_access_key_id": configured.get("access_key"),
            "aws_secret_access_key": configured.get("secret_key"),
        }
    return boto3.client("s3", **{name: value for name, value in options.items() if value})


def _s3_failure(action: str, location: S3Location, exc: Exception) -> BackupError:
    # botocore's messages name the operation and the error code, never the credentials.
    from botocore.exceptions import ClientError

    # boto3's transfer errors wrap the ClientError that says what went wrong.
    while not isinstance(exc, ClientError) and isinstance(exc.__context__, Exception):
        exc = exc.__context__
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        detail = f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip(": ")
    else:
        detail = str(exc)
    return BackupError(f"Could not {action} {location}: {detail}")


def backup_upload(*, archive: Path, url: str, client=None) -> str:
    """Upload ``archive`` under ``url`` (``s3://bucket/prefix``); returns its ``s3://`` URL.

    A multipart upload streamed from disk; the stored size is checked afterwards.
    """
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    location = S3Location.parse(url)
    if location.prefix.endswith(".tar"):
        raise BackupError("--to takes a bucket and prefix; the archive's name is chosen here.")
    client = client or s3_client()
    key = location.key(archive.name)
    try:
        client.upload_file(str(archive), location.bucket, key)
        stored = client.head_object(Bucket=location.bucket, Key=key)["ContentLength"]
    except (Boto3Error, BotoCoreError, ClientError) as exc:
        raise _s3_failure("upload the backup to", location, exc) from exc
    if stored != archive.stat().st_size:
        raise BackupError(f"The upload to {location} is incomplete ({stored} bytes stored).")
    return f"{S3_SCHEME}{location.bucket}/{key}"


def backup_latest_key(*, location: S3Location, client, organization: str | None = None) -> str:
    """The newest archive directly under the prefix, by the UTC time in its name: of the
    whole installation, or, for ``organization``, that organization's own archives and
    the whole installation's (each holds it)."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    prefix = location.key("")
    keys = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=location.bucket, Prefix=prefix + ARCHIVE_PREFIX
        ):
            keys += [item["Key"] for item in page.get("Contents", [])]
    except (Boto3Error, BotoCoreError, ClientError) as exc:
        raise _s3_failure("list the backups in", location, exc) from exc
    archives = {}
    for key in keys:
        named = ARCHIVE_NAME.fullmatch(key[len(prefix) :])
        if named and named["slug"] in {None, organization}:
            archives[key] = named["time"]
    if not archives:
        which = f" holding the organization {organization!r}" if organization else ""
        raise BackupError(f"No backup archive{which} under {location}.")
    return max(archives, key=lambda key: (archives[key], key))


def backup_download(
    *, url: str, directory: Path, client=None, organization: str | None = None
) -> Path:
    """Download the archive ``url`` names (``s3://bucket/prefix/opaa-backup-....tar``), or
    the newest one under ``s3://bucket/prefix`` (holding ``organization`` when given),
    into ``directory``; returns its path."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    location = S3Location.parse(url)
    client = client or s3_client()
    if location.prefix.endswith(".tar"):
        key = location.prefix
    else:
        key = backup_latest_key(location=location, client=client, organization=organization)
    target = directory / Path(key).name
    try:
        client.download_file(location.bucket, key, str(target))
    except (Boto3Error, BotoCoreError, ClientError) as exc:
        raise _s3_failure(f"download {key} from", location, exc) from exc
    return target
