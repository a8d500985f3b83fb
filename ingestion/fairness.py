"""A fair share of each worker's indexing slots per organization.

Embedding tasks (``embed_chunks``, the embedding queue of ``ingestion.embedding_queue``)
have the same share of slots of their own (kind ``embed``), and on a worker that
consumes both queues an organization's slots of both kinds count together: its text and
its vectors, side by side, still leave a process free for the others (a light
organization's page never waits for a heavy one's indexing and embedding to end).

A worker runs as many ``index_document`` tasks at once as its concurrency N. Without a
limit one organization that queues large documents takes every slot, and another
organization's one-page upload waits until one of them finishes (minutes for a
2,000-page PDF). So an organization may hold at most ``INDEX_SLOTS_PER_ORGANIZATION``
of a worker's slots at once (0, the default: all but one, ``max(1, N - 1)``); the
other slots stay free for everyone else. Kept free, not idle: at its share, an
organization's *short* document (an original of at most ``INDEX_LEND_MAX_BYTES``, whose
text is written within about a second) is lent a kept slot while no other organization
has a message waiting in the ``ingest`` queue (``WAITING_KEY``, kept by
``ingestion.enqueue``). One organization's batch of pages then uses every process of an
idle worker, and another organization's page that arrives meanwhile waits for one short
document at most; a lent slot is never taken while another organization waits. An
embedding task is lent a kept slot the same way, and then runs a slice of
``LENT_EMBED_SECONDS`` (one batch or so) instead of ``EMBED_TASK_SECONDS``.

A slot is a *lease* in Redis: a sorted set per worker and organization whose members
are the running tasks, each scored by its expiry time. A task takes one before it
starts indexing, renews it in a background thread every third of ``LEASE_TTL_S``
while it runs, and drops it when done; a worker killed mid-task (SIGKILL, the
out-of-memory killer, the hard time limit) stops renewing, and its leases expire
after ``LEASE_TTL_S`` seconds. An organization over its share does not wait inside a
worker slot (``SlotDeferred``), and the slot goes to the next message in the queue:

- **Documents are parked, out of the queue.** An ``index_document`` message of an
  organization over its share puts its document at the end of the organization's
  backlog in Redis (``opaa:index-backlog:<schema>``, a list) and is acknowledged; the
  take and the park are one Redis script, so a slot freed meanwhile is never missed.
  Each indexing task of the organization that ends sends the first parked document
  again (the release and the pop are one script too), to the back of the ``ingest``
  queue. So an organization with a thousand documents waiting has about as many
  messages in the FIFO queue as it runs documents, each organization's next document
  takes its turn behind the others' (round-robin between the organizations with a
  backlog), and a light organization's new document waits behind a few messages, not
  behind the heavy one's whole backlog passing by again and again (issue 17, item 3).
  Should every task that would drain a backlog be gone (its worker killed and its
  message lost), beat's unqueued sweep sends the first parked document again
  (``ingestion.tasks.documents_unqueued_send_all``), whose end sends the next.
- **Embedding tasks** (one per organization in the queue at a time) are sent again
  with a short countdown instead (``defer_seconds``). On a worker that consumes both
  queues, an organization's embedding task also waits while it has documents parked:
  with its indexing and embedding sharing its slots, its text goes first (found by
  keyword), its vectors once its text backlog is written.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid

from celery.signals import celeryd_after_setup
from django.conf import settings
from django.db import connection
from django_redis import get_redis_connection
from redis.exceptions import RedisError

from ingestion.models import Document

logger = logging.getLogger(__name__)

# Long enough that a renewal every LEASE_TTL_S / 3 survives a busy second or two,
# short enough that a dead worker's slot is free again well within a minute.
LEASE_TTL_S = 30
# A deferred task comes back after 1, 2, 4 ... seconds, at most this many, with jitter:
# soon enough that the organization's next document starts shortly after a slot frees,
# while a thousand waiting documents cost about 45 deferrals a second (each a Redis
# call, a database query for the organization and a re-sent message). A worker holds a
# deferred message (unacknowledged) for its countdown, so this must stay well below
# BROKER_VISIBILITY_TIMEOUT_S, or Redis would hand the message out twice.
DEFER_MAX_S = 30

# A parked document waits in its organization's backlog; the list outlives the
# documents' queue markers (``ingestion.enqueue``, set when each was sent), so a lost
# backlog's documents are sent again by the unqueued sweep once their markers expire.
BACKLOG_TTL_S = 8 * 24 * 3600

# Takes a slot if the organization holds fewer than the limit on this worker, counting
# its slots of the other kind (KEYS[3]) too: on a worker that consumes ``ingest`` and
# ``embed``, one organization's indexing and embedding together leave a process free
# for the others (else, with two processes, its text and its vectors take both); and
# with ARGV[7] set (an embedding task on such a worker) it is refused while the
# organization has documents parked: its text goes first, its vectors after. At the
# limit, a short document or a short embedding slice (ARGV[8], above the limit: the
# slots it may hold then) is lent a kept slot (2: taken, lent) while no other
# organization (ARGV[9] is this one) has a message waiting in the ``ingest`` queue
# (KEYS[5], ``ingestion.enqueue``'s organizations with messages queued, each scored by
# when it stops counting). The expired members (leases of a dead worker process) are
# dropped first; the key itself expires when nothing renews it. Refused, ARGV[5] (a
# document id, if not empty) is parked in the organization's backlog (KEYS[2]) in the
# same step: a task releasing a slot of the organization after this pops it. At the
# end; at the front if its queue marker (KEYS[4], ``ingestion.enqueue``) says it was
# sent off the backlog ('2'): it was the oldest parked, and keeps its turn.
_LEASE_TAKE = """
local now = tonumber(ARGV[1])
if ARGV[7] == '1' and redis.call('LLEN', KEYS[2]) > 0 then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local held = redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[3])
local lent = held >= tonumber(ARGV[3])
local refused = lent
if refused and held < tonumber(ARGV[8]) then
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
  local others = redis.call('ZCARD', KEYS[5])
  if redis.call('ZSCORE', KEYS[5], ARGV[9]) then others = others - 1 end
  refused = others > 0
