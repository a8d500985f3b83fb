"""The answer cache (Redis): the same question in the same scope gets the same answer.

A key is made of the organization, the workspace, the workspace's *index version*,
the asker's *readable scope* (``ReaderScope.cache_key``: which of the workspace's
restricted documents they may read) and a hash of the normalized question and the
answering model. Every change to the workspace's index (a document indexed,
re-indexed, deleted or given other readers) bumps the version, so older answers are
never served again and simply expire. An answer is therefore only served to askers
who may read exactly the documents it was written from.
"""

from __future__ import annotations

import dataclasses
import hashlib

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

from search.answering import Answer, Citation, Passage
from workspaces.readers import ReaderScope


def _version_key(workspace_id: int) -> str:
    return f"index-version:{connection.schema_name}:{workspace_id}"


def index_version(workspace_id: int) -> int:
    return int(cache.get(_version_key(workspace_id), 0))


def index_changed(*, workspace_id: int) -> None:
    """Invalidate the workspace's cached answers once the current transaction commits."""

    def bump() -> None:
        key = _version_key(workspace_id)
        cache.add(key, 0, timeout=None)
        cache.incr(key)

    transaction.on_commit(bump)


def answer_key(question: str, *, workspace_id: int, readers: ReaderScope, model: str) -> str:
    """The cache key of ``question``'s answer, taken *before* retrieval starts.

    The key holds the workspace's index version as it was then: an answer whose
    passages were read before a change to the index (a document restricted, deleted,
    re-indexed) is stored under the old version and never served after the change,
    even when it is stored after the version moved on.
    """
    normalized = " ".join(question.lower().split())
    digest = hashlib.sha256(f"{model}\n{normalized}".encode()).hexdigest()
    version = index_version(workspace_id)
    scope = readers.cache_key(workspace_id)
    return f"answer:{connection.schema_name}:{workspace_id}:{version}:{scope}:{digest}"


def answer_cached(key: str) -> Answer | None:
    if not settings.ANSWER_CACHE_TTL_S:
        return None
    data = cache.get(key)
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
    # Served from the cache: no tokens were spent on it.
    return Answer(**{**data, "prompt_tokens": 0, "completion_tokens": 0}, citations=citations)


def answer_store(key: str, answer: Answer) -> None:
    """Cache ``answer`` under ``key`` (from :func:`answer_key`, taken before retrieval)."""
    if settings.ANSWER_CACHE_TTL_S:
        cache.set(key, dataclasses.asdict(answer), timeout=settings.ANSWER_CACHE_TTL_S)
