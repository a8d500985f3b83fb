"""Upload and indexing of documents: the one place this logic lives.

Pipeline for one document: store original -> parse -> chunk -> embed -> write.
Each step is a small function; ``document_index`` orchestrates them.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import PurePath

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import InterfaceError, OperationalError, models, transaction
from django.utils import timezone

from accounts.audit import (
    AuditAction,
    AuditContext,
    audit_pseudonymize_target,
    audit_record,
)
from accounts.models import User
from infra import metrics
from infra.storage_errors import StorageUnavailable
from ingestion import parsers
from ingestion.chunking import ChunkDraft, chunk_sections
from ingestion.embedding import embed_texts
from ingestion.enqueue import document_enqueue_indexing
from ingestion.index import chunks_write, index_changed
from ingestion.language import detect_language
from ingestion.models import Chunk, Document, DocumentStatus
from ingestion.storage import OriginalMissing, original_discard, original_read, original_store
from search.erasure import answers_cache_delete, answers_citing_erase
from tenants import metering, quotas
from workspaces.models import Workspace
from workspaces.readers import reader_scope

logger = logging.getLogger(__name__)

# Seconds spent in each stage of ``document_index``, summed, while a caller (the
# ingestion benchmark) collects them with ``index_stage_timings``; None otherwise.
_stage_seconds: ContextVar[dict[str, float] | None] = ContextVar("stage_seconds", default=None)


@contextmanager
def index_stage_timings() -> Iterator[dict[str, float]]:
    """Collect seconds per indexing stage (fetch, parse, chunk, embed, language, write)."""
    totals: dict[str, float] = {}
    token = _stage_seconds.set(totals)
    try:
        yield totals
    finally:
        _stage_seconds.reset(token)


@contextmanager
def _stage(name: str) -> Iterator[None]:
    totals = _stage_seconds.get()
    started = time.perf_counter()
    try:
        yield
    finally:
        if totals is not None:
            totals[name] = totals.get(name, 0.0) + time.perf_counter() - started


class UploadRejected(ValidationError):
    """An upload refused before anything was stored; ``status_code`` is the HTTP answer."""

    def __init__(self, message: str, *, status_code: int = 400) -> None:
        super().__init__(message)
        self.status_code = status_code


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
        raise UploadRejected("The file is empty.")
    if check_size and size > settings.MAX_UPLOAD_BYTES:
        limit_mb = settings.MAX_UPLOAD_BYTES / (1024 * 1024)
        raise UploadRejected(
            f"The file is larger than the upload limit of {limit_mb:g} MB.", status_code=413
        )
    suffix = PurePath(filename).suffix.lower()
    if suffix not in parsers.SUPPORTED_EXTENSIONS:
        supported = ", ".join(sorted(parsers.SUPPORTED_EXTENSIONS))
        shown = suffix or "without an extension"
        raise UploadRejected(
            f"Files of type {shown} are not supported. Supported types: {supported}.",
            status_code=415,
        )


class UploadOutcome(models.TextChoices):
    CREATED = "created", "Uploaded, indexing has started."
    DUPLICATE = "duplicate", "Identical content is already here; nothing was stored."
    NEW_VERSION = "new_version", "Uploaded as a new version, indexing has started."


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


def _upload_new_version(*, previous: Document, file: UploadedFile, sha256: str, key: str) -> None:
    """Replace ``previous`` in place with new content: same id, version + 1, re-indexed."""
    old_key = previous.storage_key
    previous.storage_key = key
    previous.sha256 = sha256
    previous.size_bytes = file.size
    previous.version += 1
    previous.status = DocumentStatus.PENDING
    previous.error_message = ""
    previous.save()
    transaction.on_commit(lambda: original_discard(old_key))
    document_enqueue_indexing(document=previous)


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
                _upload_new_version(previous=previous, file=file, sha256=sha256, key=key)
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


def document_reindex(*, document: Document) -> None:
    """Queue ``document`` to be parsed and embedded again (e.g. retry after a failure)."""
    document.status = DocumentStatus.PENDING
    document.error_message = ""
    document.save(update_fields=["status", "error_message", "updated_at"])
    document_enqueue_indexing(document=document)


def _embedding_key(text: str) -> str:
    """The cache key of a text's vector: it changes with the model as with the text."""
    model = ":".join(
        [settings.EMBEDDING_PROVIDER, settings.EMBEDDING_MODEL, str(settings.EMBEDDING_DIMENSIONS)]
    )
    return hashlib.sha256(f"{model}\n{text}".encode()).hexdigest()


