"""Hybrid retrieval: BM25 over Postgres and pgvector nearest neighbours, fused by score.

Both rankings come from the index (``ingestion.index``); this module fuses them
(``search.fusion``: a per-question weighted mean of normalised scores), loads
the passages and hands them to the optional second steps (``search.ranking``). Every
query is restricted to the workspaces passed in and to the chunks the asker may read
(``workspaces.readers.ReaderScope``), inside the SQL itself: an unreadable chunk is
never a candidate, so it can neither be returned nor push readable ones out.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings

from ingestion.coverage import question_coverage
from ingestion.embedding import embed_texts
from ingestion.index import (
    Ranked,
    WordStatistics,
    bm25_ranking,
    bm25_search,
    chunks_shown,
    vector_ranking,
)
from search.answering import Passage
from search.facts import facts_promote
from search.fusion import reciprocal_rank_fusion, score_fusion
from search.ranking import RERANK_CANDIDATES, Reranker, recency_boost, reranker_apply
from search.rerank import LLMReranker
from search.rewrite import WEIGHT_QUESTION, Rewrite, rankings_fuse
from workspaces.readers import ReaderScope
from workspaces.rls.parallel import read_beside

__all__ = ["reciprocal_rank_fusion", "score_fusion"]  # imported from here by the evaluation

# How many candidates each ranker contributes before fusion.
CANDIDATES_PER_RANKER = 50
# At most this many passages of one document in the results, so one long document
# cannot crowd out every other source.
MAX_PASSAGES_PER_DOCUMENT = 2
# Ranked chunks loaded at a time per passage asked for; more only if too many were
# unreadable or from documents already shown twice.
PASSAGES_LOAD_PER_RESULT = 4


def keyword_ranking(
    query: str, *, workspace_ids: Sequence[int], readers: ReaderScope, limit: int
) -> list[Ranked]:
    """Readable chunks scored by BM25 over the workspaces' inverted index, best first."""
    return bm25_ranking(query, workspace_ids=workspace_ids, readers=readers, limit=limit)


def question_fusion(
    question: str,
    keyword: Sequence[Ranked],
    vector: Sequence[Ranked],
    *,
    workspace_ids: Sequence[int],
    readers: ReaderScope,
    weights: tuple[float, float] | None = None,
    statistics: WordStatistics | None = None,
    coverage: dict[int, float] | None = None,
) -> list[Ranked]:
    """The question's keyword and vector rankings fused (``search.fusion.score_fusion``),
    tempered by each candidate's coverage of the question (``ingestion.coverage``);
    ``weights`` the (keyword, vector) fusion weights, the settings' by default. What
    ``hybrid_search`` does for each query, and what the evaluation scores as hybrid.

    ``statistics``: those the keyword ranking was scored with (``bm25_search``), not
    counted again for the coverage; ``coverage``: the candidates' coverage itself, when
    the caller fuses the same rankings more than once (``fusion_coverage``)."""
    if coverage is None:
        coverage = fusion_coverage(
            question,
            keyword,
            vector,
            workspace_ids=workspace_ids,
            readers=readers,
            statistics=statistics,
        )
    return score_fusion(
        keyword,
        vector,
        weights=weights or (settings.FUSION_KEYWORD_WEIGHT, settings.FUSION_VECTOR_WEIGHT),
        depth=CANDIDATES_PER_RANKER,
        coverage=coverage,
    )


def fusion_coverage(
    question: str,
    keyword: Sequence[Ranked],
    vector: Sequence[Ranked],
    *,
    workspace_ids: Sequence[int],
    readers: ReaderScope,
    statistics: WordStatistics | None = None,
) -> dict[int, float]:
    """The coverage of the question (``ingestion.coverage``) of every candidate of the
    two rankings, as ``question_fusion`` tempers them."""
    return question_coverage(
        question,
        chunk_ids=[r.chunk_id for r in (*keyword, *vector)],
        workspace_ids=workspace_ids,
        readers=readers,
        statistics=statistics,
    )


