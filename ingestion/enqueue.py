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
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_redis import get_redis_connection
from kombu.exceptions import OperationalError as BrokerUnavailable
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ingestion.models import Document, DocumentStatus
from workspaces.rls import organization_scope

logger = logging.getLogger(__name__)

# A document pending for longer than this with no message is re-sent: longer than a
# transaction takes between writing the row and sending (the sweep must not race it).
UNQUEUED_AFTER_S = 300
# Longer than any document waits in a queue; past it, a duplicate message is harmless.
MARKER_TTL_S = 7 * 24 * 3600
_UNAVAILABLE = (BrokerUnavailable, RedisConnectionError, RedisTimeoutError)


def _marker(document_id: int) -> str:
    return f"opaa:index-queued:{connection.schema_name}:{document_id}"


def document_index_send(document_id: int) -> bool:
    """Send the indexing message of a committed document now; False when the broker
    is unavailable (logged: the unqueued sweep sends it later).

    The task is imported here, not at the top: ``ingestion.tasks`` imports this module
    (and the services that queue documents through it), so a top-level import would be
    a cycle.
    """
    from ingestion.tasks import index_document

    client = get_redis_connection("default")
    marker = _marker(document_id)
    try:
        # Marked first: then a message is never sent without its marker (the sweep
        # would send it again), and a failed send takes the marker back.
        client.set(marker, 1, ex=MARKER_TTL_S)
        try:
            # The limits travel in the message: read them now, not when tasks loaded.
            index_document.apply_async(
                (document_id,),
                soft_time_limit=settings.INDEX_TIME_LIMIT_S,
                time_limit=settings.INDEX_TIME_LIMIT_S + 60,
            )
        except _UNAVAILABLE:
            client.delete(marker)
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
        get_redis_connection("default").delete(_marker(document_id))


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
