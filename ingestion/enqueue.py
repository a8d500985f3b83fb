"""Queueing documents for indexing, and finding the ones whose message was lost.

A document is written ``pending`` and its ``index_document`` message sent once the
row commits. The message can be lost between the two: the broker (Redis) unreachable
at that moment, Redis restarted without its data, a whole installation restored
elsewhere. Nothing then would ever index the document. So each message sent leaves a
marker in the same Redis as the queue (``opaa:index-queued:<schema>:<id>``), removed
when the task has done its work; every few minutes beat re-sends the pending
documents that are older than ``UNQUEUED_AFTER_S`` and have no marker. A marker and
the queue live and die together, so a document waiting in a long queue is never sent
twice, and one whose message is gone is sent again. Indexing is idempotent: should a
message be sent twice all the same (a marker expired, a race with the sweep), the
document is indexed twice with the same chunks.

**Admission: a few messages per organization in the queue.** The ``ingest`` queue is
one FIFO for every organization. An organization that queues a thousand documents
would put a light organization's one page behind all of them wherever a worker has no
share of slots to keep free (``ingestion.fairness``: a worker of one process, or several
of one process each). So at most ``QUEUED_PER_ORGANIZATION`` of an organization's
messages wait in the queue at once (a sorted set of their documents per organization,
``opaa:index-queued-set:<schema>``, each scored by when it stops counting); a document
sent beyond that is parked at the end of the organization's backlog
(``opaa:index-backlog:<schema>``, the one ``ingestion.fairness`` parks in), counting and
parking in one Redis script. When a worker takes one of the organization's messages to
run it, the document leaves the set and the first parked document is sent
(``document_index_taken``), so the organization always has a few messages waiting and
every free process can take one, while another organization's page is behind at most
that few of each. A parked document keeps its queue marker: the unqueued sweep leaves
it alone, and sends the backlog's first document again should nothing drain it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_redis import get_redis_connection
from kombu.exceptions import OperationalError as BrokerUnavailable
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ingestion.fairness import (
    BACKLOG_TTL_S,
    WAITING_KEY,
    WAITING_TTL_S,
    backlog_key,
    index_backlog_next,
)
from ingestion.models import Document, DocumentStatus
from workspaces.rls import organization_scope

logger = logging.getLogger(__name__)

# A document pending for longer than this with no message is re-sent: longer than a
# transaction takes between writing the row and sending (the sweep must not race it).
UNQUEUED_AFTER_S = 300
# Longer than any document waits in a queue; past it, a duplicate message is harmless.
MARKER_TTL_S = 7 * 24 * 3600
_UNAVAILABLE = (BrokerUnavailable, RedisConnectionError, RedisTimeoutError)
# An organization's messages waiting in the ``ingest`` queue at most (the rest parked):
# another organization's new document waits behind at most this many of each. Two keep
# a worker fed: the next is sent when one is taken, long before it is done.
QUEUED_PER_ORGANIZATION = 2
# A document stops counting this long after it was sent, should its message be taken
# and its take never noted (a worker killed in between): an extra message, not a loss.
QUEUED_TTL_S = 3600

# Marks the document queued (KEYS[3], its marker) and counts it (ARGV[2]) among the
# organization's queued ones (KEYS[1]) if it is there already or there is room
# (dropping those past their time first); else parks it in the organization's backlog
# (KEYS[2]): at the end, or at the front if it was waiting already (its marker there
# before: a parked document just taken off the backlog, whose turn it was; its marker
# then says '2', so a worker's fair share that parks it again keeps its turn too). 1:
# send its message now, 0: parked. Sent, the organization (ARGV[7]) is among those with
# messages waiting (KEYS[4], ``ingestion.fairness.WAITING_KEY``) until its last is taken.
_ADMIT = """
local now = tonumber(ARGV[1])
local waited = redis.call('EXISTS', KEYS[3])
redis.call('SET', KEYS[3], waited == 1 and '2' or '1', 'EX', tonumber(ARGV[6]))
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[2]) or
   redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[2])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
  redis.call('ZADD', KEYS[4], now + tonumber(ARGV[8]), ARGV[7])
  redis.call('EXPIRE', KEYS[4], tonumber(ARGV[8]))
  return 1
end
if waited == 1 then
  redis.call('LPUSH', KEYS[2], ARGV[2])
else
  redis.call('RPUSH', KEYS[2], ARGV[2])
end
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[5]))
return 0
"""


# The document's message no longer waits in the queue (ARGV[1], taken or handled): out
# of the organization's queued ones (KEYS[1]), and the organization (ARGV[3]) out of
# those with messages waiting (KEYS[2]) once none of its own is left.
_UNQUEUE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('ZREM', KEYS[2], ARGV[3]) end
"""


def _marker(document_id: int) -> str:
    return f"opaa:index-queued:{connection.schema_name}:{document_id}"


def queue_marker(document_id: int) -> str:
    """The Redis key of the document's queue marker: '1' sent, '2' sent again off its
    organization's backlog (``ingestion.fairness`` parks it at the backlog's front)."""
    return _marker(document_id)


def _queued_key() -> str:
    return f"opaa:index-queued-set:{connection.schema_name}"


