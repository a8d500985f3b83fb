"""The embedding queue: vectors for chunks written without one, after they are searchable.

Indexing writes a document's text, words, postings and readers first
(``ingestion.indexing``): the document is found by keyword as soon as that commits, and
says "searchable" (``DocumentStatus.SEARCHABLE``). Its chunks that have no vector yet
(``Chunk.embedding`` empty) are embedded here, by the task ``ingestion.tasks.embed_chunks``
on its own Celery queue ``embed``, so a backlog of vectors never delays the next
upload's text. Meanwhile hybrid search uses the vectors there are: the vector ranking
skips chunks without one (``ingestion.index``).

- **Batches across documents.** A task takes the organization's oldest chunks without
  a vector, ``EMBED_BATCH_CHUNKS`` at a time whichever documents they belong to, embeds
  them with the organization's active model and commits them; then the documents with
  no chunk left to embed become ``indexed``. It goes on for ``EMBED_TASK_SECONDS``,
  then hands over: it sends the organization's next task to the back of the queue.
- **One organization does not hold up another.** At most one task per organization
  waits in the queue (a marker in Redis, ``opaa:embed-queued:<schema>``), so another
  organization's task is at most one task per organization away from the front; and a
  running task holds one of its worker's slots under the same fair share as indexing
  (``ingestion.fairness``, kind ``embed``): an organization over its share is sent to
  the back of the queue again. While there is more to do than one batch, a running task
  queues the organization's next one at once, so an organization alone uses every
  worker process its share allows.
- **Locks.** A batch's chunks are locked (``FOR UPDATE SKIP LOCKED``) while they are
  embedded, so two tasks never embed the same chunk, and a re-index or an erasure of
  their document waits for at most one batch. Only ``embedding`` is written: the
  readers trigger (ingestion migration 0009) is not involved, and a chunk replaced or
  erased meanwhile is simply gone (nothing is written back for it). Documents are
  marked ``indexed`` in a transaction of their own that locks their rows first, so a
  re-index writing new chunks (which holds the document row) is never taken for done.
- **At least once.** A worker killed mid-batch loses that batch (rolled back); the
  message comes back (acknowledged late) or beat's sweep (``embedding_sweep``, with the
  unqueued documents' every 5 minutes) sends the organization's task again.
- **Given up after ``MAX_INTERRUPTIONS``.** A document whose embedding keeps killing its
  worker (out of memory, SIGKILL) must neither come back for ever nor hold up the
  others. Each batch counts itself in Redis against its documents before it embeds
  (``opaa:embed-interrupted:<schema>``, a hash: document id to batches started and not
  ended); one that fails takes its count back, one that embeds clears its documents'
  counts: only batches whose worker died count. A running batch also holds a shared
  advisory lock on each of its documents (gone with its transaction or its worker's
  connection), and a document's count is judged only when no batch holds it: with
  several processes, batches sharing a document run at once, and their counts are not
  a dead worker's. A batch that would take chunks of such
  a document embeds
  that document's chunks alone, so the others of the batch that died go on as before;
  once a document's batches were interrupted ``MAX_INTERRUPTIONS`` times, its remaining
  chunks are given up: it stays ``searchable`` (keyword search finds it) with
  ``EMBEDDING_GIVEN_UP_REASON`` as its error, shown on the document page and among the
  source page's failed documents, and the queue leaves its chunks alone. Retry (a
  re-index) writes its chunks again and starts the count afresh.
- **A failing provider** (an endpoint answering 5xx or refusing the key: an
  ``EmbeddingError``) fails the batch, which the task tries again with backoff; the
  documents stay ``searchable``. The reason is noted for the organization's admins
  (``ingestion.embedding_failure``) until a batch embeds.
- **Model moves** (``ingestion.embedding_index``) go on beside it: the queue fills
  ``embedding`` with the active model; the move fills ``embedding_next`` for every chunk
  without one, those written meanwhile included, and switches only once all have one.
"""

from __future__ import annotations

