"""Receiving uploads: validation, duplicates, new versions, the stored original.

An upload is checked (size, type, the plan's limits) before anything is stored, its
original stored, and its row written and queued for indexing (``ingestion.enqueue``)
in one transaction. ``document_replace`` is the one way a document's content is
replaced in place, for an upload's new version as for a sync's changed item.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import models, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.audit import AuditAction, AuditContext, audit_record
from accounts.models import User
from infra.errors import ApplicationError
from ingestion import parsers
from ingestion.enqueue import document_enqueue_indexing
from ingestion.models import Document, DocumentStatus
from ingestion.storage import original_discard, original_store
from tenants import metering, quotas
from workspaces.models import Workspace
from workspaces.readers import reader_scope

logger = logging.getLogger(__name__)


# Both bases type ``message`` (a str here, as ValidationError sets it for one message).
class UploadRejected(ApplicationError, ValidationError):  # type: ignore[misc]
    """An upload refused before anything was stored; ``status_code`` is the HTTP answer.

    An ``ApplicationError`` (answered as ``{"detail": message}`` with its status where
    no caller catches it) and still a ``ValidationError``: callers read ``.messages``.
    """

    def __init__(self, message: str, *, status_code: int = 400) -> None:
        super().__init__(message, status_code=status_code)


def _sha256(file: UploadedFile) -> str:
    digest = hashlib.sha256()
    for block in file.chunks():
        digest.update(block)
    file.seek(0)
    return digest.hexdigest()


def upload_validate(*, filename: str, size: int, check_size: bool = True) -> None:
    """Refuse what can never be indexed, before anything is stored.

    ``check_size`` False: the organization's plan sets its own upload size limit, which
    ``quotas.document_admit`` enforces instead of ``MAX_UPLOAD_BYTES``.
    """
    if size == 0:
        raise UploadRejected(_("The file is empty."))
    if check_size and size > settings.MAX_UPLOAD_BYTES:
        limit_mb = settings.MAX_UPLOAD_BYTES / (1024 * 1024)
        raise UploadRejected(
            _("The file is larger than the upload limit of %(limit)s MB.")
            % {"limit": f"{limit_mb:g}"},
            status_code=413,
        )
    suffix = PurePath(filename).suffix.lower()
    if suffix not in parsers.SUPPORTED_EXTENSIONS:
        supported = ", ".join(sorted(parsers.SUPPORTED_EXTENSIONS))
        shown = suffix or _("without an extension")
        raise UploadRejected(
            _("Files of type %(type)s are not supported. Supported types: %(supported)s.")
            % {"type": shown, "supported": supported},
            status_code=415,
        )


class UploadOutcome(models.TextChoices):
    CREATED = "created", gettext_lazy("Uploaded, indexing has started.")
    DUPLICATE = "duplicate", gettext_lazy("Identical content is already here; nothing was stored.")
    NEW_VERSION = "new_version", gettext_lazy("Uploaded as a new version, indexing has started.")


@dataclass(frozen=True)
class Upload:
    document: Document
    outcome: str


def document_upload(
    *,
    workspace: Workspace,
    user: User | None,
    file: UploadedFile,
    audit: AuditContext | None = None,
) -> Document:
    """``upload_receive``, for callers that need only the document."""
    return upload_receive(workspace=workspace, user=user, file=file, audit=audit).document


def _uploads_seen_by(workspace: Workspace, user: User | None) -> models.QuerySet[Document]:
    """The uploaded documents of ``workspace`` an upload by ``user`` may match, as a
    duplicate or as a new version: those ``user`` may read (all, for the system)."""
    uploads = Document.objects.filter(workspace=workspace, synced_from__isnull=True)
    if user is None:
        return uploads
    return uploads.filter(reader_scope(user, [workspace]).q())


def document_replace(*, document: Document, key: str, fields: dict) -> None:
    """Replace ``document``'s content in place with the original stored under ``key``:
    same id (links and citations stay valid), ``fields`` set, ``version`` + 1, queued
    for indexing once committed. The old original is deleted once committed, so a
    rollback never leaves the row without its file. For an upload's new version and a
    sync's changed item alike; the caller holds the row (``select_for_update``)."""
    old_key = document.storage_key
    document.storage_key = key
    for name, value in fields.items():
        setattr(document, name, value)
    document.version += 1
    document.save()
    transaction.on_commit(lambda: original_discard(old_key))
    document_enqueue_indexing(document=document)


def upload_receive(
    *,
    workspace: Workspace,
    user: User | None,
    file: UploadedFile,
    audit: AuditContext | None = None,
) -> Upload:
    """Store an uploaded original and queue it for indexing (audited as ``audit``).

    Content already uploaded to the workspace (same SHA-256) is not stored again: the
    existing document comes back as a ``duplicate``. A file with the name of an upload
    already there but new content replaces it in place (``new_version``: same id, so
    links and citations stay valid; the old original is deleted once committed).
    Nothing is stored for a rejected upload. If writing the row fails after the
    original was stored, the original is deleted again, so no orphan remains (or, the
    storage down by then, ``originals_sweep`` deletes it later). The storage unavailable
    raises ``StorageUnavailable`` (503) before any row is written. The indexing task is
    enqueued only once the row is committed.
    """
    filename = PurePath(file.name or "upload").name[:255]
    upload_validate(
        filename=filename, size=file.size or 0, check_size=quotas.upload_limit() is None
    )
    sha256 = _sha256(file)
    # A document the uploader may not read is neither revealed as a duplicate nor
    # replaced by a new version: for them it is not there.
    seen = _uploads_seen_by(workspace, user)
    duplicate = seen.filter(sha256=sha256).order_by("id").first()
    if duplicate is not None:
        return Upload(duplicate, UploadOutcome.DUPLICATE)
    replacing = seen.filter(original_filename=filename).exists()
    # The plan's limits (402 when reached), before anything is stored.
    quotas.document_admit(size=file.size or 0, new_document=not replacing)
    key = original_store(file)
    try:
        with transaction.atomic():
            previous = (
                seen.select_for_update().filter(original_filename=filename).order_by("-id").first()
            )
            if previous is not None:
                document_replace(
                    document=previous,
                    key=key,
                    fields={
                        "sha256": sha256,
                        "size_bytes": file.size,
                        "status": DocumentStatus.PENDING,
                        "error_message": "",
                    },
                )
                logger.info("document new version id=%s version=%s", previous.pk, previous.version)
                return Upload(previous, UploadOutcome.NEW_VERSION)
            document = Document.objects.create(
                workspace=workspace,
                title=PurePath(filename).stem[:500] or filename,
                original_filename=filename,
                storage_key=key,
                mime_type=mimetypes.guess_type(filename)[0] or "application/octet-stream",
                size_bytes=file.size,
                sha256=sha256,
                uploaded_by=user,
            )
            document_enqueue_indexing(document=document)
            metering.document_metered(size=file.size or 0)
            audit_record(
                action=AuditAction.DOCUMENT_UPLOADED,
                context=audit,
                target_type="document",
                target_id=document.pk,
                extra={"workspace": workspace.slug, "filename": filename, "size": file.size},
            )
    except Exception:
        original_discard(key)
        raise
    logger.info(
        "document uploaded id=%s workspace=%s size=%s", document.pk, workspace.pk, file.size
    )
    return Upload(document, UploadOutcome.CREATED)
