"""Whether the organization's embedding is failing, and why: one marker in Redis.

The embedding queue (``ingestion.embedding_queue``) sets it when a batch fails with an
``EmbeddingError`` (an endpoint answering 5xx, refusing the key, unreachable) and clears
it when a batch embeds. Meanwhile the documents waiting stay ``searchable`` (keyword
search finds them) and the task tries again with backoff; the portal tells the
organization's admins, on the document page and in the document list, that embedding is
failing and the provider's reason: the endpoint's status and the message of its error
body, cut short. ``EmbeddingError``'s message is safe to show (no key, no text of a
document: ``ingestion.embedding`` blanks the key and leaves out a message quoting a text).

One key per organization (``opaa:embed-failing:<schema>``), written once per failed
batch and deleted once per embedded batch: nothing is read on the queue's path. It
expires ``FAILING_TTL_S`` after the last failure, should no batch run again to clear it
(the backlog erased meanwhile); a failing queue tries again well within that (its
backoff stops at 5 minutes, beat's sweep runs every 5).
"""

from __future__ import annotations

import contextlib

from django.db import connection
from django_redis import get_redis_connection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)
FAILING_TTL_S = 3600
# A reason is a line of an error message; a longer one is cut, not refused.
REASON_MAX_CHARS = 300


def _key() -> str:
    return f"opaa:embed-failing:{connection.schema_name}"


def embedding_failing_set(*, reason: str) -> None:
    """Note that the organization's embedding fails, with the provider's ``reason``
    (an ``EmbeddingError``'s message: no secret in it). Redis unavailable: not noted."""
    with contextlib.suppress(*_UNAVAILABLE):
        get_redis_connection("default").set(
            _key(), reason[:REASON_MAX_CHARS] or "?", ex=FAILING_TTL_S
        )


def embedding_failing_clear() -> None:
    """A batch embedded: the organization's embedding works (again)."""
    with contextlib.suppress(*_UNAVAILABLE):
        get_redis_connection("default").delete(_key())


def embedding_failing() -> str | None:
    """The reason the organization's last embedding batch failed, if no batch has
    embedded since; None otherwise (or when Redis is unavailable)."""
    try:
        reason = get_redis_connection("default").get(_key())
    except _UNAVAILABLE:
        return None
    return reason.decode() if reason else None