def passages_load(ranked: Sequence[Ranked], *, readers: ReaderScope, k: int) -> list[Passage]:
    """The top ``k`` ranked chunks as passages, at most a few per document.

    Loads only chunks ``readers`` may read (a second guard: the rankers already filter),
    best first, a few times ``k`` at a time (the fused ranking holds up to a hundred),
    and not their vectors and words, which a passage does not show: loading all of them
    cost more than both rankings at 100k chunks (bench/retrieval_scale.py).
    """
    ranked = list(ranked)
    window = max(PASSAGES_LOAD_PER_RESULT * k, 20)
    passages: list[Passage] = []
    per_document: dict[int, int] = {}
    for start in range(0, len(ranked), window):
        batch = ranked[start : start + window]
        chunks = chunks_shown([r.chunk_id for r in batch], readers=readers)
        for item in batch:
            chunk = chunks.get(item.chunk_id)
            if chunk is None:
                continue
            document_id = chunk.document_id
            if per_document.get(document_id, 0) >= MAX_PASSAGES_PER_DOCUMENT:
                continue
            per_document[document_id] = per_document.get(document_id, 0) + 1
            passages.append(
                Passage(
                    chunk_id=chunk.chunk_id,
                    document_id=document_id,
                    document_title=chunk.document_title,
                    heading_path=chunk.heading_path,
                    text=chunk.text,
                    score=item.score,
                )
            )
            if len(passages) == k:
                return passages
    return passages


def hybrid_search(
    query: str,
    *,
    workspace_ids: Sequence[int],
    readers: ReaderScope,
    k: int,
    weights: tuple[float, float] | None = None,
    recency_half_life_days: float | None = None,
    reranker: Reranker | None = None,
    rewrites: Sequence[Rewrite] = (),
    llm_reranker: LLMReranker | None = None,
) -> list[Passage]:
    """The ``k`` best passages for ``query`` within ``workspace_ids`` that ``readers``
    may read (``workspaces.readers.reader_scope``).

    ``weights`` are the (keyword, vector) fusion weights, multiplied with each ranker's
    confidence in this question (``search.fusion.score_fusion``); the settings' by default.
    With ``recency_half_life_days``, recently indexed documents are favoured
    (``search.ranking.recency_boost``); a ``reranker`` reorders the best candidates
    before the top ``k`` are kept.

    ``rewrites`` (the LLM's other queries and translations, ``search.rewrite``) are each
    ranked like ``query`` and the rankings fused (``search.rewrite.rankings_fuse``); an
    ``llm_reranker`` (``search.rerank``) then orders the best passages, after ``reranker``.
    """
    if not workspace_ids or not query.strip():
        return []
    queries = [query, *(r.text for r in rewrites)]
    # Each query's keyword search starts on another connection (``read_beside``: when it
    # can) while the queries are embedded and searched by vector here.
    keyword_searches = [
        read_beside(
            bm25_search,
            text,
            workspace_ids=workspace_ids,
            readers=readers,
            limit=CANDIDATES_PER_RANKER,
        )
        for text in queries
    ]
    rankings = []
    for text, vector, searching in zip(
        queries, embed_texts(queries), keyword_searches, strict=True
    ):
        dense = vector_ranking(
            vector, workspace_ids=workspace_ids, readers=readers, limit=CANDIDATES_PER_RANKER
        )
        keyword, statistics = searching.result()
        rankings.append(
            question_fusion(
                text,
                keyword,
                dense,
                workspace_ids=workspace_ids,
                readers=readers,
                weights=weights,
                statistics=statistics,
            )
        )
    fused = rankings[0]
    if rewrites:
        fused = rankings_fuse(rankings, [WEIGHT_QUESTION, *(r.weight for r in rewrites)])
    # Questions about attributes and numbers: the entities whose facts satisfy them first.
    fused = facts_promote(query, fused, workspace_ids=workspace_ids, readers=readers)
    if recency_half_life_days:
        fused = recency_boost(fused, half_life_days=recency_half_life_days)
    if reranker is not None:
        candidates = passages_load(fused, readers=readers, k=RERANK_CANDIDATES)
        if llm_reranker is None:
            return reranker_apply(reranker, query, candidates, k=k)
        candidates = reranker_apply(reranker, query, candidates, k=len(candidates))
        return llm_reranker.apply(query, candidates)[:k]
    if llm_reranker is not None:
        candidates = passages_load(fused, readers=readers, k=max(k, llm_reranker.candidates))
        return llm_reranker.apply(query, candidates)[:k]
    return passages_load(fused, readers=readers, k=k)
