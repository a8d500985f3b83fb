"""Optional second steps after fusion: favouring recent documents, and reranking.

Both are off unless configured. **Recency** multiplies each fused score by
``0.5 ** (age / half_life)``, the age being the time since the chunk's document was
last indexed: with a half-life of 90 days, a passage indexed 90 days ago needs twice
the fused score of one indexed today to rank above it. **Reranking** hands the best
``RERANK_CANDIDATES`` passages to a reranker, which reorders them; the top k are kept.

The reranker shipped here speaks the ``/rerank`` protocol that Cohere, Jina, vLLM
(``/v1/rerank``) and LiteLLM share: ``{"model", "query", "documents", "top_n"}`` in,
``{"results": [{"index", "relevance_score"}, ...]}`` out. A reranker that fails
leaves the fused order as it was: reranking may improve an answer, never stop one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

import httpx
from django.utils import timezone

from ingestion.index import Ranked
from ingestion.models import Chunk
from search.answering import Passage

logger = logging.getLogger(__name__)

# How many fused passages a reranker sees; it returns them reordered.
RERANK_CANDIDATES = 30
# Recency is applied to this many of the best fused chunks (the rest keep their order
# after them): enough to reorder what can reach the top k, one small query.
RECENCY_CANDIDATES = 200


class RerankError(Exception):
    """The reranker could not reorder the passages (the message never holds a key)."""


class Reranker(Protocol):
    def rerank(self, query: str, texts: Sequence[str]) -> list[float]:
        """A relevance score for each of ``texts`` (same order), higher is better."""
        ...


@dataclass(frozen=True)
class HttpReranker:
    """A ``/rerank`` endpoint: ``POST {api_base}/rerank``."""

    api_base: str
    model: str
    api_key: str = field(default="", repr=False)
    timeout: float = 10.0

    def rerank(self, query: str, texts: Sequence[str]) -> list[float]:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        url = self.api_base.rstrip("/") + "/rerank"
        payload = {"model": self.model, "query": query, "documents": list(texts)}
        payload["top_n"] = len(texts)
        try:
            response = httpx.post(url, json=payload, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise RerankError(f"reranker at {self.api_base} unreachable: {exc!s}") from None
        if response.status_code != 200:
            raise RerankError(f"reranker at {self.api_base} answered {response.status_code}")
        try:
            results = response.json()["results"]
            scores = [float("-inf")] * len(texts)
            for result in results:
                scores[int(result["index"])] = float(result["relevance_score"])
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise RerankError(f"reranker reply not understood: {exc!s}") from None
        return scores


def reranker_apply(
    reranker: Reranker, query: str, passages: list[Passage], *, k: int
) -> list[Passage]:
    """The ``k`` best of ``passages`` by the reranker's scores (fused order if it fails).

    Ties keep the fused order; a passage's ``score`` becomes the reranker's.
    """
    if not passages:
        return []
    try:
        scores = reranker.rerank(query, [p.text for p in passages])
    except RerankError as exc:
        logger.warning("reranking skipped: %s", exc)
        return passages[:k]
    order = sorted(range(len(passages)), key=lambda i: (-scores[i], i))
    return [replace(passages[i], score=scores[i]) for i in order[:k]]


def recency_factor(indexed_at: datetime | None, *, half_life_days: float, now: datetime) -> float:
    """``0.5 ** (age_days / half_life_days)``; 1 for a document never indexed or from the future."""
    if indexed_at is None:
        return 1.0
    age_days = max((now - indexed_at).total_seconds() / 86400, 0.0)
    return 0.5 ** (age_days / half_life_days)


def recency_boost(
    fused: Sequence[Ranked], *, half_life_days: float, now: datetime | None = None
) -> list[Ranked]:
    """``fused`` reordered by score times the recency factor of each chunk's document."""
    now = now or timezone.now()
    head, tail = list(fused[:RECENCY_CANDIDATES]), list(fused[RECENCY_CANDIDATES:])
    indexed = dict(
        Chunk.objects.filter(pk__in=[item.chunk_id for item in head]).values_list(
            "pk", "document__indexed_at"
        )
    )
    boosted = [
        replace(
            item,
            score=item.score
            * recency_factor(indexed.get(item.chunk_id), half_life_days=half_life_days, now=now),
        )
        for item in head
    ]
    boosted.sort(key=lambda item: (-item.score, item.chunk_id))
    return boosted + tail