end
if refused then
  if ARGV[5] ~= '' then
    if KEYS[4] ~= '' and redis.call('GET', KEYS[4]) == '2' then
      redis.call('LPUSH', KEYS[2], ARGV[5])
    else
      redis.call('RPUSH', KEYS[2], ARGV[5])
    end
    redis.call('EXPIRE', KEYS[2], tonumber(ARGV[6]))
  end
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[2])
redis.call('EXPIRE', KEYS[1], 4 * tonumber(ARGV[4]))
if lent then return 2 end
return 1
"""


# Drops the lease (if any) and pops the organization's first parked document, at once.
_LEASE_RELEASE = """
if ARGV[1] ~= '' then redis.call('ZREM', KEYS[1], ARGV[1]) end
return redis.call('LPOP', KEYS[2])
"""


# The organizations with ``index_document`` messages waiting in the ``ingest`` queue
# (``ingestion.enqueue`` adds one when it sends its message, drops it when its last
# queued message is taken): a kept slot is lent only while none but the borrower is here.
WAITING_KEY = "opaa:index-waiting"
# An organization counts as waiting at most this long after its last message was sent,
# should the message never be taken (lost with the broker, purged): a little longer
# than a message waits in a busy queue, short enough that loans resume soon after.
WAITING_TTL_S = 120
# An embedding task in a lent slot hands over after this many seconds (at least one
# batch), not after EMBED_TASK_SECONDS: the slot comes back about as soon as a short
# document's would.
LENT_EMBED_SECONDS = 1.0


def backlog_key(schema: str | None = None) -> str:
    """The organization's backlog of parked documents (a Redis list of their ids)."""
    return f"opaa:index-backlog:{schema or connection.schema_name}"


# The concurrency of the worker this process belongs to, set when the worker starts
# (before its pool forks); None outside a worker (web processes, eager tasks).
_worker_concurrency: int | None = None


# Whether this worker consumes ``ingest`` and ``embed`` both (``infra.celery`` adds
# ``embed`` to an ``ingest`` worker unless WORKER_EMBED_WITH_INGEST is false).
_worker_text_and_vectors = False


@celeryd_after_setup.connect
def _worker_concurrency_record(sender, instance, **kwargs) -> None:
    global _worker_concurrency, _worker_text_and_vectors
    _worker_concurrency = getattr(instance, "max_concurrency", None) or instance.concurrency
    consumed = set(instance.app.amqp.queues.consume_from or ())
    _worker_text_and_vectors = "ingest" in consumed and (
        "embed" in consumed or settings.WORKER_EMBED_WITH_INGEST
    )


