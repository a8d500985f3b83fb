"""Celery tasks of ingestion: thin wrappers around the services.

Queues (``CELERY_TASK_ROUTES``): ``fetch`` for syncing sources (reading from the source,
storing originals), ``ingest`` for parsing and writing one document, ``embed`` for the
vectors of the chunks written without one (``ingestion.embedding_queue``), ``default``
for the beat dispatch.
"""

import logging

from celery.exceptions import Retry
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django_redis import get_redis_connection
from django_tenants.utils import get_public_schema_name, schema_context

from infra.celery import app
from infra.storage_errors import StorageUnavailable
from ingestion import (
    embedding_index,
    embedding_queue,
    enqueue,
    fairness,
    indexing,
    sources,
    storage,
    sync,
)
from ingestion.embedding import EmbeddingError
from ingestion.stages import stage, stage_seconds_shared
from tenants.models import Organization, OrganizationStatus
from tenants.suspension import organizations_schedulable
from workspaces.rls.tasks import OrganizationTask

logger = logging.getLogger(__name__)

# Tasks are acknowledged late and requeued when their worker dies (CELERY_TASK_ACKS_LATE,
# CELERY_TASK_REJECT_ON_WORKER_LOST), so a worker killed mid-task loses nothing. A
# document that kills every worker it reaches would come back for ever: on its third
# delivery it is failed instead.
MAX_DELIVERIES = 3
DELIVERIES_TTL_S = 24 * 3600


def deliveries_count(request) -> int:
    """How many times this message (task id and retry number) has been started,
    this time included; more than one means a worker died while running it. A direct
    call (no message) counts as the first."""
    if request.id is None:
        return 1
    key = f"opaa:deliveries:{request.id}:{request.retries}"
    client = get_redis_connection("default")
    with client.pipeline() as pipe:
        count, _ = pipe.incr(key).expire(key, DELIVERIES_TTL_S).execute()
    return int(count)


