"""Changing who may read a document: the document, its chunks and the cache together.

The principal format and what a person may read live in ``workspaces.readers``.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction

from accounts.audit import AuditAction, AuditContext, audit_record
from ingestion.index import index_changed
from ingestion.models import Document
from workspaces.readers import readers_normalize


def document_readers_set(
    *, document: Document, readers: Iterable[str], audit: AuditContext | None
) -> Document:
    """Give ``document`` these readers (empty: every member of its workspace), audited.

    ``readers`` are validated and normalized (``user:<email>``, ``group:<slug>``); a bad
    one raises ValidationError and nothing changes (those the document already has are
    kept as they are). Whether each names a member or a group of the organization is
    checked where people type them (``workspaces.readers.readers_validate``).

    The document's chunks take the new readers in the same statement (a database
    trigger, ingestion migration 0007, copies them on every update of a document's
    readers), so a search sees either the old or the new readers on every chunk, never
    a mix; cached answers of the workspace are dropped once it commits. Setting the
    readers a document already has records nothing.
    """
    readers = list(readers)
    current = set(document.readers)
    # Readers the document already has stay as they are (a connector's principal, an
    # erased person's stand-in): saving the list unchanged must not fail on them.
    new = sorted(
        {r for r in readers if r in current}
        | set(readers_normalize([r for r in readers if r not in current]))
    )
    with transaction.atomic():
        locked = Document.objects.select_for_update().get(pk=document.pk)
        before = sorted(locked.readers)
        if before == new:
            return locked
        locked.readers = new
        locked.save(update_fields=["readers", "updated_at"])
        index_changed(workspace_id=locked.workspace_id, readers=True)
        audit_record(
            action=AuditAction.DOCUMENT_READERS_CHANGED,
            context=audit,
            target_type="document",
            target_id=locked.pk,
            extra={"workspace": document.workspace.slug, "readers": new, "previous": before},
        )
    document.readers = new
    return locked


# Where a person can be named as a reader (``workspaces.readers``): documents, their
# chunks, and the sources that set them.
READER_TABLES = ("ingestion_document", "ingestion_chunk", "ingestion_source")


def readers_pseudonymize(*, email: str, pseudonym: str) -> None:
    """Name an erased person by pseudonym in every reader list of the organization.

    Replaced, not removed: a list left empty would mean "every member may read".
    The stand-in matches nobody (``.invalid`` is a reserved domain). Chunks take their
    readers from their document (migrations 0007 and 0009) whatever this writes to them.
    """
    stand_in = f"user:{pseudonym}@erased.invalid"
    named = [f"user:{email}", email]
    with connection.cursor() as cursor:
        for table in READER_TABLES:
            cursor.execute(
                f"UPDATE {table} SET readers = "  # noqa: S608 - fixed table names
                "array_replace(array_replace(readers, %s, %s), %s, %s) "
                "WHERE readers && %s::varchar[]",
                [named[0], stand_in, named[1], stand_in, named],
            )
