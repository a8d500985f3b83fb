"""Where originals are stored: keys are made by OPAA, never from a user's file name.

Every call to the storage goes through ``storage_calls``: an outage raises
``StorageUnavailable`` (503 with Retry-After to a client; ``ingestion.storage_errors``).

Originals are write-once (a new version gets a new key). A running backup
(``opaa.backup``) holds ``BACKUP_LOCK`` exclusively from its database snapshot until it
has copied the objects that snapshot names; deleting an original takes the lock shared
(deletions do not exclude each other), so an original is never deleted under a backup
that still needs it. One
that could not be deleted then (a backup running, the storage down) stays until
``originals_sweep`` finds it belongs to no document and deletes it.
"""

import logging
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

from ingestion.storage_errors import StorageUnavailable, storage_calls

logger = logging.getLogger(__name__)

# The Postgres advisory lock (one bigint, database-wide) a backup holds exclusively and a
# deletion of originals shared. Any fixed number no other lock uses: "OPAA" in ASCII.
BACKUP_LOCK = 0x4F504141


def organization_prefix(schema_name: str | None = None) -> str:
    """The storage prefix every object of one organization lives under."""
    return f"org/{schema_name or connection.schema_name}/"


def original_store(file: File) -> str:
    """Save an uploaded original under a generated key in the current organization."""
    key = f"{organization_prefix()}documents/{uuid.uuid4().hex}"
    with storage_calls("store an original"):
        return default_storage.save(key, file)


class OriginalMissing(Exception):
    """No object is stored under a document's key (deleted by hand, a bucket restored
    from an older copy): not an outage, and trying again will not help."""


def original_read(key: str) -> bytes:
    """The original's bytes. Raises ``OriginalMissing`` when no object has that key and
    ``StorageUnavailable`` when the storage is down."""
    from botocore.exceptions import ClientError

    try:
        with storage_calls("read an original"), default_storage.open(key, "rb") as handle:
            return handle.read()
    except FileNotFoundError as exc:
        raise OriginalMissing(key) from exc
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in {"404", "NoSuchKey"}:
            raise
        raise OriginalMissing(key) from exc


@contextmanager
def _deletion_allowed() -> Iterator[bool]:
    """True (and the backup lock held, shared, until the block's transaction ends)
    unless a backup is running. A backup starting meanwhile waits for the block to end,
    so its snapshot sees the deletion's rows gone. Inside an outer transaction the lock
    is held until that one ends."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock_shared(%s)", [BACKUP_LOCK])
        yield bool(cursor.fetchone()[0])


def original_delete(key: str) -> bool:
    """Delete an original; a missing object is not an error (deletion is idempotent).

    Returns False when it was kept because a backup is running (``originals_sweep``
    deletes it later, once no document names it). On S3 every stored version of the
    key goes, so a bucket with versioning enabled keeps no copy of an erased original.
    Raises ``StorageUnavailable`` when the storage is down.
    """
    with _deletion_allowed() as allowed:
        if not allowed:
            logger.info("original kept while a backup runs; the sweep deletes it: %s", key)
            return False
        with storage_calls("delete an original"):
            _object_delete(key)
    return True


def original_discard(key: str) -> None:
    """``original_delete`` after a commit (erasure, a replaced version): an outage of
    the storage is logged, not raised, since the rows are already gone; the object is
    left for ``originals_sweep``."""
    try:
        original_delete(key)
    except StorageUnavailable:
        logger.warning("original left for the sweep (storage unavailable): %s", key)


def _object_delete(key: str) -> None:
    bucket = getattr(default_storage, "bucket", None)
    if bucket is not None:
        versions = [
            {"Key": v.object_key, "VersionId": v.id}
            for v in bucket.object_versions.filter(Prefix=key)
            if v.object_key == key
        ]
        if versions:
            bucket.delete_objects(Delete={"Objects": versions})
        return
    if default_storage.exists(key):
        default_storage.delete(key)


def objects_under(prefix: str) -> list[str]:
    """Every key stored under ``prefix`` (recursively), sorted; on S3 and on local disk."""
    return sorted(objects_modified_under(prefix))


def objects_modified_under(prefix: str) -> dict[str, datetime]:
    """Every key stored under ``prefix`` (recursively) with when it was last written."""
    if not prefix.endswith("/"):
        raise ValueError("a storage prefix ends with '/'")
    bucket = getattr(default_storage, "bucket", None)
    if bucket is not None:  # S3: one listing call per 1,000 keys
        with storage_calls("list objects"):
            return {item.key: item.last_modified for item in bucket.objects.filter(Prefix=prefix)}
    keys: list[str] = []
    pending = [prefix]
    while pending:
        folder = pending.pop()
        if not default_storage.exists(folder):
            continue
        folders, files = default_storage.listdir(folder)
        keys += [f"{folder}{name}" for name in files]
        pending += [f"{folder}{name}/" for name in folders]
    return {key: default_storage.get_modified_time(key) for key in sorted(keys)}


def objects_delete_under(prefix: str) -> int:
    """Delete every object under ``prefix``; returns how many. Idempotent.

    On S3 every *version* of every object goes too (a bucket with versioning enabled
    would otherwise keep erased originals as noncurrent versions and delete markers).
    On local disk the emptied folders are removed as well.
    """
    if not prefix.startswith("org/") or not prefix.endswith("/") or ".." in prefix:
        raise ValueError(f"refusing to delete under {prefix!r}")
    bucket = getattr(default_storage, "bucket", None)
    if bucket is not None:
        versions = [
            {"Key": v.object_key, "VersionId": v.id}
            for v in bucket.object_versions.filter(Prefix=prefix)
        ]
        for start in range(0, len(versions), 1000):  # S3 deletes at most 1,000 per call
            bucket.delete_objects(Delete={"Objects": versions[start : start + 1000]})
        return len({v["Key"] for v in versions})
    keys = objects_under(prefix)
    for key in keys:
        default_storage.delete(key)
    shutil.rmtree(default_storage.path(prefix), ignore_errors=True)
    return len(keys)


def originals_sweep(*, grace: timedelta | None = None) -> list[str] | None:
    """Delete the current organization's stored originals no document names any more
    (erased or replaced while the storage was down or a backup ran, or stored by an
    upload whose row was never written), once older than ``grace`` (default
    ``ORIGINALS_SWEEP_GRACE_S``); returns their keys, or None when a backup is running
    (nothing is deleted then).

    Reads every document of the organization (all workspaces: row-level security would
    otherwise hide some, and their originals would look orphaned). Idempotent.
    """
    from ingestion.models import Document
    from workspaces.rls import organization_scope

    prefix = f"{organization_prefix()}documents/"
    if grace is None:
        grace = timedelta(seconds=settings.ORIGINALS_SWEEP_GRACE_S)
    cutoff = timezone.now() - grace
    with organization_scope(), _deletion_allowed() as allowed:
        if not allowed:
            return None
        stored = objects_modified_under(prefix)
        named = set(
            Document.objects.filter(storage_key__startswith=prefix).values_list(
                "storage_key", flat=True
            )
        )
        orphans = [key for key, written in stored.items() if key not in named and written < cutoff]
        with storage_calls("delete orphaned originals"):
            for key in orphans:
                _object_delete(key)
    if orphans:
        logger.info("originals sweep deleted %s orphaned objects under %s", len(orphans), prefix)
    return orphans
