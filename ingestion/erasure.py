"""Erasing documents: the one place it is done, with a hook for what other apps keep.

A document's row, chunks, vectors, postings, the titles in audit events and its stored
original are ingestion's own and erased here. What another app derived from documents
(search's answers citing them, its cached answers) is erased by a ``DocumentsErasure``
that app registers (``documents_erasure_register``, from its ``AppConfig.ready()``):
ingestion never imports the apps above it. With no hook registered, documents are still
erased completely as far as ingestion is concerned.
"""

from __future__ import annotations

from typing import Protocol

from django.db import models, transaction

from accounts.audit import AuditAction, AuditContext, audit_pseudonymize_target, audit_record
from ingestion.index import index_changed
from ingestion.models import Document, DocumentShare
from ingestion.sharing import SHARE_ENDED
from ingestion.storage import original_discard
from workspaces.models import Workspace


class DocumentsErasure(Protocol):
    """What another app erases with documents, inside ``documents_erase``'s transaction."""

    def before_delete(self, *, document_ids: list[int]) -> None:
        """The documents' rows are still there (and their chunks)."""

    def after_delete(self, *, workspace_id: int) -> None:
        """The rows are gone; called once per workspace that lost documents."""


_erasure_hooks: list[DocumentsErasure] = []


def documents_erasure_register(hook: DocumentsErasure) -> None:
    """Have ``hook`` called by every erasure of documents from now on; registering an
    equal hook again changes nothing."""
    if hook not in _erasure_hooks:
        _erasure_hooks.append(hook)


def document_delete(*, document: Document, audit: AuditContext | None = None) -> None:
    """Erase a document: row, chunks, vectors, postings, stored original (audited).

    Chunks and their vectors go with the row (ON DELETE CASCADE), postings with the
    chunks. The registered hooks erase what other apps derived from it (search: the
    answers that cited it are replaced by a notice and the workspace's cached answers
    are deleted). Events about it in the audit log keep ids only: its title and file
    name are dropped from them. The stored original (its key is per version: older
    versions were deleted when replaced) is deleted once the transaction commits, so a
    rollback never leaves a row without its file.
    """
    documents_erase(documents=Document.objects.filter(pk=document.pk), audit=audit)


def documents_erase(
    *, documents: models.QuerySet[Document], audit: AuditContext | None = None
) -> int:
    """Erase every document of ``documents`` as ``document_delete`` describes, in one
    transaction; returns how many. Each is audited on its own; the hooks run once for
    all of them before the rows go (search replaces the answers citing any of them),
    and once per workspace after (its index version moves on, search deletes its cached
    answers: a Redis scan each, not one per document)."""
    rows = list(documents.values_list("pk", "storage_key", "workspace_id", "workspace__slug"))
    if not rows:
        return 0
    with transaction.atomic():
        for document_id, _, _, workspace_slug in rows:
            audit_pseudonymize_target(
                target_type="document", target_id=document_id, fields=["title", "filename"]
            )
            audit_record(
                action=AuditAction.DOCUMENT_DELETED,
                context=audit,
                target_type="document",
                target_id=document_id,
                extra={"workspace": workspace_slug},
            )
        document_ids = [row[0] for row in rows]
        # Shares go with their documents (the database cascades); the workspaces they
        # were shared into lose answers and cached answers too.
        shares = list(
            DocumentShare.objects.filter(document_id__in=document_ids).values_list(
                "document_id", "workspace_id", "workspace__slug"
            )
        )
        for document_id, _, target_slug in shares:
            audit_record(
                action=SHARE_ENDED,
                context=audit,
                target_type="document",
                target_id=document_id,
                extra={"shared_into": target_slug, "reason": "the document was erased"},
            )
        for hook in _erasure_hooks:
            hook.before_delete(document_ids=document_ids)
        Document.objects.filter(pk__in=document_ids).delete()
        for workspace_id in sorted({row[2] for row in rows} | {share[1] for share in shares}):
            index_changed(workspace_id=workspace_id)
            for hook in _erasure_hooks:
                hook.after_delete(workspace_id=workspace_id)
        keys = [row[1] for row in rows]

        def originals_delete() -> None:
            # Committed: the rows are gone; an original the storage (down) or a running
            # backup keeps is deleted by the originals sweep.
            for key in keys:
                original_discard(key)

        transaction.on_commit(originals_delete)
    return len(rows)


def workspace_documents_erase(*, workspace: Workspace, audit: AuditContext | None = None) -> int:
    """Erase every document of ``workspace`` (``documents_erase``); returns how many.
    Registered by ``IngestionConfig.ready()`` as a content eraser of
    ``workspaces.services.workspace_delete``."""
    return documents_erase(documents=Document.objects.filter(workspace=workspace), audit=audit)