def slots_per_organization(concurrency: int, *, organizations: int) -> int:
    """How many of a worker's ``concurrency`` slots one organization may hold, in an
    installation of ``organizations`` organizations. By default all but one, except
    where one organization is alone: nobody else could use the slot kept free."""
    configured = settings.INDEX_SLOTS_PER_ORGANIZATION
    if configured > 0:
        return configured
    if organizations <= 1:
        return concurrency
    return max(1, concurrency - 1)


# How long a worker process trusts its count of organizations: a new organization's
# first uploads may run without the reservation for this long.
ORGANIZATIONS_COUNT_TTL_S = 60
_organizations_counted: tuple[float, int] | None = None


def organizations_count() -> int:
    """The installation's organizations (the public schema is none), counted at most
    once a minute per process."""
    global _organizations_counted
    now = time.monotonic()
    if _organizations_counted is None or now - _organizations_counted[0] > (
        ORGANIZATIONS_COUNT_TTL_S
    ):
        from django_tenants.utils import get_public_schema_name, get_tenant_model

        count = get_tenant_model().objects.exclude(schema_name=get_public_schema_name()).count()
        _organizations_counted = (now, count)
    return _organizations_counted[1]


def defer_seconds(deferrals: int) -> float:
    """Countdown before a task deferred ``deferrals`` times before is tried again."""
    ceiling = min(DEFER_MAX_S, 2 ** min(deferrals, 10))
    return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret


class SlotDeferred(Exception):
    """The organization holds its share of this worker's slots; try again later, or
    (``parked``) the document was parked in the organization's backlog: a task of the
    organization that ends sends it again."""

    def __init__(self, *, parked: bool = False) -> None:
        super().__init__("parked" if parked else "deferred")
        self.parked = parked


class IndexSlot:
    """One organization's lease on one of a worker's indexing slots.

    ``acquire`` returns False when the organization already holds its share; while
    held, a daemon thread renews the lease; ``release`` stops it and drops the lease.
    Not re-entrant.
    """

    def __init__(self, *, hostname: str, limit: int, kind: str = "index") -> None:
        self.key = f"opaa:{kind}-slots:{hostname}:{connection.schema_name}"
        other = "embed" if kind == "index" else "index"
        self.other_key = f"opaa:{other}-slots:{hostname}:{connection.schema_name}"
        self.backlog = backlog_key()
        self.limit = limit
        self.token = uuid.uuid4().hex
        self.stopped = threading.Event()
        self.renewer: threading.Thread | None = None
        # Taken above the organization's share: the slot kept for others, lent.
        self.lent = False

    def acquire(
        self,
        *,
        park: int | None = None,
        text_first: bool = False,
        marker: str = "",
        lend: int = 0,
    ) -> bool:
        """Take the slot; False when the organization holds its share, and then
        ``park`` (a document id), if given, is in its backlog (at the front if its queue
        ``marker`` says it came off the backlog, else at the end). With ``text_first``,
        also False while the organization has documents parked. ``lend`` (above the
        share): the slots the organization may hold while no other organization has a
        message waiting in the ``ingest`` queue (a short document: the slot kept free
        comes back within a second)."""
        taken = get_redis_connection("default").eval(
            _LEASE_TAKE,
            5,
            self.key,
            self.backlog,
            self.other_key,
            marker,
            WAITING_KEY,
            time.time(),
            self.token,
            self.limit,
            LEASE_TTL_S,
            "" if park is None else str(park),
            BACKLOG_TTL_S,
            "1" if text_first else "0",
            lend,
            connection.schema_name,
        )
        if not taken:
            return False
        self.lent = int(taken) == 2
        self.renewer = threading.Thread(target=self._renew_until_stopped, daemon=True)
        self.renewer.start()
        return True

    def _renew_until_stopped(self) -> None:
        while not self.stopped.wait(LEASE_TTL_S / 3):
            try:
                # Plain ZADD, not XX: the task is running, so it counts even if a stall
                # let its lease expire meanwhile.
                with get_redis_connection("default").pipeline() as pipe:
                    pipe.zadd(self.key, {self.token: time.time() + LEASE_TTL_S})
                    pipe.expire(self.key, 4 * LEASE_TTL_S)
                    pipe.execute()
            except RedisError:  # Redis away: the lease may lapse, the indexing goes on
                logger.warning("could not renew indexing slot %s", self.key, exc_info=True)

    def release(self) -> int | None:
        """Drop the lease; returns the organization's first parked document, taken off
        its backlog (the caller sends it again), or None."""
        self.stopped.set()
        if self.renewer is not None:
            self.renewer.join()
        try:
            parked = get_redis_connection("default").eval(
                _LEASE_RELEASE, 2, self.key, self.backlog, self.token
            )
        except RedisError:  # it expires by itself
            logger.warning("could not release indexing slot %s", self.key, exc_info=True)
            return None
        return None if parked is None else int(parked)


