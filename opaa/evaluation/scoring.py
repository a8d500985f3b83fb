"""Ranking every judged query three ways (keyword, vector, and their fusion), as the
product ranks, and scoring the rankings: per query, overall and per query category."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from statistics import fmean

from ingestion.embedding import embed_texts
from opaa.evaluation.metrics import (
    documents_from_chunks,
    mrr_at_k,
    ndcg_at_k,
    percentile,
    recall_at_k,
)
from search.facts import facts_promote
from search.llm import LLMConfig, LLMUsage
from search.rerank import LLMReranker
from search.retrieval import (
    CANDIDATES_PER_RANKER,
    Ranked,
    fusion_coverage,
    keyword_ranking,
    passages_load,
    question_fusion,
    vector_ranking,
)
from search.rewrite import WEIGHT_QUESTION, query_rewrites, rankings_fuse
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
    text: str,
    keyword: Sequence[Ranked],
    vector: Sequence[Ranked],
    workspace_ids: Sequence[int],
    coverage: dict[int, float] | None = None,
) -> list[Ranked]:
    """The two rankings fused as ``hybrid_search`` fuses them (``search.retrieval.question_fusion``
    with the configured weights, then the facts step for questions about attributes and
    numbers). The hybrid reuses the keyword and vector results rather than ranking again,
    and ``coverage`` their candidates' coverage when the caller has it."""
    fused = _fused(text, keyword, vector, workspace_ids, coverage=coverage)
    readers = ReaderScope.everything(workspace_ids)
    return facts_promote(text, fused, workspace_ids=workspace_ids, readers=readers)


# The methods the LLM steps add (``--rewrite``, ``--rerank``): name -> (rewrite, rerank).
LLM_METHODS = {
    "hybrid+rewrite": (True, False),
    "hybrid+rerank": (False, True),
    "hybrid+rewrite+rerank": (True, True),
}


def llm_methods(*, rewrite: bool, rerank: bool) -> list[str]:
    """The LLM methods to score: each step asked for alone, and both when both are."""
    return [
        name
        for name, (rw, rr) in LLM_METHODS.items()
        if (rw or rr) and (rw <= rewrite) and (rr <= rerank)
    ]


def _fused(
    text: str,
    keyword: Sequence[Ranked],
    vector: Sequence[Ranked],
    workspace_ids: Sequence[int],
    weights: tuple[float, float] | None = None,
    coverage: dict[int, float] | None = None,
) -> list[Ranked]:
    readers = ReaderScope.everything(workspace_ids)
    return question_fusion(
        text,
        keyword,
        vector,
        workspace_ids=workspace_ids,
        readers=readers,
        weights=weights,
        coverage=coverage,
    )


def _rewritten(
    text: str, fused: list[Ranked], workspace_ids: Sequence[int], llm: LLMConfig, usage: LLMUsage
) -> list[Ranked]:
    """``fused`` (the question's fused ranking) fused with those of the LLM's rewrites, as
    ``hybrid_search`` does with the rewrite on (``search.rewrite``)."""
    readers = ReaderScope.everything(workspace_ids)
    rewrites = query_rewrites(text, llm, workspace_ids=workspace_ids, readers=readers, usage=usage)
    if not rewrites:
        return fused
    rankings = [fused]
    for rewrite in rewrites:
        rankings.append(
            _fused(
                rewrite.text,
                _keyword(rewrite.text, workspace_ids),
                _vector(rewrite.text, workspace_ids),
                workspace_ids,
            )
        )
    return rankings_fuse(rankings, [WEIGHT_QUESTION, *(r.weight for r in rewrites)])


def _reranked(
    text: str, ranked: list[Ranked], workspace_ids: Sequence[int], llm: LLMConfig, usage: LLMUsage
) -> list[Ranked]:
    """``ranked`` with its best passages in the LLM's order (``search.rerank``), the
    rest after them: what ``hybrid_search`` returns with reranking on."""
    readers = ReaderScope.everything(workspace_ids)
    reranker = LLMReranker.from_settings(llm, usage=usage)
    passages = passages_load(ranked, readers=readers, k=reranker.candidates)
    head = [p.chunk_id for p in reranker.apply(text, passages)]
    scores = {item.chunk_id: item.score for item in ranked}
    return [Ranked(c, scores[c]) for c in head] + [r for r in ranked if r.chunk_id not in head]