@dataclass(frozen=True)
class EmbeddedChunks:
    vectors: list[list[float]]
    # One per vector: the key it is cached under (``Chunk.content_sha256``).
    keys: list[str]
    # How many texts the model embedded (the others' vectors came from the cache).
    embedded: int


def chunks_embed(drafts: list[ChunkDraft], *, title: str, workspace_id: int) -> EmbeddedChunks:
    """Vectors for the chunks; each is embedded with its title and heading path for context.

    A chunk whose exact text (title and heading path included) the same model has
    already embedded in this workspace reuses that vector: re-indexing a document
    where one section changed sends only that section's chunks to the model.
    """
    texts = [" > ".join([title, *draft.heading_path]) + "\n" + draft.text for draft in drafts]
    keys = [_embedding_key(text) for text in texts]
    cached = dict(
        Chunk.objects.filter(workspace_id=workspace_id, content_sha256__in=set(keys))
        .order_by()
        .values_list("content_sha256", "embedding")
    )
    missing = list(dict.fromkeys(key for key in keys if key not in cached))
    if missing:
        text_of = dict(zip(keys, texts, strict=True))
        cached.update(zip(missing, embed_texts([text_of[key] for key in missing]), strict=True))
    vectors = [[float(value) for value in cached[key]] for key in keys]
    return EmbeddedChunks(vectors=vectors, keys=keys, embedded=len(missing))


def metadata_clean(values: dict) -> dict:
    """``values`` made JSON-safe: text, numbers, booleans and None kept, the rest as text."""
    return {
        str(key): value
        if value is None or isinstance(value, bool | int | float | str)
        else str(value)
        for key, value in values.items()
    }


def document_metadata(*, document: Document, parsed: parsers.ParsedDocument) -> dict:
    """The parser's metadata of this content, and the source's kept under ``source``."""
    metadata = metadata_clean(parsed.metadata)
    metadata.pop("source", None)
    source = (document.metadata or {}).get("source")
    if source:
        metadata["source"] = source
    return metadata


ORIGINAL_MISSING_REASON = (
    "The original file is no longer in the document storage, so it cannot be indexed: "
    "upload it again."
)
STORAGE_UNAVAILABLE_REASON = (
    "The stored original could not be read: the document storage is unavailable. "
    "Indexing is tried again automatically; if it stays failed, use Retry once the "
    "storage is back."
)


def _mark(document: Document, status: str, error: str = "") -> None:
    document.status = status
    document.error_message = error
    fields = ["status", "error_message", "updated_at"]
    if status == DocumentStatus.INDEXED:
        document.indexed_at = timezone.now()
        fields.append("indexed_at")
    document.save(update_fields=fields)


def document_index(*, document_id: int) -> Document | None:
    """Parse, chunk, embed and write one document; returns it, or None if it was deleted.

    Idempotent: running it twice replaces the chunks with identical ones. A file that
    cannot be parsed ends ``failed`` with a reason a user can read, and keeps no chunks;
    an unexpected error also ends ``failed`` (and is logged) rather than staying
    ``processing`` forever. The storage unavailable: ``failed`` with
    ``STORAGE_UNAVAILABLE_REASON``, and ``StorageUnavailable`` raised for the task to retry.
    """
    document = Document.objects.filter(pk=document_id).first()
    if document is None:
        return None
    started = time.perf_counter()
    _mark(document, DocumentStatus.PROCESSING)
    try:
        with _stage("fetch"):
            data = original_read(document.storage_key)
        with _stage("parse"):
            parsed = parsers.parse(data, filename=document.original_filename)
        with _stage("chunk"):
            drafts = chunk_sections(
                parsed.sections,
                max_tokens=settings.CHUNK_MAX_TOKENS,
                overlap_tokens=settings.CHUNK_OVERLAP_TOKENS,
            )
        if not drafts:
            raise parsers.ParseError("No text could be extracted from this file.")
        title = (parsed.title or document.title)[:500]
        with _stage("embed"):
            embedded = chunks_embed(drafts, title=title, workspace_id=document.workspace_id)
        with _stage("language"):
            language = detect_language("\n".join(draft.text for draft in drafts))
        with _stage("write"), transaction.atomic():
            document.title = title
            document.mime_type = parsed.mime_type or document.mime_type
            document.language = language
            document.metadata = document_metadata(document=document, parsed=parsed)
            document.save(
                update_fields=["title", "mime_type", "language", "metadata", "updated_at"]
            )
            chunks_write(
                document=document, drafts=drafts, vectors=embedded.vectors, keys=embedded.keys
            )
            _mark(document, DocumentStatus.INDEXED)
    except parsers.ParseError as exc:
        logger.info("document %s failed to parse: %s", document.pk, exc.reason)
        _mark(document, DocumentStatus.FAILED, exc.reason)
    except OriginalMissing:
        logger.warning("document %s: its original is missing from storage", document.pk)
        _mark(document, DocumentStatus.FAILED, ORIGINAL_MISSING_REASON)
    except StorageUnavailable:
        # Not stuck in "processing": failed with the reason, and the task tries again
        # with backoff (the original is kept; Retry works once the storage is back).
        _mark(document, DocumentStatus.FAILED, STORAGE_UNAVAILABLE_REASON)
        raise
    except (OperationalError, InterfaceError):
        raise  # the database went away: the task retries with backoff
    except SoftTimeLimitExceeded:
        logger.warning("document %s took too long to index", document.pk)
        _mark(
            document,
            DocumentStatus.FAILED,
            f"Indexing took longer than {settings.INDEX_TIME_LIMIT_S} seconds and was stopped: "
            "the file is too large or too complex.",
        )
    except Exception:
        logger.exception("document %s failed to index", document.pk)
        _mark(document, DocumentStatus.FAILED, "An internal error stopped indexing; it was logged.")
    metrics.document_indexed_observe(outcome=document.status, seconds=time.perf_counter() - started)
    return document


