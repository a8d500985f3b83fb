"""Where originals are stored: keys are made by OPAA, never from a user's file name."""

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
    """Delete an original; a missing object is not an error (deletion is idempotent)."""
    if default_storage.exists(key):
        default_storage.delete(key)