@app.task(
    bind=True,
    base=OrganizationTask,
    workspace_of="ingestion.Document",  # row-level security: the document's workspace only
    # The soft limit raises inside the task (the document ends failed with the reason);
    # the hard one kills a process that did not stop.
    soft_time_limit=settings.INDEX_TIME_LIMIT_S,
    time_limit=settings.INDEX_TIME_LIMIT_S + 60,
    # The storage down: the document is marked failed with the reason, and retried.
    autoretry_for=(OperationalError, InterfaceError, StorageUnavailable),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def index_document(self, document_id: int, deferrals: int = 0) -> None:
    """Index one document of the task's organization.

    Running it twice is harmless: the second run replaces the chunks with the same
    ones. Database connection errors are retried with backoff; a file that cannot be
    parsed is not an error here (the document ends ``failed`` with its reason), nor is
    one whose indexing already stopped ``MAX_DELIVERIES - 1`` workers (failed, not
    tried again).

    When the organization already holds its share of this worker's slots
    (``ingestion.fairness``), the document is parked in the organization's backlog in
    Redis and this message acknowledged, so the slot and the queue go to other
    organizations' documents; when a task of the organization ends it sends the first
    parked document again (to the back of the queue). A parked document keeps its queue
    marker (``enqueue``): it is still waiting. Parking is not a delivery (the count is
    taken once a slot is held), so ``MAX_DELIVERIES`` is not used up by waiting.
    ``deferrals`` is left from the countdown deferrals of before (messages still
    queued by an older version carry it) and not used.
    """
    try:
        slot = fairness.index_slot_take(self.request, park=document_id)
    except fairness.SlotDeferred:
        logger.debug("document %s parked: its organization holds its share", document_id)
        return
    try:
        attempts = deliveries_count(self.request)
        if attempts >= MAX_DELIVERIES:
            indexing.document_index_abandon(document_id=document_id, attempts=attempts - 1)
        else:
            with stage_seconds_shared(), stage("index_task"):
                indexing.document_index(document_id=document_id)
    except BaseException:
        # Retried (the database away) or failed: the organization's next document goes on.
        _index_next_send(slot)
        raise
    parked = _index_release(slot)
    # Handled (not to be retried): no longer waiting for a message. Cleared before the
    # next parked document is sent, which may be this one again (a second message).
    enqueue.document_index_done(document_id)
    if parked is not None:
        enqueue.document_index_send(parked)


def _index_release(slot: fairness.IndexSlot | None) -> int | None:
    """Release the slot (if any) and take the organization's first parked document."""
    return slot.release() if slot is not None else fairness.index_backlog_next()


def _index_next_send(slot: fairness.IndexSlot | None) -> None:
    parked = _index_release(slot)
    if parked is not None:
        enqueue.document_index_send(parked)


@app.task(
    bind=True,
    base=OrganizationTask,  # the whole organization: a batch spans its documents
    # The endpoint or the database away: tried again with backoff; the chunks wait.
    autoretry_for=(OperationalError, InterfaceError, EmbeddingError),
    retry_backoff=True,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=10,
)
def embed_chunks(self, deferrals: int = 0) -> None:
    """Embed the organization's chunks that have no vector yet, for up to
    ``EMBED_TASK_SECONDS``, then hand over to its next task at the back of the queue
    (``ingestion.embedding_queue``).

    Running it twice is harmless: two runs split the chunks (each batch locked, skip
    locked), and a run that finds none marks finished documents ``indexed`` and ends. A
    worker killed mid-batch loses the batch's uncommitted vectors; the message is
    redelivered (acknowledged late) and goes on with the chunks still without one.
    Over its organization's fair share of the worker's embedding slots (as many as
    of its indexing slots, counted apart), the task is sent again with a countdown, as
    ``index_document`` is.
    """
    if self.request.is_eager:  # run in the caller (tests, evaluation): all of it, now
        embedding_queue.embedding_taken()
        embedding_queue.embedding_run()
        return
    try:
        slot = fairness.index_slot_take(self.request, kind="embed")
    except fairness.SlotDeferred:
        countdown = fairness.defer_seconds(deferrals)
        again = self.signature_from_request(
            self.request, args=(), kwargs={"deferrals": deferrals + 1}, countdown=countdown
        )
        again.apply_async()
        raise Retry(
            "the organization holds its share of embedding slots", when=countdown, sig=again
        ) from None
    try:
        embedding_queue.embedding_taken()
        # More than a batch waiting: queue the organization's next task now, so another
        # worker process (within the fair share) joins in.
        if embedding_queue.embedding_backlog(at_most=settings.EMBED_BATCH_CHUNKS + 1) > (
            settings.EMBED_BATCH_CHUNKS
        ):
            embedding_queue.embedding_send()
        # In the slot kept for other organizations (lent while none waits): a short
        # slice, so that slot comes back soon.
        seconds = (
            fairness.LENT_EMBED_SECONDS
            if slot is not None and slot.lent
            else settings.EMBED_TASK_SECONDS
        )
        with stage_seconds_shared(), stage("queue_run"):
            more = embedding_queue.embedding_run(seconds=seconds)
    finally:
        # The organization's slots of both kinds count together: a document parked
        # while this task held the slot goes on now.
        if slot is not None:
            _index_next_send(slot)
    if more:
        embedding_queue.embedding_send()


@app.task(
    base=OrganizationTask,
    workspace_of="ingestion.Source",  # row-level security: the source's workspace only
    autoretry_for=(OperationalError, InterfaceError, sync.SyncBusy),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=12,
)
def sync_source(source_id: int) -> None:
    """Run or resume the source's unfinished sync run (``ingestion.sync.source_sync``).

    Running it twice is harmless: the second finds the source locked (and retries
    later, with backoff and jitter, then finds no unfinished run and does nothing) or
    resumes the run after its checkpoint. A worker killed mid-run leaves the run to be
    resumed by the redelivered task or by beat's ``sources_sync_due``.
    """
    sync.source_sync(source_id=source_id, only_unfinished=True)


@app.task(base=OrganizationTask)
def organization_sources_sync_due() -> None:
    """Queue the organization's due sources and resume interrupted runs; idempotent per minute."""
    sources.sources_sync_due()


@app.task
def sources_sync_due() -> None:
    """Beat, every minute: one ``organization_sources_sync_due`` per organization.

    Runs in the public schema; each task is sent from inside its organization's schema
    so it carries the organization (``OrganizationTask`` refuses to run without one).
    """
    # Active organizations only: a suspended one's syncs do not run.
    organizations = organizations_schedulable().exclude(schema_name=get_public_schema_name())
    for schema in organizations.values_list("schema_name", flat=True):
        with schema_context(schema):
            organization_sources_sync_due.delay()


@app.task(ignore_result=True)
def documents_unqueued_send_all() -> int:
    """Beat, every 5 minutes: in every active organization, send again the indexing
    messages of pending documents whose message was lost (``enqueue``), and the
    embedding task where chunks wait for vectors without one (``embedding_queue``).
    Returns how many indexing messages. Idempotent."""
    sent = 0
    organizations = organizations_schedulable().exclude(schema_name=get_public_schema_name())
    for schema in organizations.values_list("schema_name", flat=True):
        with schema_context(schema):
            try:
                sent += enqueue.documents_unqueued_send()
                # A backlog no running task would drain (its tasks' workers killed, their
                # messages lost): its first document goes, and its end sends the next.
                _index_next_send(None)
                # And the embedding task, if chunks wait for vectors without one.
                embedding_queue.embedding_sweep()
            except Exception:
                # One broken schema must not keep the others' documents unindexed.
                logger.exception("unqueued documents sweep failed organization=%s", schema)
    return sent


@app.task(ignore_result=True)
def originals_sweep_all() -> int:
    """Beat, hourly: delete, in every organization, stored originals no document names
    (``storage.originals_sweep``): erased or replaced while the storage was down or a
    backup ran. Returns how many. Idempotent; skipped while a backup runs."""
    deleted = 0
    # Suspended organizations too: an erased original must go all the same.
    organizations = Organization.objects.filter(
        status__in=[OrganizationStatus.ACTIVE, OrganizationStatus.SUSPENDED]
    ).exclude(schema_name=get_public_schema_name())
    for schema in organizations.values_list("schema_name", flat=True):
        with schema_context(schema):
            try:
                deleted += len(storage.originals_sweep() or [])
            except StorageUnavailable:
                return deleted  # the next run finds them all again
            except Exception:
                # One broken schema must not keep the others' erased originals.
                logger.exception("originals sweep failed organization=%s", schema)
    return deleted


@app.task(
    base=OrganizationTask,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=10,
)
def embedding_move() -> None:
    """Move the organization's passages to the embedding model it should use
    (``ingestion.embedding_index``), for a few minutes at a time: sends itself again
    until the move is done. Idempotent: a second run (a redelivery, beat) goes on with
    the chunks that have no new vector yet, or finds the move held and stops."""
    embedding_index.embedding_move_due(send=False)
    done = embedding_index.embedding_move_run(seconds=embedding_index.MOVE_TASK_SECONDS)
    if not done and embedding_index.embedding_status().moving:
        embedding_index.embedding_move_send()


@app.task(ignore_result=True)
def embedding_moves_due_all() -> None:
    """Beat, every 5 minutes: in every active organization, start the move to the
    embedding model it should use (the admin's choice or the installation's
    ``EMBEDDING_MODEL``), and resume one a stopped worker left unfinished."""
    organizations = organizations_schedulable().exclude(schema_name=get_public_schema_name())
    for schema in organizations.values_list("schema_name", flat=True):
        with schema_context(schema):
            try:
                embedding_index.embedding_move_due()
            except Exception:
                logger.exception("embedding move check failed organization=%s", schema)
