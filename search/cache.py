"""The answer cache (Redis): the same question in the same scope gets the same answer.

A key is made of the organization, the workspace, the workspace's *index version*
(``ingestion.index.index_version``), the asker's *readable scope*
(``ReaderScope.cache_key``: which of the workspace's restricted documents they may
read) and a hash of the normalized question and the answering model. Every change to
the workspace's index (a document indexed, re-indexed, deleted or given other
readers) bumps the version (``ingestion.index.index_changed``), so older answers are
never served again and simply expire. An answer is therefore only served to askers
who may read exactly the documents it was written from.

The version lives in Redis, and a bump can be missed (Redis down when a change
commits, the key evicted). So a cached answer is also checked when it is served: every
passage it cites must still exist and be readable by the asker, or it is not served.
While Redis is unavailable the cache is skipped (questions are answered, not cached).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ingestion.index import index_version
from ingestion.models import Chunk
from search.answering import Answer, Citation, Passage
from workspaces.readers import ReaderScope

logger = logging.getLogger(__name__)

_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)


def answer_key(question: str, *, workspace_id: int, readers: ReaderScope, model: str) -> str | None:
    """The cache key of ``question``'s answer, taken *before* retrieval starts.

    The key holds the workspace's index version as it was then: an answer whose
    passages were read before a change to the index (a document restricted, deleted,
    re-indexed) is stored under the old version and never served after the change,
    even when it is stored after the version moved on. None while Redis is unavailable
    (the answer is then neither looked up nor stored).
    """
    normalized = " ".join(question.lower().split())
    digest = hashlib.sha256(f"{model}\n{normalized}".encode()).hexdigest()
    try:
        version = index_version(workspace_id)
    except _REDIS_DOWN:
        return None
    scope = readers.cache_key(workspace_id)
    return f"answer:{connection.schema_name}:{workspace_id}:{version}:{scope}:{digest}"


def answer_cached(key: str | None, *, readers: ReaderScope) -> Answer | None:
    """The answer cached under ``key`` if every passage it cites is still there and
    readable by ``readers``; None otherwise, or while Redis is unavailable."""
    if key is None or not settings.ANSWER_CACHE_TTL_S:
        return None
    try:
        data = cache.get(key)
    except _REDIS_DOWN:
        return None
    if data is None:
        return None
    citations = [
        Citation(
            number=c["number"],
            passage=Passage(
                **{**c["passage"], "heading_path": tuple(c["passage"]["heading_path"])}
            ),
        )
        for c in data.pop("citations")
    ]
    cited = {citation.passage.chunk_id for citation in citations}
    if cited and Chunk.objects.filter(readers.q(), pk__in=cited).count() != len(cited):
        return None  # a cited passage was since restricted, re-indexed or deleted
    # Served from the cache: no tokens were spent on it.
    return Answer(**{**data, "prompt_tokens": 0, "completion_tokens": 0}, citations=citations)


def answer_store(key: str | None, answer: Answer) -> None:
    """Cache ``answer`` under ``key`` (from :func:`answer_key`, taken before retrieval)."""
    if key is None or not settings.ANSWER_CACHE_TTL_S:
        return
    try:
        cache.set(key, dataclasses.asdict(answer), timeout=settings.ANSWER_CACHE_TTL_S)
    except _REDIS_DOWN:
        logger.warning("answer not cached: Redis unavailable")