def documents_queued() -> int:
    """How many of the current organization's messages wait in the queue (counted)."""
    client = get_redis_connection("default")
    client.zremrangebyscore(_queued_key(), "-inf", time.time())
    return int(client.zcard(_queued_key()))


def _unqueue(client, document_id: int) -> None:
    client.eval(
        _UNQUEUE, 2, _queued_key(), WAITING_KEY, document_id, time.time(), connection.schema_name
    )


def document_index_send(document_id: int) -> bool:
    """Send the indexing message of a committed document now, or park it in its
    organization's backlog when ``QUEUED_PER_ORGANIZATION`` of the organization's
    messages wait already (a task of the organization sends it when it is taken);
    False when the broker is unavailable (logged: the unqueued sweep sends it later).

    The task is imported here, not at the top: ``ingestion.tasks`` imports this module
    (and the services that queue documents through it), so a top-level import would be
    a cycle.
    """
    from ingestion.tasks import index_document

    client = get_redis_connection("default")
    marker = _marker(document_id)
    try:
        # Marked first (with the admission): then a message is never sent without its
        # marker (the sweep would send it again), and a failed send takes it back.
        admitted = client.eval(
            _ADMIT,
            4,
            _queued_key(),
            backlog_key(),
            marker,
            WAITING_KEY,
            time.time(),
            document_id,
            QUEUED_PER_ORGANIZATION,
            QUEUED_TTL_S,
            BACKLOG_TTL_S,
            MARKER_TTL_S,
            connection.schema_name,
            WAITING_TTL_S,
        )
        if not admitted:
            logger.debug("document %s parked: its organization has messages queued", document_id)
            return True
        try:
            # The limits travel in the message: read them now, not when tasks loaded.
            index_document.apply_async(
                (document_id,),
                soft_time_limit=settings.INDEX_TIME_LIMIT_S,
                time_limit=settings.INDEX_TIME_LIMIT_S + 60,
            )
        except _UNAVAILABLE:
            client.delete(marker)
            _unqueue(client, document_id)
            raise
    except _UNAVAILABLE as exc:
        logger.warning(
            "document %s not queued for indexing (%s: %s); the unqueued sweep will queue it",
            document_id,
            type(exc).__name__,
            exc,
        )
        return False
    return True


def document_enqueue_indexing(*, document: Document) -> None:
    """Queue ``document`` for indexing once the current transaction commits."""
    document_id = document.pk
    transaction.on_commit(lambda: document_index_send(document_id))


def document_reindex(*, document: Document) -> None:
    """Queue ``document`` to be parsed and embedded again (e.g. retry after a failure)."""
    document.status = DocumentStatus.PENDING
    document.error_message = ""
    document.save(update_fields=["status", "error_message", "updated_at"])
    document_enqueue_indexing(document=document)


def document_index_done(document_id: int) -> None:
    """The document's message was handled (indexed, failed or given up): no marker."""
    # Redis away: the marker expires; meanwhile the document is not pending, so the
    # sweep never looks at it.
    with contextlib.suppress(*_UNAVAILABLE):
        client = get_redis_connection("default")
        client.delete(_marker(document_id))
        # Where tasks run in the caller (eager), nothing noted the message's take.
        _unqueue(client, document_id)


def document_index_taken(document_id: int, *, runs: bool) -> None:
    """A worker took the document's message (``index_document``, before it indexes):
    it waits in the queue no more. When it ``runs`` (not parked by the worker's fair
    share, whose releases send the organization's parked documents), the organization's
    first parked document is sent in its place. Redis away: nothing (the set's entries
    expire, beat's sweep sends a backlog's first document)."""
    try:
        _unqueue(get_redis_connection("default"), document_id)
    except _UNAVAILABLE:
        return
    if runs:
        parked = index_backlog_next()
        if parked is not None:
            document_index_send(parked)


def documents_unqueued_send() -> int:
    """Send again the current organization's pending documents whose message is lost
    (no marker, pending for more than ``UNQUEUED_AFTER_S``, or processing for longer
    than indexing may take); returns how many.
    Reads every workspace of the organization. Idempotent."""
    now = timezone.now()
    # One left ``processing`` (its worker died, its message gone with Redis) counts once
    # it has been so for longer than indexing may take.
    pending_cutoff = now - timedelta(seconds=UNQUEUED_AFTER_S)
    processing_cutoff = now - timedelta(seconds=settings.INDEX_TIME_LIMIT_S + 60 + UNQUEUED_AFTER_S)
    with organization_scope():
        pending = list(
            Document.objects.filter(
                Q(status=DocumentStatus.PENDING, updated_at__lt=pending_cutoff)
                | Q(status=DocumentStatus.PROCESSING, updated_at__lt=processing_cutoff)
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    if not pending:
        return 0
    client = get_redis_connection("default")
    queued = client.mget([_marker(pk) for pk in pending])
    lost = [pk for pk, marker in zip(pending, queued, strict=True) if marker is None]
    sent = sum(document_index_send(pk) for pk in lost)
    if lost:
        logger.warning(
            "documents pending without an indexing message, sent again: %s of %s", sent, lost
        )
    return sent
