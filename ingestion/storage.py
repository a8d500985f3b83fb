"""Where originals are stored: keys are made by OPAA, never from a user's file name."""

import shutil
import uuid

from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import connection


def organization_prefix(schema_name: str | None = None) -> str:
    """The storage prefix every object of one organization lives under."""
    return f"org/{schema_name or connection.schema_name}/"


def original_store(file: File) -> str:
    """Save an uploaded original under a generated key in the current organization."""
    key = f"{organization_prefix()}documents/{uuid.uuid4().hex}"
    return default_storage.save(key, file)


def original_read(key: str) -> bytes:
    with default_storage.open(key, "rb") as handle:
        return handle.read()


def original_delete(key: str) -> None:
    """Delete an original; a missing object is not an error (deletion is idempotent).

    On S3 every stored version of the key goes, so a bucket with versioning enabled
    keeps no copy of an erased original.
    """
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
    if not prefix.endswith("/"):
        raise ValueError("a storage prefix ends with '/'")
    bucket = getattr(default_storage, "bucket", None)
    if bucket is not None:  # S3: one listing call per 1,000 keys
        return sorted(item.key for item in bucket.objects.filter(Prefix=prefix))
    keys: list[str] = []
    pending = [prefix]
    while pending:
        folder = pending.pop()
        if not default_storage.exists(folder):
            continue
        folders, files = default_storage.listdir(folder)
        keys += [f"{folder}{name}" for name in files]
        pending += [f"{folder}{name}/" for name in folders]
    return sorted(keys)


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
