"""Ranking every judged query three ways (keyword, vector, and their fusion), as the
product ranks, and scoring the rankings: per query, overall and per query category."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from statistics import fmean

from django.conf import settings

from ingestion.embedding import embed_texts
from opaa.evaluation.metrics import (
    documents_from_chunks,
    mrr_at_k,
    ndcg_at_k,
    percentile,
    recall_at_k,
)
from search.facts import facts_promote
from search.retrieval import (
    CANDIDATES_PER_RANKER,
    Ranked,
    keyword_ranking,
    score_fusion,
    vector_ranking,
)
from workspaces.readers import ReaderScope

METHODS = ("keyword", "vector", "hybrid")
# Documents scored per query: the deepest cutoff reported (Recall@100).
TOP_DOCUMENTS = 100
# Chunks asked of each ranker: as many as ``hybrid_search`` asks, so the hybrid figure
# is what users get and keyword and vector are measured at the same depth. A document
# is often cut into several chunks, so fewer than TOP_DOCUMENTS documents may come back;
# the report's mean "documents returned" shows how many (and so what Recall@100 means).
CHUNK_DEPTH = CANDIDATES_PER_RANKER
PROGRESS_EVERY_QUERIES = 50

Progress = Callable[[str], None]


@dataclass(frozen=True)
class MethodScores:
    ndcg_at_10: float
    recall_at_10: float
    recall_at_100: float
    mrr_at_10: float
    latency_p50_ms: float
    latency_p95_ms: float
    documents_returned: float  # mean per query, at most TOP_DOCUMENTS


# The evaluation acts for no person: it measures ranking over every document.


def _keyword(text: str, workspace_ids: Sequence[int]) -> list[Ranked]:
    readers = ReaderScope.everything(workspace_ids)
    return keyword_ranking(text, workspace_ids=workspace_ids, readers=readers, limit=CHUNK_DEPTH)


def _vector(text: str, workspace_ids: Sequence[int]) -> list[Ranked]:
    [vector] = embed_texts([text])
    readers = ReaderScope.everything(workspace_ids)
    return vector_ranking(vector, workspace_ids=workspace_ids, readers=readers, limit=CHUNK_DEPTH)


def _hybrid(
    text: str, keyword: Sequence[Ranked], vector: Sequence[Ranked], workspace_ids: Sequence[int]
) -> list[Ranked]:
    """The two rankings fused as ``hybrid_search`` fuses them (``search.fusion.score_fusion``
    with the configured weights, then the facts step for questions about attributes and
    numbers). The hybrid reuses the keyword and vector results rather than ranking again."""
    fused = score_fusion(
        keyword,
        vector,
        weights=(settings.FUSION_KEYWORD_WEIGHT, settings.FUSION_VECTOR_WEIGHT),
    )
    readers = ReaderScope.everything(workspace_ids)
    return facts_promote(text, fused, workspace_ids=workspace_ids, readers=readers)


RANKERS: dict[str, Callable[[str, Sequence[int]], list[Ranked]]] = {
    "keyword": _keyword,
    "vector": _vector,
}


def fusion_method_name(weights: tuple[float, float]) -> str:
    return f"hybrid {weights[0]:g}:{weights[1]:g}"


def _relevant_ranks(ranking: Sequence[str], judgments: Mapping[str, int]) -> dict[str, int | None]:
    """Rank (1-based) of each relevant corpus id in ``ranking``; None if it is not there."""
    position = {document: rank for rank, document in enumerate(ranking, start=1)}
    return {doc: position.get(doc) for doc, score in judgments.items() if score > 0}


def _aggregate(rows: Sequence[Mapping], methods: Sequence[str]) -> dict[str, MethodScores]:
    """Mean metrics and latency percentiles of each method over ``rows`` (per-query rows)."""
    scores: dict[str, MethodScores] = {}
    for method in methods:
        results = [row["methods"][method] for row in rows]
        latencies = [result["latency_ms"] for result in results]
        scores[method] = MethodScores(
            ndcg_at_10=fmean(result["ndcg_at_10"] for result in results),
            recall_at_10=fmean(result["recall_at_10"] for result in results),
            recall_at_100=fmean(result["recall_at_100"] for result in results),
            mrr_at_10=fmean(result["mrr_at_10"] for result in results),
            latency_p50_ms=percentile(latencies, 50),
            latency_p95_ms=percentile(latencies, 95),
            documents_returned=fmean(result["documents_returned"] for result in results),
        )
    return scores


@dataclass(frozen=True)
class Scored:
    methods: dict[str, MethodScores]
    # category -> method -> scores, over the queries of that category (empty: no categories)
    categories: dict[str, dict[str, MethodScores]]
    category_sizes: dict[str, int]
    per_query: list[dict]  # one row per query: id, category, each method's metrics and ranks


def methods_score(
    *,
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    workspace_ids: Sequence[int],
    chunk_documents: Mapping[int, str | Sequence[str]],
    progress: Progress,
    fusion_weights: Sequence[tuple[float, float]] = (),
    categories: Mapping[str, str | None] | None = None,
) -> Scored:
    """Rank every query with every method; average the metrics overall and per category.

    A method's latency covers the whole ranking call, including the query embedding.
    Each (keyword, vector) pair of ``fusion_weights`` adds a method ``hybrid k:v``: the
    same two rankings fused with those weights (its latency is the hybrid's).
    ``categories`` maps a query id to its category; queries without one count only in
    the overall figures.
    """
    embed_texts(["warm-up"])  # load the model before anything is timed
    categories = categories or {}
    methods = [*METHODS, *(fusion_method_name(weights) for weights in fusion_weights)]
    rows: list[dict] = []

    def score(ranked: Sequence[Ranked], judgments: Mapping[str, int], latency: float) -> dict:
        ranking = documents_from_chunks(
            ranked, chunk_documents=chunk_documents, limit=TOP_DOCUMENTS
        )
        return {
            "ndcg_at_10": ndcg_at_k(ranking, judgments, 10),
            "recall_at_10": recall_at_k(ranking, judgments, 10),
            "recall_at_100": recall_at_k(ranking, judgments, 100),
            "mrr_at_10": mrr_at_k(ranking, judgments, 10),
            "latency_ms": latency,
            "documents_returned": len(ranking),
            "relevant_ranks": _relevant_ranks(ranking, judgments),
        }

    for done, (query_id, text) in enumerate(queries.items(), start=1):
        judgments = qrels[query_id]
        rankings: dict[str, list[Ranked]] = {}
        results: dict[str, dict] = {}
        for method, ranker in RANKERS.items():
            started = time.perf_counter()
            rankings[method] = ranker(text, workspace_ids)
            latency = (time.perf_counter() - started) * 1000
            results[method] = score(rankings[method], judgments, latency)
        # The hybrid's latency: both rankings (as hybrid_search runs them) plus the fusion.
        started = time.perf_counter()
        rankings["hybrid"] = _hybrid(text, rankings["keyword"], rankings["vector"], workspace_ids)
        latency = (time.perf_counter() - started) * 1000
        latency += results["keyword"]["latency_ms"] + results["vector"]["latency_ms"]
        results["hybrid"] = score(rankings["hybrid"], judgments, latency)
        for weights in fusion_weights:
            fused = score_fusion(rankings["keyword"], rankings["vector"], weights=weights)
            latency = results["hybrid"]["latency_ms"]
            results[fusion_method_name(weights)] = score(fused, judgments, latency)
        rows.append(
            {
                "query_id": query_id,
                "text": text,
                "category": categories.get(query_id),
                "methods": results,
            }
        )
        if done % PROGRESS_EVERY_QUERIES == 0 or done == len(queries):
            progress(f"ranked {done}/{len(queries)} queries")
    grouped: dict[str, list[dict]] = {}
    for row in rows:
        if row["category"] is not None:
            grouped.setdefault(row["category"], []).append(row)
    return Scored(
        methods=_aggregate(rows, methods),
        categories={name: _aggregate(members, methods) for name, members in grouped.items()},
        category_sizes={name: len(members) for name, members in grouped.items()},
        per_query=rows,
    )
