"""The metrics of a retrieval evaluation (nDCG@k, recall@k, MRR@k); pure functions.

They follow the usual BEIR/trec_eval definitions: graded gain taken as the qrels score,
log2 discount. Rankings are lists of distinct ids, best first. They live in search (not
in ``opaa.evaluation``, which re-exports them) so that ``manage.py evaluate`` and
analytics' golden questions score with the same functions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from search.retrieval import Ranked


def _dcg(gains: Sequence[float]) -> float:
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1))


def ndcg_at_k(ranking: Sequence[str], judgments: Mapping[str, int], k: int) -> float:
    """nDCG@k with the qrels score as gain; ``ranking`` holds distinct document ids."""
    ideal = _dcg(sorted((s for s in judgments.values() if s > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return _dcg([max(judgments.get(doc, 0), 0) for doc in ranking[:k]]) / ideal


def recall_at_k(ranking: Sequence[str], judgments: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents (score > 0) found in the top ``k``."""
    relevant = {doc for doc, score in judgments.items() if score > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def mrr_at_k(ranking: Sequence[str], judgments: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document in the top ``k``, else 0."""
    for rank, doc in enumerate(ranking[:k], start=1):
        if judgments.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), interpolating linearly between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def documents_from_chunks(
    ranked: Sequence[Ranked], *, chunk_documents: Mapping[int, str | Sequence[str]], limit: int
) -> list[str]:
    """Corpus ids in the order of their best chunk, each once, at most ``limit``.

    A chunk may stand for several corpus ids (entries with identical content share one
    indexed document): they follow each other at that chunk's place, in corpus order.
    """
    documents: list[str] = []
    seen: set[str] = set()
    for item in ranked:
        found = chunk_documents.get(item.chunk_id)
        for document in (found,) if isinstance(found, str) else found or ():
            if document in seen:
                continue
            seen.add(document)
            documents.append(document)
            if len(documents) == limit:
                return documents
    return documents