import contextlib
import logging
import time

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_noop as _
from django_redis import get_redis_connection
from kombu.exceptions import OperationalError as BrokerUnavailable
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from accounts.audit import AuditAction, audit_record
from infra.celery import app
from ingestion.embedding import LOCAL_MODELS, EmbeddingError, embed_with
from ingestion.embedding_failure import embedding_failing_clear, embedding_failing_set
from ingestion.embedding_index import embedding_index_shared, embedding_text
from ingestion.index import index_changed
from ingestion.models import Chunk, Document, DocumentStatus
from ingestion.stages import stage
from workspaces.rls import organization_scope
from workspaces.rls.backend.base import search_path_once_per_transaction

logger = logging.getLogger(__name__)

_UNAVAILABLE = (BrokerUnavailable, RedisConnectionError, RedisTimeoutError)
# A marker outlives any wait in the queue; past it, a second message is harmless (the
# two split the chunks, or the second finds none).
MARKER_TTL_S = 3600
# A document's chunks are given up once batches of them were interrupted this many times
# (their worker killed): the next would be the third try, as ``MAX_DELIVERIES`` of
# indexing. The counts are kept for a day after the last batch of the organization.
MAX_INTERRUPTIONS = 2
INTERRUPTIONS_TTL_S = 24 * 3600
# Stored in the installation's language (as indexing's reasons), translated where shown.
EMBEDDING_GIVEN_UP_REASON = _(
    "Keyword search finds this document, but embedding its passages (for search by "
    "meaning) stopped the worker again and again (out of memory or killed) and was "
    "given up. Retry indexes it again."
)


# What a batch reads of each chunk: the text embedded is the title, headings and text.
CHUNK_FIELDS = (
    *("id", "workspace_id", "document_id", "text", "heading_path", "embedding_next"),
    "document__title",
)


def _marker() -> str:
    return f"opaa:embed-queued:{connection.schema_name}"


def _interruptions_key() -> str:
    return f"opaa:embed-interrupted:{connection.schema_name}"


def embedding_interruptions(document_ids) -> dict[int, int]:
    """How many batches of each document were started and never ended (their worker
    died), for those with any; {} when Redis is unavailable (nothing is given up)."""
    ids = sorted(set(document_ids))
    if not ids:
        return {}
    try:
        counts = get_redis_connection("default").hmget(_interruptions_key(), ids)
    except _UNAVAILABLE:
        return {}
    counted = zip(ids, counts, strict=True)
    return {pk: int(count) for pk, count in counted if count and int(count) > 0}


def embedding_interruptions_clear(document_id: int) -> None:
    """Start the document's count afresh (its chunks were written again)."""
    with contextlib.suppress(*_UNAVAILABLE):
        get_redis_connection("default").hdel(_interruptions_key(), document_id)


# Counts a batch against its documents (ARGV[2]: +1 when it starts, -1 when it fails
# otherwise than by its worker's death, 0: it embedded them, their counts are cleared);
# a count back at 0 is removed.
_INTERRUPTIONS_ADD = """
for i = 3, #ARGV do
  local delta = tonumber(ARGV[2])
  if delta == 0 or redis.call('HINCRBY', KEYS[1], ARGV[i], delta) <= 0 then
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
"""


@contextlib.contextmanager
def _batch_counted(document_ids: set[int]):
    """Count a batch against its documents while it runs: a worker killed inside leaves
    the count; an error takes it back; done, the documents' counts are cleared (their
    passages embed: whatever killed a worker before was elsewhere, or is met again
    alone)."""
    key, ids = _interruptions_key(), sorted(document_ids)

    def add(delta: int) -> None:
        try:
            get_redis_connection("default").eval(
                _INTERRUPTIONS_ADD, 1, key, INTERRUPTIONS_TTL_S, delta, *ids
            )
        except _UNAVAILABLE:
            logger.warning("embedding batch not counted (Redis unavailable)")

    # Held until this batch's transaction ends (or its connection dies with its worker):
    # the count of a live batch is never taken for an interrupted one (``_live``).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock_shared(hashtextextended(k, 0)) "
            "FROM unnest(%s::text[]) AS k",
            [[_document_lock_key(pk) for pk in ids]],
        )
    add(1)
    try:
        yield
    except BaseException:
        add(-1)
        raise
    add(0)


