"""Backup and restore of a whole installation: one archive, checked on the way back.

An archive (``opaa-backup-<UTC time>.tar``) holds:

- ``database.dump``: ``pg_dump --format=custom`` of the whole database (every
  organization's schema and the public one), one consistent snapshot;
- ``objects/<key>``: every stored object under ``org/`` (originals of documents),
  copied from the configured storage (local disk or S3) after the dump, so every
  object the dump refers to is there unless it was deleted in between;
- ``manifest.json``: format, OPAA version, time, database server version, schemas and
  organizations, the last migration of each app, and the size and SHA-256 of the dump
  and of every object.

``backup_restore`` verifies every checksum before it touches anything, refuses a
database or storage that is not empty, then restores the dump with ``pg_restore`` and
writes the objects back under their keys.
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
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage
from django.db import connection

from ingestion.storage import objects_under
from opaa.settings.env import DATA_DIR

FORMAT = 1
# pgserver's superuser, reachable on the embedded server's Unix socket only.
EMBEDDED_SUPERUSER = "postgres"
MANIFEST = "manifest.json"
DUMP = "database.dump"
OBJECTS = "objects/"
PREFIX = "org/"


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


def _psql(database: Database, sql: str) -> list[list[str]]:
    out = _run(
        [pg_tool("psql"), "-X", "-A", "-t", "-F", "\t", "-d", database.conninfo(), "-c", sql],
        database,
    )
    return [line.split("\t") for line in out.splitlines() if line]


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


def _describe(database: Database) -> dict:
    schemas = [
        row[0]
        for row in _psql(
            database,
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
            "AND nspname <> 'information_schema' ORDER BY 1",
        )
    ]
    organizations = [
        {"slug": slug, "schema": schema}
        for slug, schema in _psql(
            database, "SELECT slug, schema_name FROM public.tenants_organization ORDER BY 1"
        )
    ]
    migrations = dict(
        _psql(
            database,
            "SELECT app, max(name) FROM public.django_migrations GROUP BY app ORDER BY app",
        )
    )
    version = _psql(database, "SHOW server_version")[0][0]
    return {
        "server_version": version,
        "schemas": schemas,
        "organizations": organizations,
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


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: dict


def backup_create(
    *,
    destination: Path,
    database: Database | None = None,
    storage: Storage | None = None,
) -> BackupResult:
    """Write one archive of the database and the stored objects into ``destination``.

    The dump is one snapshot (pg_dump runs in a single repeatable-read transaction);
    writes going on meanwhile are in the backup or not, never half. Stored objects are
    write-once (a new version of a document gets a new key), so copying them after the
    dump finds every one the dump names, except one deleted in between.
    """
    database = database or Database.from_settings()
    storage = storage or default_storage
    _reads_every_row(database)
    destination.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    name = f"opaa-backup-{started:%Y%m%dT%H%M%SZ}.tar"
    with tempfile.TemporaryDirectory(dir=destination) as work:
        dump = Path(work) / DUMP
        _run(
            [pg_tool("pg_dump"), "--format=custom", "--file", str(dump), "-d", database.conninfo()],
            database,
        )
        manifest = {
            "format": FORMAT,
            "opaa_version": _opaa_version(),
            "created_at": started.isoformat(),
            "database": {"file": DUMP, "size": dump.stat().st_size, "sha256": _sha256_file(dump)},
            **_describe(database),
            "objects": [],
        }
        archive = destination / name
        partial = archive.with_suffix(".tar.partial")
        with tarfile.open(partial, "w") as tar:
            tar.add(dump, arcname=DUMP)
            for key in _objects(storage):
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


def _objects(storage: Storage) -> list[str]:
    if storage is default_storage:
        return objects_under(PREFIX)
    # Another storage (e.g. in a test): walk it the same way.
    keys, pending = [], [PREFIX]
    while pending:
        folder = pending.pop()
        if not storage.exists(folder):
            continue
        folders, files = storage.listdir(folder)
        keys += [f"{folder}{f}" for f in files]
        pending += [f"{folder}{d}/" for d in folders]
    return sorted(keys)


def _tar_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


def _safe_member(name: str) -> bool:
    path = Path(name)
    return not path.is_absolute() and ".." not in path.parts


def backup_verify(archive: Path) -> dict:
    """The archive's manifest, after checking every checksum in it; BackupError if any fails."""
    with tarfile.open(archive, "r") as tar:
        names = set(tar.getnames())
        if MANIFEST not in names:
            raise BackupError("This archive has no manifest.json: it is not an OPAA backup.")
        manifest = json.loads(tar.extractfile(MANIFEST).read())
        if manifest.get("format") != FORMAT:
            raise BackupError(f"Unsupported backup format {manifest.get('format')!r}.")
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
    if not _database_empty(database):
        raise BackupError("The target database is not empty; restore into a new one.")
    if _objects(storage) if storage is not default_storage else objects_under(PREFIX):
        raise BackupError("The target storage already holds objects under org/.")
    with tempfile.TemporaryDirectory() as work, tarfile.open(archive, "r") as tar:
        dump = Path(work) / DUMP
        with tar.extractfile(DUMP) as source, dump.open("wb") as target:
            shutil.copyfileobj(source, target)
        argv = [pg_tool("pg_restore"), "--exit-on-error", "-d", database.conninfo()]
        if not keep_owners:
            argv[1:1] = ["--no-owner", "--no-privileges"]
        _run([*argv, str(dump)], database)
        for item in manifest["objects"]:
            data = tar.extractfile(OBJECTS + item["key"]).read()
            saved = storage.save(item["key"], ContentFile(data))
            if saved != item["key"]:
                raise BackupError(f"Storage renamed {item['key']} to {saved}.")
    connection.close()  # the next query sees the restored database afresh
    return manifest


# --- Archives in an S3 bucket ------------------------------------------------------------

S3_SCHEME = "s3://"
ARCHIVE_GLOB = "opaa-backup-"


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


def backup_latest_key(*, location: S3Location, client) -> str:
    """The newest archive directly under the prefix (names sort by their UTC time)."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    prefix = location.key("")
    keys = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=location.bucket, Prefix=prefix + ARCHIVE_GLOB
        ):
            keys += [item["Key"] for item in page.get("Contents", [])]
    except (Boto3Error, BotoCoreError, ClientError) as exc:
        raise _s3_failure("list the backups in", location, exc) from exc
    archives = [k for k in keys if k.endswith(".tar") and "/" not in k[len(prefix) :]]
    if not archives:
        raise BackupError(f"No backup archive under {location}.")
    return max(archives)


def backup_download(*, url: str, directory: Path, client=None) -> Path:
    """Download the archive ``url`` names (``s3://bucket/prefix/opaa-backup-....tar``), or
    the newest one under ``s3://bucket/prefix``, into ``directory``; returns its path."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    location = S3Location.parse(url)
    client = client or s3_client()
    if location.prefix.endswith(".tar"):
        key = location.prefix
    else:
        key = backup_latest_key(location=location, client=client)
    target = directory / Path(key).name
    try:
        client.download_file(location.bucket, key, str(target))
    except (Boto3Error, BotoCoreError, ClientError) as exc:
        raise _s3_failure(f"download {key} from", location, exc) from exc
    return target
