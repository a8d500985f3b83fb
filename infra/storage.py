"""The storage layout: every object of an organization lives under ``org/<schema>/``.

Documents (``ingestion.storage``), backups (``opaa.backup``) and the erasure of an
organization (``tenants.services``) share it: the prefix, the walks over the objects
under a prefix, the deletion of one object or of all under a prefix, and
``BACKUP_LOCK``, which a running backup holds exclusively and a deletion of objects
takes shared, so an object is never deleted under a backup that still needs it.
"""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.core.files.storage import Storage, default_storage
from django.db import connection, transaction

from infra.storage_errors import storage_calls

# The Postgres advisory lock (one bigint, database-wide) a backup holds exclusively and a
# deletion of originals shared. Any fixed number no other lock uses: "OPAA" in ASCII.
BACKUP_LOCK = 0x4F504141


def organization_prefix(schema_name: str | None = None) -> str:
    """The storage prefix every object of one organization lives under."""
    return f"org/{schema_name or connection.schema_name}/"


@contextmanager
def deletion_allowed() -> Iterator[bool]:
    """True (and the backup lock held, shared, until the block's transaction ends)
    unless a backup is running. A backup starting meanwhile waits for the block to end,
    so its snapshot sees the deletion's rows gone. Inside an outer transaction the lock
    is held until that one ends."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock_shared(%s)", [BACKUP_LOCK])
        yield bool(cursor.fetchone()[0])


def object_delete(key: str) -> None:
    """Delete one object (on S3 every stored version of it); a missing one is no error."""
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


def objects_walk(storage: Storage, prefix: str) -> list[str]:
    """Every key under ``prefix`` in a folder-based ``storage`` (local disk), sorted."""
    keys: list[str] = []
    pending = [prefix]
    while pending:
        folder = pending.pop()
        if not storage.exists(folder):
            continue
        folders, files = storage.listdir(folder)
        keys += [f"{folder}{name}" for name in files]
        pending += [f"{folder}{name}/" for name in folders]
    return sorted(keys)


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
    keys = objects_walk(default_storage, prefix)
    return {key: default_storage.get_modified_time(key) for key in keys}


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