def _document_lock_key(document_id: int) -> str:
    return f"opaa:embed-batch:{connection.schema_name}:{document_id}"


def _live(document_id: int) -> bool:
    """Whether a running batch holds the document (its shared lock, taken before it
    counts itself): its count is then that batch's, not a dead one's. With several
    processes embedding one organization, batches sharing a document run at once."""
    key = _document_lock_key(document_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [key])
        (free,) = cursor.fetchone()
        if free:
            cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])
    return not free


def _given_up() -> Exists:
    """Chunks of documents whose embedding was given up (searchable with an error)."""
    return Exists(
        Document.objects.filter(
            pk=OuterRef("document_id"), status=DocumentStatus.SEARCHABLE
        ).exclude(error_message="")
    )


def embedding_give_up(*, document_id: int, attempts: int) -> bool:
    """Leave the document's chunks without vectors: it stays ``searchable`` with
    ``EMBEDDING_GIVEN_UP_REASON``; False if it is no longer searchable."""
    given_up = Document.objects.filter(
        pk=document_id, status=DocumentStatus.SEARCHABLE, error_message=""
    ).update(error_message=EMBEDDING_GIVEN_UP_REASON, updated_at=timezone.now())
    if given_up:
        # Ids and counts only: no text of the document, nothing of the model's endpoint.
        logger.warning(
            "embedding of document %s given up after %s interrupted batches organization=%s",
            document_id,
            attempts,
            connection.schema_name,
        )
        # The organization's admins see it in the audit log too (no actor: the queue).
        workspace = (
            Document.objects.filter(pk=document_id)
            .values_list("workspace__slug", flat=True)
            .first()
        )
        audit_record(
            action=AuditAction.DOCUMENT_EMBEDDING_GIVEN_UP,
            context=None,
            target_type="document",
            target_id=document_id,
            extra={"workspace": workspace, "interrupted_batches": attempts},
        )
    return bool(given_up)


def embedding_send() -> bool:
    """Send the organization's embedding task unless one is already waiting; False when
    one was (or the broker is unavailable: logged, beat's sweep sends it later)."""
    client = get_redis_connection("default")
    marker = _marker()
    try:
        if not client.set(marker, 1, nx=True, ex=MARKER_TTL_S):
            return False
        try:
            app.tasks["ingestion.tasks.embed_chunks"].delay()
        except _UNAVAILABLE:
            client.delete(marker)
            raise
    except _UNAVAILABLE as exc:
        logger.warning("embedding task not queued (%s); the sweep will queue it", exc)
        return False
    return True


def embedding_enqueue() -> bool:
    """Send the organization's embedding task once the current transaction commits (at
    once outside a transaction). Where tasks run in the caller (eager: tests, the
    retrieval evaluation), run it now instead and return True: the vectors are in."""
    if app.conf.task_always_eager:
        try:
            app.tasks["ingestion.tasks.embed_chunks"].delay()
        except Exception:
            # The text is written and stays searchable; beat's sweep tries again.
            logger.exception("embedding the organization's chunks failed")
            return False
        return True
    transaction.on_commit(embedding_send)
    return False


def embedding_taken() -> None:
    """A task of the organization started: the next write or hand-over may queue another."""
    with contextlib.suppress(*_UNAVAILABLE):
        get_redis_connection("default").delete(_marker())


def embedding_progress(document_ids) -> dict[int, tuple[int, int]]:
    """(passages embedded, passages) of each of these documents that has chunks, in one
    query under the caller's row-level security (a page's ``searchable`` documents:
    "n of m passages embedded")."""
    ids = set(document_ids)
    if not ids:
        return {}
    rows = (
        Chunk.objects.filter(document_id__in=ids)
        .order_by()
        .values("document_id")
        .annotate(total=Count("id"), embedded=Count("id", filter=Q(embedding__isnull=False)))
    )
    return {row["document_id"]: (row["embedded"], row["total"]) for row in rows}


