"""Indexing one document: the pipeline and its stages.

Pipeline for one document: fetch the stored original -> parse -> chunk -> write
(``ingestion.index``: text, words, postings, readers; the vectors the workspace already
has for the same text) -> "searchable". The vectors still missing are made afterwards,
batched across documents, by the embedding queue (``ingestion.embedding_queue``), which
makes the document "indexed" once its last one is in: a document is found by keyword
seconds after its upload, whatever the embedding backlog (issue 17). With
``INDEX_EMBED_INLINE`` the chunks are embedded before they are written, as before
(the baseline of ``bench/time_to_searchable.py``).

Each step is a small function; ``document_index`` orchestrates them. The task
``index_document`` calls it (through this module's attribute, so tests may wrap it).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext
from django.utils.translation import gettext_noop as _

from infra import metrics
from infra.storage_errors import StorageUnavailable
from ingestion import parsers
from ingestion.chunking import ChunkDraft, chunk_sections
from ingestion.embedding import EmbeddingError, active_model, embed_with, token_fit
from ingestion.embedding_index import (
    embedding_index_row,
    embedding_index_shared,
    embedding_move_due,
    embedding_text,
    wanted_model,
)
from ingestion.embedding_queue import embedding_enqueue, embedding_interruptions_clear
from ingestion.facts import facts_write
from ingestion.index import chunks_write
from ingestion.language import detect_language
from ingestion.models import Chunk, Document, DocumentStatus
from ingestion.parsers.base import reason_translated
from ingestion.stages import index_stage_timings, stage  # noqa: F401 (benchmarks import it here)
from ingestion.storage import OriginalMissing, original_read
from workspaces.rls.backend.base import search_path_once_per_transaction

logger = logging.getLogger(__name__)


def _embedding_key(text: str) -> str:
    """The cache key of a chunk's vector: the exact text embedded. The model is not in
    it: every vector of a column comes from one model (``Chunk.embedding`` from the
    active one, ``embedding_next`` from the one moved to, emptied when a move starts)."""
    return hashlib.sha256(text.encode()).hexdigest()


# Tokens left free in the model's window besides the chunk and its context: summing the
# tokens of a chunk's sentences may differ from the tokens of the whole by a few.
WINDOW_MARGIN = 4


def chunks_plan(sections, *, title: str) -> list[ChunkDraft]:
    """The document's chunks, sized so that each, with the title and heading path
    embedded with it, fits whole in the window of every local embedding model: counted
    with the models' own tokenizers (the most tokens any of them makes of a text), at
    most ``CHUNK_MAX_TOKENS``. A model switch then re-embeds chunks, never re-cuts them."""
    fit = token_fit()

    def room_for(heading_path: tuple[str, ...]) -> int:
        context = embedding_text(title, heading_path, "")
        return fit.room - fit.count(context) - WINDOW_MARGIN

    return chunk_sections(
        sections,
        max_tokens=settings.CHUNK_MAX_TOKENS,
        overlap_tokens=settings.CHUNK_OVERLAP_TOKENS,
        count=fit.count,
        room_for=room_for,
    )


@dataclass(frozen=True)
class EmbeddedChunks:
    # None for a chunk whose vector the embedding queue makes later.
    vectors: list[list[float] | None]
    # One per vector: the key it is cached under (``Chunk.content_sha256``).
    keys: list[str]
    # How many texts the models embedded (the others' vectors came from the cache).
    embedded: int
    # The model of ``vectors``; while the organization moves to another model, that
    # model and its vectors (``Chunk.embedding_next``).
    model: str = ""
    next_model: str = ""
    next_vectors: list[list[float] | None] | None = None


def _vectors_cached(
    texts: list[str], keys: list[str], *, model: str, field: str, workspace_id: int
) -> tuple[list[list[float]], int]:
    """Each text's vector: the workspace's for the same text, else embedded by ``model``
    now; and how many texts were embedded."""
    known = _vectors_known(keys, field=field, workspace_id=workspace_id)
    missing = list(
        dict.fromkeys(key for key, vector in zip(keys, known, strict=True) if not vector)
    )
    made: dict[str, list[float]] = {}
    if missing:
        text_of = dict(zip(keys, texts, strict=True))
        embedded = embed_with(model, [text_of[key] for key in missing], kind="passage")
        made = {
            key: [float(value) for value in vector]
            for key, vector in zip(missing, embedded, strict=True)
        }
    return [vector or made[key] for key, vector in zip(keys, known, strict=True)], len(missing)


def _vectors_known(keys: list[str], *, field: str, workspace_id: int) -> list[list[float] | None]:
    """The vectors the workspace already has for these texts (``field``: ``embedding``
    or ``embedding_next``), None for the others; no model is called."""
    known = dict(
        Chunk.objects.filter(
            workspace_id=workspace_id, content_sha256__in=set(keys), **{f"{field}__isnull": False}
        )
        .order_by()
        .values_list("content_sha256", field)
    )
    return [[float(value) for value in known[key]] if key in known else None for key in keys]


def chunks_vectors_known(
    drafts: list[ChunkDraft], *, title: str, workspace_id: int, next_model: str = ""
) -> EmbeddedChunks:
    """What ``chunks_embed`` would return without calling a model: each chunk's vector if
    the workspace has one for its exact text (an unchanged section of a new version, a
    duplicate), else None, which the embedding queue fills in later. Call inside the
    write transaction, after ``embedding_index_shared``: the vectors are the models' of
    that row."""
    texts = [embedding_text(title, draft.heading_path, draft.text) for draft in drafts]
    keys = [_embedding_key(text) for text in texts]
    vectors = _vectors_known(keys, field="embedding", workspace_id=workspace_id)
    next_vectors = (
        _vectors_known(keys, field="embedding_next", workspace_id=workspace_id)
        if next_model
        else None
    )
    return EmbeddedChunks(
        vectors=vectors,
        keys=keys,
        embedded=0,
        next_model=next_model,
        next_vectors=next_vectors,
    )


def chunks_embed(
    drafts: list[ChunkDraft],
    *,
    title: str,
    workspace_id: int,
    model: str | None = None,
    next_model: str = "",
) -> EmbeddedChunks:
    """Vectors for the chunks by ``model`` (the organization's active one by default),
    and by ``next_model`` too while the organization moves to it. Each chunk is
    embedded with its title and heading path for context, the title once
    (``embedding_index.embedding_text``).

    A chunk whose exact text (title and heading path included) the same model has
    already embedded in this workspace reuses that vector: re-indexing a document
    where one section changed sends only that section's chunks to the model.
    """
    model = model or active_model()
    texts = [embedding_text(title, draft.heading_path, draft.text) for draft in drafts]
    keys = [_embedding_key(text) for text in texts]
    vectors, embedded = _vectors_cached(
        texts, keys, model=model, field="embedding", workspace_id=workspace_id
    )
    next_vectors = None
    if next_model:
        next_vectors, more = _vectors_cached(
            texts, keys, model=next_model, field="embedding_next", workspace_id=workspace_id
        )
        embedded += more
    return EmbeddedChunks(
        vectors=vectors,
        keys=keys,
        embedded=embedded,
        model=model,
        next_model=next_model,
        next_vectors=next_vectors,
    )


def _embedding_models() -> tuple[str, str]:
    """(active, next) models to embed with; starts the move the organization's choice
    implies when none runs yet (``embedding_index.embedding_move_due``)."""
    row = embedding_index_row()
    if wanted_model(row) != (row.target_model or row.active_model):
        embedding_move_due()
        row = embedding_index_row()
    return row.active_model, row.target_model


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


ORIGINAL_MISSING_REASON = _(
    "The original file is no longer in the document storage, so it cannot be indexed: "
    "upload it again."
)
EMBEDDING_UNAVAILABLE_REASON = _(
    "The embedding endpoint did not answer after several tries (busy, failing or "
    "unreachable), so this document's passages could not be embedded. Retry indexes "
    "it again."
)
STORAGE_UNAVAILABLE_REASON = _(
    "The stored original could not be read: the document storage is unavailable. "
    "Indexing is tried again automatically; if it stays failed, use Retry once the "
    "storage is back."
)


def reason_shown(reason: str) -> str:
    """A stored failure reason (in the installation's language; the marked ones above
    and the parsers' are msgids) in the active language where translated; a parser's
    reason with values (``parsers.base.reason_template``) has its template and values
    translated. "" stays "" (gettext of "" would be the catalog's header)."""
    if not reason:
        return ""
    shown = gettext(reason)
    if shown != reason:
        return shown
    filled = reason_translated(reason, _value_shown)
    return reason if filled is None else filled


def _value_shown(value: str) -> str:
    """A value in a failure reason, as shown: a count ("2,001") in the active language's
    digits, a phrase of the catalog ("a PDF") translated, anything else as it is."""
    if re.fullmatch(r"\d{1,3}(?:,\d{3})*", value):
        return number_format(int(value.replace(",", "")), force_grouping=True)
    return gettext(value) if value else value


def _status_set(document: Document, status: str, error: str = "") -> list[str]:
    """Set the document's status (and error) in memory; returns the fields to save."""
    document.status = status
    document.error_message = error
    fields = ["status", "error_message", "updated_at"]
    if status == DocumentStatus.INDEXED:
        document.indexed_at = timezone.now()
        fields.append("indexed_at")
    return fields


def _mark(document: Document, status: str, error: str = "") -> None:
    document.save(update_fields=_status_set(document, status, error))


@search_path_once_per_transaction()
def document_index(*, document_id: int) -> Document | None:
    """Parse, chunk and write one document; returns it, or None if it was deleted.

    The chunks are written with the vectors the workspace already has for their exact
    text; if any is missing the document ends ``searchable`` and the embedding queue is
    sent for once the write commits (it makes the document ``indexed``), else it ends
    ``indexed`` at once. A changed text never keeps the vector of the old one: vectors
    are looked up by the hash of the very text embedded. With ``INDEX_EMBED_INLINE``
    every chunk is embedded first and the document ends ``indexed``.

    Idempotent: running it twice replaces the chunks with identical ones. A file that
    cannot be parsed ends ``failed`` with a reason a user can read, and keeps no chunks;
    an unexpected error also ends ``failed`` (and is logged) rather than staying
    ``processing`` forever. The storage unavailable: ``failed`` with
    ``STORAGE_UNAVAILABLE_REASON``, and ``StorageUnavailable`` raised for the task to retry.
    """
    started = time.perf_counter()
    # One transaction: outside one, each statement would be a transaction of its own
    # (with the row-level security setting and the search path sent for each).
    with transaction.atomic():
        document = Document.objects.filter(pk=document_id).first()
        if document is None:
            return None
        _mark(document, DocumentStatus.PROCESSING)
    try:
        with stage("fetch"):
            data = original_read(document.storage_key)
        with stage("parse"):
            parsed = parsers.parse(data, filename=document.original_filename)
        title = (parsed.title or document.title)[:500]
        with stage("chunk"):
            drafts = chunks_plan(parsed.sections, title=title)
        if not drafts:
            raise parsers.ParseError("No text could be extracted from this file.")
        inline = settings.INDEX_EMBED_INLINE
        with stage("embed"):
            model, next_model = _embedding_models()
            embedded = (
                chunks_embed(
                    drafts,
                    title=title,
                    workspace_id=document.workspace_id,
                    model=model,
                    next_model=next_model,
                )
                if inline
                else None
            )
        with stage("language"):
            language = detect_language("\n".join(draft.text for draft in drafts))
        with stage("write"), transaction.atomic():
            # The models may have changed while embedding (a move started or switched):
            # what is written matches the row, which stays as it is until the commit.
            row = embedding_index_shared()
            if embedded is None:
                embedded = chunks_vectors_known(
                    drafts,
                    title=title,
                    workspace_id=document.workspace_id,
                    next_model=row.target_model,
                )
            elif (row.active_model, row.target_model) != (embedded.model, embedded.next_model):
                embedded = chunks_embed(
                    drafts,
                    title=title,
                    workspace_id=document.workspace_id,
                    model=row.active_model,
                    next_model=row.target_model,
                )
            document.title = title
            document.mime_type = parsed.mime_type or document.mime_type
            document.language = language
            document.metadata = document_metadata(document=document, parsed=parsed)
            # The status it ends with, in the same UPDATE (nobody sees it before the
            # commit). Vectors of the next model missing are the move's to make, not the
            # queue's.
            missing = any(vector is None for vector in embedded.vectors)
            status = _status_set(
                document, DocumentStatus.SEARCHABLE if missing else DocumentStatus.INDEXED
            )
            document.save(update_fields=["title", "mime_type", "language", "metadata", *status])
            written = chunks_write(
                document=document,
                drafts=drafts,
                vectors=embedded.vectors,
                keys=embedded.keys,
                next_vectors=embedded.next_vectors,
            )
            facts_write(document=document, parsed=parsed, original=data, chunks_written=written)
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
    except EmbeddingError as exc:
        # Inline embedding only (INDEX_EMBED_INLINE): the provider already tried again
        # with backoff. The reason says what failed; the log says how (no key in it).
        logger.warning("document %s not embedded: %s", document.pk, exc)
        _mark(document, DocumentStatus.FAILED, EMBEDDING_UNAVAILABLE_REASON)
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
    # Searchable counts as indexed here: this task's work is done, the vectors follow.
    outcome = DocumentStatus.INDEXED if document.status == DocumentStatus.SEARCHABLE else None
    metrics.document_indexed_observe(
        outcome=outcome or document.status, seconds=time.perf_counter() - started
    )
    if document.status == DocumentStatus.SEARCHABLE:
        # New chunks: batches of the old ones that died count no more (a Retry of a
        # document whose embedding was given up starts afresh).
        embedding_interruptions_clear(document.pk)
    if document.status == DocumentStatus.SEARCHABLE and embedding_enqueue():
        # Tasks run in this process (eager): the vectors are in, the document indexed.
        document.refresh_from_db(fields=["status", "indexed_at", "updated_at"])
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
