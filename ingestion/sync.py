"""``source_sync``: bring a source's documents up to date, idempotently and resumably.

For each item the connector lists (in id order, after the run's checkpoint):

- the stored change marker matches (mtime + size, ETag): **unchanged**, nothing is read
  or written;
- the marker differs but the content hash matches: unchanged, only the marker is saved;
- otherwise the bytes are stored as a new original and the document is created or
  replaced in place (same id, ``version`` + 1), then queued for parsing and embedding
  on the ``ingest`` queue.

Each item's document row, the run's counters and its checkpoint are written in **one
transaction**, and the indexing task is sent only after it commits. So a run killed at
any point resumes after the last item it committed, with no duplicate (a document is
unique per source and external id) and no loss (a document left pending is queued again
when its item is seen). Finally a full listing of the ids that still exist removes the
documents whose items are gone, all in one transaction through ``documents_erase``. A
source that cannot be listed at all fails the run; nothing is deleted then.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePath

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from infra import metrics
from ingestion.connectors import ConnectorError, Item, ItemError, connector_for
from ingestion.enqueue import document_enqueue_indexing, document_reindex
from ingestion.erasure import documents_erase
from ingestion.indexing import metadata_clean
from ingestion.locks import SourceRunGuard
from ingestion.models import Document, DocumentStatus, Source, SyncRun, SyncStatus, SyncTrigger
from ingestion.sources import UNFINISHED, source_spec
from ingestion.storage import original_discard, original_store
from ingestion.uploads import UploadRejected, document_replace, upload_validate
from tenants import quotas
from tenants.suspension import organization_is_active
from workspaces.readers import readers_coerce

logger = logging.getLogger(__name__)

# Enough to show what went wrong without letting one broken share bloat a row.
MAX_ITEM_ERRORS = 500
# Done with indexing: a searchable document's text is written; its vectors come from
# the embed queue, whose own beat sweep recovers a lost task (not a sync's business).
TERMINAL = (DocumentStatus.INDEXED, DocumentStatus.SEARCHABLE, DocumentStatus.FAILED)
# A document still pending after this long has lost its task: it is queued again. Long
# enough that documents merely waiting in a busy queue are not indexed twice.
STALLED_AFTER = timedelta(minutes=15)


class SyncBusy(Exception):
    """The source is being synced elsewhere, or no run slot is free: try again later."""


class SyncInterrupted(Exception):
    """This run lost its lock (it stalled past the TTL); whoever holds it now goes on."""


@dataclass(frozen=True)
class Known:
    id: int
    source_version: str
    sha256: str
    status: str
    # Pending or processing for long: its indexing task was lost (a worker died).
    stalled: bool = False


def source_sync(
    *,
    source_id: int,
    trigger: str = SyncTrigger.MANUAL,
    full: bool = False,
    only_unfinished: bool = False,
) -> SyncRun | None:
    """Run (or resume) the source's unfinished sync; start one if there is none.

    With ``only_unfinished`` (the Celery task), nothing is started when no run is queued
    or running: a task sent twice for one request does not make a second run.

    Holds the source's Redis lock and a run slot for the whole run (renewed in the
    background); raises SyncBusy when either is taken, so the task retries later. Returns the
    run, or None when the source no longer exists.
    """
    if not organization_is_active():
        logger.info("sync skipped: organization suspended source=%s", source_id)
        return None  # its run stays queued and resumes when the organization does
    source = Source.objects.select_related("connector", "workspace").filter(pk=source_id).first()
    if source is None:
        return None
    guard = SourceRunGuard(source.pk)
    if not guard.acquire():
        raise SyncBusy(f"source {source.pk} is busy")
    try:
        run = source.runs.filter(status__in=UNFINISHED).order_by("id").first()
        if run is None and only_unfinished:
            return None
        if run is None:
            run = SyncRun.objects.create(source=source, trigger=trigger, full=full)
        return _run_execute(source, run, guard)
    finally:
        guard.release()


def _run_execute(source: Source, run: SyncRun, guard: SourceRunGuard) -> SyncRun:
    now = _run_start(source, run)
    connector = connector_for(source.connector.kind)
    try:
        spec = source_spec(source)
        known = _known_load(source, stalled_before=now - STALLED_AFTER)
        _total_set(run, sum(1 for _ in connector.items(spec, after=run.checkpoint)))
        for item in connector.items(spec, after=run.checkpoint):
            if not guard.held():
                raise SyncInterrupted(f"run {run.pk} lost its lock")
            _item_sync(source, run, item, known.get(item.external_id))
        _vanished_erase(source, run, present={item.external_id for item in connector.items(spec)})
    except ConnectorError as exc:
        return _run_failed(source, run, exc.reason)
    return _run_succeeded(source, run)


def _total_set(run: SyncRun, left: int) -> None:
    """How many items the run will have seen in all, once a listing has counted those left.

    Listing reads no content (an item's bytes are fetched only when it is synced), so
    counting first costs one more listing and lets the portal show true progress and an
    estimate of the time left from the start of a first sync.
    """
    run.total = run.seen + left
    run.save(update_fields=["total"])


def _run_start(source: Source, run: SyncRun) -> datetime:
    """Mark ``run`` running (a resumed one queues again what it left pending); returns now."""
    resumed = run.status == SyncStatus.RUNNING
    now = timezone.now()
    run.status = SyncStatus.RUNNING
    run.started_at = run.started_at or now
    run.heartbeat_at = now
    run.save(update_fields=["status", "started_at", "heartbeat_at"])
    logger.info(
        "sync %s source=%s run=%s after=%r",
        "resumed" if resumed else "started",
        source.pk,
        run.pk,
        run.checkpoint,
    )
    if resumed:
        _requeue_unfinished(source, run)
    return now


def _known_load(source: Source, *, stalled_before: datetime) -> dict[str, Known]:
    """The source's documents by external id, as a sync compares items with them."""
    return {
        row["external_id"]: Known(
            row["id"],
            row["source_version"],
            row["sha256"],
            row["status"],
            stalled=row["status"] not in TERMINAL and row["updated_at"] < stalled_before,
        )
        for row in source.documents.values(
            "id", "external_id", "source_version", "sha256", "status", "updated_at"
        )
    }


def _vanished_erase(source: Source, run: SyncRun, *, present: set[str]) -> None:
    """Erase the source's documents whose items are no longer ``present``, in one
    transaction (``documents_erase``), and count them as the run's ``deleted``."""
    stored = dict(source.documents.values_list("external_id", "id"))
    gone = [
        document_id for external_id, document_id in stored.items() if external_id not in present
    ]
    count = documents_erase(documents=Document.objects.filter(pk__in=gone))
    if count:
        SyncRun.objects.filter(pk=run.pk).update(deleted=F("deleted") + count)


def _run_succeeded(source: Source, run: SyncRun) -> SyncRun:
    run.refresh_from_db()
    run.status = SyncStatus.SUCCEEDED
    run.finished_at = timezone.now()
    run.total = run.seen
    run.save(update_fields=["status", "finished_at", "total"])
    Source.objects.filter(pk=source.pk).update(consecutive_failures=0, flagged=False)
    metrics.sync_run_observe(outcome=SyncStatus.SUCCEEDED)
    logger.info(
        "sync finished source=%s run=%s seen=%s added=%s updated=%s unchanged=%s "
        "deleted=%s failed=%s",
        source.pk,
        run.pk,
        run.seen,
        run.added,
        run.updated,
        run.unchanged,
        run.deleted,
        run.failed,
    )
    return run


def _run_failed(source: Source, run: SyncRun, reason: str) -> SyncRun:
    run.refresh_from_db()
    run.status = SyncStatus.FAILED
    run.error_message = reason
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error_message", "finished_at"])
    Source.objects.filter(pk=source.pk).update(consecutive_failures=F("consecutive_failures") + 1)
    source.refresh_from_db(fields=["consecutive_failures", "flagged"])
    metrics.sync_run_observe(outcome=SyncStatus.FAILED)
    logger.warning("sync failed source=%s run=%s: %s", source.pk, run.pk, reason)
    if source.consecutive_failures >= settings.SYNC_FLAG_AFTER_FAILURES and not source.flagged:
        source.flagged = True
        source.save(update_fields=["flagged"])
        logger.error(
            "source flagged source=%s workspace=%s after %s failed runs in a row",
            source.pk,
            source.workspace_id,
            source.consecutive_failures,
        )
    return run


def _requeue_unfinished(source: Source, run: SyncRun) -> None:
    """Queue again what the interrupted part of a run left pending (its task may be lost).

    Indexing is idempotent, so a document whose task did survive is merely indexed twice.
    """
    left = source.documents.exclude(status__in=TERMINAL).filter(external_id__lte=run.checkpoint)
    for document_id in left.values_list("id", flat=True):
        with transaction.atomic():
            _reindex(document_id)()


def _item_sync(source: Source, run: SyncRun, item: Item, known: Known | None) -> None:
    """Sync one item and advance the checkpoint past it, in one transaction.

    An item that fails alone (unreadable, refused, or an unexpected error, which is
    logged) is counted and recorded; the run goes on. Database errors propagate: the
    task retries, and the run resumes at this item.
    """
    try:
        outcome, error, write = _item_plan(source, run, item, known)
        _item_record(source, run, item, outcome, error, write)
    except (OperationalError, InterfaceError):
        raise
    except Exception:
        logger.exception("sync item crashed source=%s item=%r", source.pk, item.name)
        run.refresh_from_db()
        error = "An internal error stopped this item; it was logged."
        _item_record(source, run, item, "failed", error, None)


def _item_record(source: Source, run: SyncRun, item: Item, outcome: str, error: str, write):
    try:
        with transaction.atomic():
            if write is not None:
                write()
            run.seen += 1
            run.checkpoint = item.external_id
            run.heartbeat_at = timezone.now()
            setattr(run, outcome, getattr(run, outcome) + 1)
            fields = ["seen", "checkpoint", "heartbeat_at", outcome]
            if error:
                if len(run.item_errors) < MAX_ITEM_ERRORS:
                    run.item_errors = [*run.item_errors, {"item": item.external_id, "error": error}]
                    fields.append("item_errors")
                logger.info("sync item failed source=%s item=%r: %s", source.pk, item.name, error)
            run.save(update_fields=fields)
    except BaseException:
        # Nothing of the item committed (the database may go away after its document row
        # was written): its new original would be an object no row points to.
        stored = getattr(write, "stored_key", None)
        if stored:
            try:
                original_discard(stored)
            except (OperationalError, InterfaceError):  # deleting needs the database too
                logger.warning("original left for the sweep (database unavailable): %s", stored)
        raise


def _item_plan(source: Source, run: SyncRun, item: Item, known: Known | None):
    """(counter to raise, error for people, the write to do in the item's transaction)."""
    if item.refused:
        return "failed", item.refused, None
    if known and item.version and known.source_version == item.version:
        return _item_unchanged_plan(run, known)
    fetched = _item_fetch_admitted(item, known)
    if isinstance(fetched, str):
        return "failed", fetched, None
    data = fetched
    sha256 = hashlib.sha256(data).hexdigest()
    if known and known.sha256 == sha256 and not run.full:
        return "unchanged", "", _item_remember(item, known)
    key = original_store(ContentFile(data))
    return ("updated" if known else "added"), "", _document_write(source, item, known, data, key)


def _item_unchanged_plan(run: SyncRun, known: Known):
    """The item's change marker matches: nothing is read; re-indexed only when the run
    is full or the document's indexing task was lost."""
    if run.full:
        return "updated", "", _reindex(known.id)
    if known.stalled:
        return "unchanged", "", _reindex(known.id)
    return "unchanged", "", None


def _item_fetch_admitted(item: Item, known: Known | None) -> bytes | str:
    """The item's bytes, once its name, size and the plan's limits admit it; or the
    reason (for people) why it fails alone."""
    try:
        upload_validate(filename=item.name, size=item.size if item.size is not None else 1)
        data = item.fetch()
        upload_validate(filename=item.name, size=len(data))
        # The plan's documents, storage and file size (the item fails alone when reached).
        quotas.document_admit(size=len(data), new_document=known is None)
    except quotas.QuotaExceeded as exc:
        return exc.message
    except (UploadRejected, ItemError) as exc:
        return exc.messages[0] if isinstance(exc, UploadRejected) else exc.reason
    return data


def _item_remember(item: Item, known: Known):
    """Touched but not changed: the write that remembers the new marker, indexes nothing."""

    def remember() -> None:
        Document.objects.filter(pk=known.id).update(source_version=item.version)
        # The source may change who reads an item without changing its bytes (a new
        # Confluence restriction): the readers are written, and the chunks with them.
        readers = readers_coerce(item.readers)
        regranted = Document.objects.filter(pk=known.id).exclude(readers=readers)
        if regranted.update(readers=readers) or known.stalled:
            _reindex(known.id)()

    return remember


def _reindex(document_id: int):
    return lambda: document_reindex(document=Document.objects.get(pk=document_id))


def _document_write(source: Source, item: Item, known: Known | None, data: bytes, key: str):
    sha256 = hashlib.sha256(data).hexdigest()

    def write() -> None:
        fields = {
            "workspace_id": source.workspace_id,
            "source": source.connector.kind,
            "original_filename": item.name[:255],
            "mime_type": mimetypes.guess_type(item.name)[0] or "application/octet-stream",
            "size_bytes": len(data),
            "sha256": sha256,
            "source_version": item.version,
            "readers": readers_coerce(item.readers),
            # What the source says of the item (its URL...); the parser's part is added
            # when it is indexed.
            "metadata": {"source": metadata_clean(item.metadata)},
            "status": DocumentStatus.PENDING,
            "error_message": "",
        }
        if known is None:
            document = Document.objects.create(
                synced_from=source,
                external_id=item.external_id,
                title=PurePath(item.name).stem[:500] or item.name[:500],
                storage_key=key,
                **fields,
            )
            document_enqueue_indexing(document=document)
        else:
            document = Document.objects.select_for_update().get(pk=known.id)
            document_replace(document=document, key=key, fields=fields)

    # Deleted by _item_record when the item's transaction does not commit.
    write.stored_key = key  # type: ignore[attr-defined]
    return write