def embedding_given_up(document: Document) -> bool:
    """Whether the document's embedding was given up (searchable, with the reason)."""
    return document.status == DocumentStatus.SEARCHABLE and bool(document.error_message)


def embedding_backlog(*, at_most: int | None = None) -> int:
    """The organization's chunks without a vector (counted up to ``at_most``)."""
    with organization_scope():
        pending = Chunk.objects.filter(embedding__isnull=True).exclude(_given_up()).order_by()
        if at_most is not None:
            pending = pending[:at_most]
        return pending.count()


def _batch_pick(size: int, *, document_id: int | None = None) -> list[Chunk]:
    """Lock the oldest ``size`` chunks without a vector (of one document, if given),
    skipping those other tasks hold and those of documents given up."""
    pending = Chunk.objects.filter(embedding__isnull=True).exclude(_given_up())
    if document_id is not None:
        pending = pending.filter(document_id=document_id)
    return list(
        pending.select_related("document")
        .only(*CHUNK_FIELDS)
        .order_by("id")
        .select_for_update(skip_locked=True, of=("self",))[:size]
    )


def batch_size(model: str) -> int:
    """Chunks per batch: ``EMBED_BATCH_CHUNKS``; for an endpoint's model at least enough
    to fill the requests a process keeps in flight (``EMBEDDING_API_BATCH_SIZE`` times
    ``EMBEDDING_API_CONCURRENCY``): a batch of 16 would send one small request at a time
    and pay the endpoint's latency per 16 chunks."""
    size = settings.EMBED_BATCH_CHUNKS
    if model not in LOCAL_MODELS:
        size = max(size, settings.EMBEDDING_API_BATCH_SIZE * settings.EMBEDDING_API_CONCURRENCY)
    return size


@search_path_once_per_transaction()
def embedding_batch(*, size: int | None = None) -> int:
    """Embed the organization's oldest ``size`` chunks without a vector (by any of its
    documents) and commit them; then mark the documents left with none to embed
    ``indexed``. Returns how many chunks were handled: embedded, or given up with their
    document (0: none left, or all locked by other tasks).

    Chunks of a document in a batch that died before (its worker killed) are embedded
    apart from the others, that document's alone; after ``MAX_INTERRUPTIONS`` such
    deaths they are given up (``embedding_give_up``)."""
    with organization_scope():
        with stage("queue_commit"), transaction.atomic():
            with stage("queue_pick"):
                # The active model cannot switch while this batch is written (the switch
                # waits for this share lock), so every vector is the active model's.
                row = embedding_index_shared()
                chunks = _batch_pick(size or batch_size(row.active_model))
            if not chunks:
                return 0
            with stage("queue_redis"):
                suspects = embedding_interruptions(chunk.document_id for chunk in chunks)
                # Counted by a batch still running (another process): not interrupted.
                suspects = {pk: n for pk, n in suspects.items() if not _live(pk)}
            suspect = min(suspects, default=None)
            if suspect is not None:
                # Embedded alone: if it kills this worker again, no other document's
                # chunks die with it (the others' locks go with this transaction).
                chunks = [chunk for chunk in chunks if chunk.document_id == suspect]
            if suspect is None or suspects[suspect] < MAX_INTERRUPTIONS:
                with _batch_counted({chunk.document_id for chunk in chunks}):
                    try:
                        _batch_embed(row, chunks)
                    except EmbeddingError as exc:
                        # The endpoint's answer (no key in it); the task tries again with
                        # backoff, the documents stay searchable by keyword meanwhile.
                        logger.warning(
                            "embedding batch failed organization=%s documents=%s: %s",
                            connection.schema_name,
                            sorted({chunk.document_id for chunk in chunks}),
                            exc,
                        )
                        # Shown to the organization's admins until a batch embeds.
                        embedding_failing_set(reason=str(exc))
                        raise
                suspect = None
        if suspect is not None:
            # Once the chunks' locks are gone: a re-index holding the document's row
            # may be waiting for them.
            embedding_give_up(document_id=suspect, attempts=suspects[suspect])
            return len(chunks)
        embedding_failing_clear()
        with stage("queue_mark"):
            documents_embedded_mark(document_ids={chunk.document_id for chunk in chunks})
    return len(chunks)


