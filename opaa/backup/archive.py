"""The archive: writing one (``backup_create``), reading and checking it
(``backup_manifest``, ``backup_verify``), and restoring a whole installation from it
(``backup_restore``). The package docstring (``opaa.backup``) describes its contents."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage
from django.db import connection

from infra.storage import objects_under, objects_walk
from opaa.backup.database import (
    BackupError,
    Database,
    _consistency_point,
    _database_empty,
    _describe,
    _document_keys,
    _organizations,
    _reads_every_row,
    _run,
    _schemas,
    pg_restore,
    pg_tool,
    slug_checked,
)

FORMAT = 1
SCOPE_INSTALLATION = "installation"
SCOPE_ORGANIZATION = "organization"
MANIFEST = "manifest.json"
DUMP = "database.dump"
OBJECTS = "objects/"
PREFIX = "org/"
ARCHIVE_PREFIX = "opaa-backup-"
# Where documents' originals live: org/<schema>/documents/<key>.
DOCUMENT_KEY = re.compile(r"org/[^/]+/documents/[^/]+")
# opaa-backup-20261127T020000Z.tar or opaa-backup-org-acme-20261127T020000Z.tar
ARCHIVE_NAME = re.compile(
    r"opaa-backup-(?:org-(?P<slug>[-a-zA-Z0-9_]+)-)?(?P<time>\d{8}T\d{6}Z)\.tar"
)


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