def document_index_abandon(*, document_id: int, attempts: int) -> None:
    """Fail a document whose indexing stopped its worker ``attempts`` times (killed past
    the hard time limit, or by the out-of-memory killer) instead of trying it again."""
    document = Document.objects.filter(pk=document_id).first()
    if document is None:
        return
    logger.warning("document %s abandoned after %s interrupted attempts", document.pk, attempts)
    _mark(
        document,
        DocumentStatus.FAILED,
        f"Indexing was interrupted {attempts} times (the worker was stopped: out of memory "
        "or past the time limit) and was given up: the file is too large or too complex.",
    )
    metrics.document_indexed_observe(outcome=document.status, seconds=0)


def document_delete(*, document: Document, audit: AuditContext | None = None) -> None:
    """Erase a document: row, chunks, vectors, postings, stored original (audited).

    Chunks and their vectors go with the row (ON DELETE CASCADE), postings with the
    chunks. Answers that cited it are replaced by a notice and the workspace's cached
    answers are deleted (``search.erasure``). Events about it in the audit log keep ids
    only: its title and file name are dropped from them. The stored original (its key
    is per version: older versions were deleted when replaced) is deleted once the
    transaction commits, so a rollback never leaves a row without its file.
    """
    documents_erase(documents=Document.objects.filter(pk=document.pk), audit=audit)


def documents_erase(
    *, documents: models.QuerySet[Document], audit: AuditContext | None = None
) -> int:
    """Erase every document of ``documents`` as ``document_delete`` describes, in one
    transaction; returns how many. Each is audited on its own; the answers citing any of
    them are replaced, and each workspace's cached answers invalidated and deleted, once
    for all of them (not once per document: a Redis scan each)."""
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
        answers_citing_erase(document_ids=document_ids)
        Document.objects.filter(pk__in=document_ids).delete()
        for workspace_id in sorted({row[2] for row in rows}):
            index_changed(workspace_id=workspace_id)
            answers_cache_delete(workspace_id=workspace_id)
        keys = [row[1] for row in rows]

        def originals_delete() -> None:
            # Committed: the rows are gone; an original the storage (down) or a running
            # backup keeps is deleted by the originals sweep.
            for key in keys:
                original_discard(key)

        transaction.on_commit(originals_delete)
    return len(rows)


def workspace_delete(*, workspace: Workspace, audit: AuditContext | None = None) -> int:
    """Erase a workspace with everything in it; returns how many documents went.

    Its documents are erased as ``documents_erase`` does (rows, chunks, vectors,
    postings, titles in audit events, stored originals once committed, answers citing
    them);
    then the workspace row takes its sources and sync runs, memberships, group roles,
    conversations, questions and feedback with it (ON DELETE CASCADE). Connectors stay
    (other workspaces' sources may use them). The default workspace is never deleted.
    """
    if workspace.is_default:
        raise ValidationError("The default workspace cannot be deleted.")
    with transaction.atomic():
        count = documents_erase(documents=Document.objects.filter(workspace=workspace), audit=audit)
        workspace.delete()
    logger.info("workspace deleted id=%s documents=%s", workspace.pk, count)
    return count