def _batch_embed(row, chunks: list[Chunk]) -> None:
    """Embed the locked ``chunks`` and write their vectors (in the caller's transaction)."""
    texts = [
        embedding_text(chunk.document.title, chunk.heading_path, chunk.text) for chunk in chunks
    ]
    with stage("queue_model"):
        vectors = _embedded(row.active_model, texts)
    for chunk, text in zip(chunks, texts, strict=True):
        chunk.embedding = vectors[text]
    fields = ["embedding"]
    if row.target_model:
        # A move runs: the next model's vector too, so the move need not come
        # back for these chunks (as a document indexed inline gets both).
        moving = [
            (chunk, text)
            for chunk, text in zip(chunks, texts, strict=True)
            if chunk.embedding_next is None
        ]
        with stage("queue_model"):
            nexts = _embedded(row.target_model, [text for _, text in moving])
        for chunk, text in moving:
            chunk.embedding_next = nexts[text]
        fields.append("embedding_next")
    with stage("queue_write"):
        Chunk.objects.bulk_update(chunks, fields)
        # Answers cached before these vectors were found without them.
        for workspace_id in {chunk.workspace_id for chunk in chunks}:
            index_changed(workspace_id=workspace_id)


def _embedded(model: str, texts: list[str]) -> dict[str, list[float]]:
    """Each distinct text's vector by ``model`` (a repeated text is embedded once)."""
    unique = list(dict.fromkeys(texts))
    return dict(zip(unique, embed_with(model, unique, kind="passage"), strict=True))


@search_path_once_per_transaction()
def documents_embedded_mark(*, document_ids: set[int] | None = None) -> int:
    """Make ``indexed`` the searchable documents (of ``document_ids``, or all the
    organization's) that have no chunk left without a vector; returns how many.

    The rows are locked first, then checked in a new statement (a new snapshot): a
    re-index holds its document's row until its new chunks commit, so new chunks
    without vectors are seen here, never taken for done."""
    with organization_scope(), transaction.atomic():
        searchable = Document.objects.filter(status=DocumentStatus.SEARCHABLE)
        if document_ids is not None:
            searchable = searchable.filter(pk__in=document_ids)
        locked = list(searchable.order_by("pk").select_for_update().values_list("pk", flat=True))
        if not locked:
            return 0
        now = timezone.now()
        return (
            Document.objects.filter(pk__in=locked, status=DocumentStatus.SEARCHABLE)
            .exclude(Exists(Chunk.objects.filter(document=OuterRef("pk"), embedding__isnull=True)))
            .update(status=DocumentStatus.INDEXED, indexed_at=now, updated_at=now)
        )


def embedding_run(*, seconds: float | None = None) -> bool:
    """Embed the organization's chunks batch by batch for up to ``seconds`` (None: until
    none is left); True if some may be left (time ran out), False when done."""
    started = time.monotonic()
    while embedding_batch():
        if seconds is not None and time.monotonic() - started > seconds:
            return True
    # Nothing left (or the rest locked by another task, which marks its own): documents
    # a killed task left "searchable" with every vector in become indexed now.
    documents_embedded_mark()
    return False


def embedding_sweep() -> bool:
    """Send the organization's task if chunks wait without a vector and no task is
    queued (its message lost: Redis emptied, a restore); mark finished documents.
    Idempotent; beat calls it every 5 minutes with the unqueued documents' sweep."""
    documents_embedded_mark()
    if not embedding_backlog(at_most=1):
        return False
    return embedding_send()