def index_backlog_next() -> int | None:
    """Take the current organization's first parked document off its backlog (None:
    none, or Redis unavailable). A task that ran without a slot calls it when done, as
    releasing one does, so a backlog drains whichever worker runs the organization's
    documents."""
    try:
        parked = get_redis_connection("default").eval(_LEASE_RELEASE, 2, "", backlog_key(), "")
    except RedisError:
        logger.warning("indexing backlog unavailable", exc_info=True)
        return None
    return None if parked is None else int(parked)


def index_backlog_size() -> int:
    """How many of the current organization's documents are parked."""
    return int(get_redis_connection("default").llen(backlog_key()))


def index_slot_take(request, *, kind: str = "index", park: int | None = None) -> IndexSlot | None:
    """The slot a task (its Celery ``request``) runs in, or None when no limit applies:
    outside a worker (eager or direct calls), or when one organization may hold every
    slot of the worker. Raises ``SlotDeferred`` when the organization holds its share,
    with the document ``park`` (if given) parked in its backlog (``parked``).
    ``kind`` names the set of slots: ``index`` (documents) or ``embed`` (vectors).

    An indexing message taken here (``park``: its document) no longer waits in the
    queue (``ingestion.enqueue``'s admission): noted, and when it runs the
    organization's next parked document is sent in its place."""
    if kind != "index" or park is None or request.is_eager:
        return _slot_take(request, kind=kind, park=park)
    # Imported here: ``ingestion.enqueue`` imports this module.
    from ingestion.enqueue import document_index_taken, queue_marker

    try:
        slot = _slot_take(request, kind=kind, park=park, marker=queue_marker(park))
    except SlotDeferred:
        document_index_taken(park, runs=False)
        raise
    document_index_taken(park, runs=True)
    return slot


def _slot_take(request, *, kind: str, park: int | None, marker: str = "") -> IndexSlot | None:
    concurrency = _worker_concurrency
    if request.is_eager or request.hostname is None or concurrency is None:
        return None
    limit = slots_per_organization(concurrency, organizations=organizations_count())
    if limit >= concurrency:
        return None
    slot = IndexSlot(hostname=request.hostname, limit=limit, kind=kind)
    try:
        # An embedding task on a worker that writes text too waits while the
        # organization's documents are parked: their text first, then the vectors.
        text_first = kind == "embed" and _worker_text_and_vectors
        # Lent work is short: a small document's text, or a slice of embedding of
        # LENT_EMBED_SECONDS (``ingestion.tasks.embed_chunks``).
        if settings.INDEX_LEND_MAX_BYTES <= 0:
            lend = 0
        elif kind == "embed":
            lend = concurrency
        else:
            lend = concurrency if park is not None and _short(park) else 0
        taken = slot.acquire(park=park, text_first=text_first, marker=marker, lend=lend)
    except RedisError:
        # Fairness is worth less than the document: index it without a slot.
        logger.warning("indexing slots unavailable; indexing without one", exc_info=True)
        return None
    if not taken:
        raise SlotDeferred(parked=park is not None)
    return slot


def _short(document_id: int) -> bool:
    """Whether the document's original is small enough (``INDEX_LEND_MAX_BYTES``) for its
    text to be written within about a second: such a document may be lent the slot
    kept free for other organizations while none of them is waiting."""
    ceiling = settings.INDEX_LEND_MAX_BYTES
    size = Document.objects.filter(pk=document_id).values_list("size_bytes", flat=True).first()
    return size is not None and size <= ceiling