def _llm_rankings(
    text: str,
    keyword: Sequence[Ranked],
    vector: Sequence[Ranked],
    workspace_ids: Sequence[int],
    *,
    llm: LLMConfig,
    methods: Sequence[str],
    usage: dict[str, LLMUsage],
    coverage: dict[int, float] | None = None,
) -> dict[str, tuple[list[Ranked], float]]:
    """Each LLM method's ranking and the milliseconds its LLM steps and extra rankings
    took (the rewrite is asked once and shared by the methods that use it)."""
    readers = ReaderScope.everything(workspace_ids)
    fused = _fused(text, keyword, vector, workspace_ids, coverage=coverage)
    results: dict[str, tuple[list[Ranked], float]] = {}
    rewritten, rewrite_ms = fused, 0.0
    if any(LLM_METHODS[m][0] for m in methods):
        steps = LLMUsage()
        started = time.perf_counter()
        rewritten = _rewritten(text, fused, workspace_ids, llm, steps)
        rewrite_ms = (time.perf_counter() - started) * 1000
        for method in methods:
            if LLM_METHODS[method][0]:
                usage[method].add(steps.prompt_tokens, steps.completion_tokens)
    for method in methods:
        rewrite, rerank = LLM_METHODS[method]
        started = time.perf_counter()
        ranked = facts_promote(
            text, rewritten if rewrite else fused, workspace_ids=workspace_ids, readers=readers
        )
        if rerank:
            steps = LLMUsage()
            ranked = _reranked(text, ranked, workspace_ids, llm, steps)
            usage[method].add(steps.prompt_tokens, steps.completion_tokens)
        elapsed = (time.perf_counter() - started) * 1000
        results[method] = (ranked, elapsed + (rewrite_ms if rewrite else 0.0))
    return results


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
    # The LLM methods' tokens over all queries: method -> {"calls", "prompt_tokens", ...}.
    llm_usage: dict[str, dict[str, int]] = field(default_factory=dict)


def methods_score(
    *,
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    workspace_ids: Sequence[int],
    chunk_documents: Mapping[int, str | Sequence[str]],
    progress: Progress,
    fusion_weights: Sequence[tuple[float, float]] = (),
    categories: Mapping[str, str | None] | None = None,
    llm: LLMConfig | None = None,
    llm_method_names: Sequence[str] = (),
) -> Scored:
    """Rank every query with every method; average the metrics overall and per category.

    A method's latency covers the whole ranking call, including the query embedding.
    Each (keyword, vector) pair of ``fusion_weights`` adds a method ``hybrid k:v``: the
    same two rankings fused with those weights (its latency is the hybrid's).
    ``categories`` maps a query id to its category; queries without one count only in
    the overall figures. With an ``llm``, each of ``llm_method_names`` (``LLM_METHODS``)
    adds the hybrid with those LLM steps; its latency is the hybrid's plus theirs.
    """
    embed_texts(["warm-up"])  # load the model before anything is timed
    categories = categories or {}
    llm_method_names = list(llm_method_names) if llm is not None else []
    methods = [
        *METHODS,
        *(fusion_method_name(weights) for weights in fusion_weights),
        *llm_method_names,
    ]
    usage = {method: LLMUsage() for method in llm_method_names}
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
        # The candidates' coverage once per question, for every fusion of its rankings.
        coverage = fusion_coverage(
            text,
            rankings["keyword"],
            rankings["vector"],
            workspace_ids=workspace_ids,
            readers=ReaderScope.everything(workspace_ids),
        )
        rankings["hybrid"] = _hybrid(
            text, rankings["keyword"], rankings["vector"], workspace_ids, coverage
        )
        latency = (time.perf_counter() - started) * 1000
        latency += results["keyword"]["latency_ms"] + results["vector"]["latency_ms"]
        results["hybrid"] = score(rankings["hybrid"], judgments, latency)
        for weights in fusion_weights:
            fused = _fused(
                text, rankings["keyword"], rankings["vector"], workspace_ids, weights, coverage
            )
            latency = results["hybrid"]["latency_ms"]
            results[fusion_method_name(weights)] = score(fused, judgments, latency)
        if llm_method_names:
            before = {m: (usage[m].prompt_tokens, usage[m].completion_tokens) for m in usage}
            extra = _llm_rankings(
                text,
                rankings["keyword"],
                rankings["vector"],
                workspace_ids,
                llm=llm,
                methods=llm_method_names,
                usage=usage,
                coverage=coverage,
            )
            base = results["keyword"]["latency_ms"] + results["vector"]["latency_ms"]
            for method, (ranked, llm_ms) in extra.items():
                results[method] = score(ranked, judgments, base + llm_ms)
                prompt, completion = before[method]
                results[method]["llm_prompt_tokens"] = usage[method].prompt_tokens - prompt
                results[method]["llm_completion_tokens"] = (
                    usage[method].completion_tokens - completion
                )
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
        llm_usage={method: asdict(spent) for method, spent in usage.items()},
    )
