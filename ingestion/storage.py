"""Where originals are stored: keys are made by OPAA, never from a user's file name.

Every call to the storage goes through ``storage_calls``: an outage raises
``StorageUnavailable`` (503 with Retry-After to a client; ``infra.storage_errors``). The
layout they live in (``org/<schema>/``) and the walks over it are ``infra.storage``.

Originals are write-once (a new version gets a new key). A running backup
(``opaa.backup``) holds ``BACKUP_LOCK`` exclusively from its database snapshot until it
has copied the objects that snapshot names; deleting an original takes the lock shared
(deletions do not exclude each other), so an original is never deleted under a backup
that still needs it. One
that could not be deleted then (a backup running, the storage down) stays until
``originals_sweep`` finds it belongs to no document and deletes it.
"""

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.utils import timezone

# Re-exported: tests list an organization's objects through this module.
from infra.storage import (
    deletion_allowed,
    object_delete,
    objects_modified_under,
    objects_under,  # noqa: F401
    organization_prefix,
)
from infra.storage_errors import StorageUnavailable, storage_calls
from ingestion.models import Document
from workspaces.rls import organization_scope

logger = logging.getLogger(__name__)


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


def original_delete(key: str) -> bool:
    """Delete an original; a missing object is not an error (deletion is idempotent).

    Returns False when it was kept because a backup is running (``originals_sweep``
    deletes it later, once no document names it). On S3 every stored version of the
    key goes, so a bucket with versioning enabled keeps no copy of an erased original.
    Raises ``StorageUnavailable`` when the storage is down.
    """
    with deletion_allowed() as allowed:
        if not allowed:
            logger.info("original kept while a backup runs; the sweep deletes it: %s", key)
            return False
        with storage_calls("delete an original"):
            object_delete(key)
    return True


def original_discard(key: str) -> None:
    """``original_delete`` after a commit (erasure, a replaced version): an outage of
    the storage is logged, not raised, since the rows are already gone; the object is
    left for ``originals_sweep``."""
    try:
        original_delete(key)
    except StorageUnavailable:
        logger.warning("original left for the sweep (storage unavailable): %s", key)


def originals_sweep(*, grace: timedelta | None = None) -> list[str] | None:
    """Delete the current organization's stored originals no document names any more
    (erased or replaced while the storage was down or a backup ran, or stored by an
    upload whose row was never written), once older than ``grace`` (default
    ``ORIGINALS_SWEEP_GRACE_S``); returns their keys, or None when a backup is running
    (nothing is deleted then).

    Reads every document of the organization (all workspaces: row-level security would
    otherwise hide some, and their originals would look orphaned). Idempotent.
    """
    prefix = f"{organization_prefix()}documents/"
    if grace is None:
        grace = timedelta(seconds=settings.ORIGINALS_SWEEP_GRACE_S)
    cutoff = timezone.now() - grace
    with organization_scope(), deletion_allowed() as allowed:
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
                object_delete(key)
    if orphans:
        logger.info("originals sweep deleted %s orphaned objects under %s", len(orphans), prefix)
    return orphans
