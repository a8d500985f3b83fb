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

The modules: ``database`` (Postgres: its tools, the snapshot, what is read there),
``archive`` (writing, checking and restoring an archive) and ``s3`` (archives in a
bucket). Import from ``opaa.backup``.
"""

from opaa.backup.archive import (
    ARCHIVE_NAME,
    ARCHIVE_PREFIX,
    DOCUMENT_KEY,
    DUMP,
    FORMAT,
    MANIFEST,
    OBJECTS,
    PREFIX,
    SCOPE_INSTALLATION,
    SCOPE_ORGANIZATION,
    BackupResult,
    archive_name,
    backup_create,
    backup_manifest,
    backup_restore,
    backup_verify,
    objects_in,
)
from opaa.backup.database import (
    BACKUP_LOCK_TIMEOUT,
    EMBEDDED_SUPERUSER,
    BackupError,
    Database,
    pg_restore,
    pg_tool,
    psql_run,
    slug_checked,
)
from opaa.backup.s3 import (
    S3_SCHEME,
    S3Location,
    backup_download,
    backup_latest_key,
    backup_upload,
    s3_client,
)

__all__ = [
    "ARCHIVE_NAME",
    "ARCHIVE_PREFIX",
    "BACKUP_LOCK_TIMEOUT",
    "DOCUMENT_KEY",
    "DUMP",
    "EMBEDDED_SUPERUSER",
    "FORMAT",
    "MANIFEST",
    "OBJECTS",
    "PREFIX",
    "S3_SCHEME",
    "SCOPE_INSTALLATION",
    "SCOPE_ORGANIZATION",
    "BackupError",
    "BackupResult",
    "Database",
    "S3Location",
    "archive_name",
    "backup_create",
    "backup_download",
    "backup_latest_key",
    "backup_manifest",
    "backup_restore",
    "backup_upload",
    "backup_verify",
    "objects_in",
    "pg_restore",
    "pg_tool",
    "psql_run",
    "s3_client",
    "slug_checked",
]
