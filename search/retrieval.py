"""Hybrid retrieval: BM25 over Postgres and pgvector nearest neighbours, fused by rank.

Every query is restricted to the workspaces passed in and to the chunks the asker may
read (``workspaces.readers.ReaderScope``), inside the SQL itself: an unreadable chunk
is never a candidate, so it can neither be returned nor push readable ones out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

from ingestion.embedding import embed_texts
from ingestion.models import Chunk
from search.answering import Passage
from search.keyword import bm25_ranking
from search.ranking import RERANK_CANDIDATES, Reranker, recency_boost, reranker_apply
from workspaces.readers import ReaderScope

# How many candidates each ranker contributes before fusion.
CANDIDATES_PER_RANKER = 50
# At most this many passages of one document in the results, so one long document
# cannot crowd out every other source.
MAX_PASSAGES_PER_DOCUMENT = 2


def _vector_sql(readers: ReaderScope) -> str:
    return f"""
    SELECT c.id, 1 - (c.embedding <=> %(vector)s::vector) AS score
      FROM ingestion_chunk AS c
     WHERE c.workspace_id = ANY(%(workspaces)s) AND {readers.sql("c")}
  ORDER BY c.embedding <=> %(vector)s::vector, c.id
     LIMIT %(limit)s
"""  # noqa: S608 - only a fixed alias is interpolated; inputs are bound parameters


def _vector_exact_sql(readers: ReaderScope) -> str:
    """The same query, but ordering by an expression the HNSW index cannot serve, so
    Postgres computes the exact distance of every readable chunk in scope."""
    return f"""
    SELECT c.id, 1 - (c.embedding <=> %(vector)s::vector) AS score
      FROM ingestion_chunk AS c
     WHERE c.workspace_id = ANY(%(workspaces)s) AND {readers.sql("c")}
  ORDER BY (c.embedding <=> %(vector)s::vector) + 0, c.id
     LIMIT %(limit)s
"""  # noqa: S608 - only a fixed alias is interpolated; inputs are bound parameters


@dataclass(frozen=True)
class Ranked:
    chunk_id: int
    score: float


def _vector_literal(vector: Sequence[float]) -> str:
    """pgvector's text form, cast to ``vector`` in the SQL."""
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"


def keyword_ranking(
    query: str, *, workspace_ids: Sequence[int], readers: ReaderScope, limit: int
) -> list[Ranked]:
    """Readable chunks scored by BM25 over the workspaces' inverted index, best first."""
    return [
        Ranked(item.chunk_id, item.score)
        for item in bm25_ranking(query, workspace_ids=workspace_ids, readers=readers, limit=limit)
    ]


def scope_size(workspace_ids: Sequence[int], *, readers: ReaderScope | None = None) -> int:
    """How many chunks the workspaces hold; with ``readers``, how many of them it may read.

    Without ``readers`` the count is index-only (``chunk_workspace_length``); with them
    each chunk's readers are read, which costs more on a large workspace.
    """
    with connection.cursor() as cursor:
        readable = f" AND {readers.sql('c')}" if readers is not None else ""
        sql = f"""
            SELECT count(*) FROM ingestion_chunk AS c
             WHERE c.workspace_id = ANY(%(workspaces)s){readable}
        """  # noqa: S608 - only a fixed alias is interpolated; inputs are bound parameters
        params = readers.params() if readers is not None else {}
        cursor.execute(sql, {"workspaces": list(workspace_ids), **params})
        return int(cursor.fetchone()[0])


def vector_ranking(
    vector: Sequence[float],
    *,
    workspace_ids: Sequence[int],
    readers: ReaderScope,
    limit: int,
    exact: bool | None = None,
) -> list[Ranked]:
    """The nearest readable chunks of ``workspace_ids`` by cosine distance.

    The pgvector in use filters HNSW results after the index scan, so a selective
    workspace or readers filter can leave fewer than ``limit`` results. Hence the
    strategy: scopes of at most ``VECTOR_EXACT_MAX_CHUNKS`` chunks are searched
    exactly (all distances computed: perfect recall, and cheap at that size); larger
    ones go through HNSW, and if that returns fewer than ``limit`` results while more
    chunks are readable, the search is redone exactly (so k readable results come
    back whenever k exist). ``exact`` forces one way, without the fallback.
    """
    params = {
        "vector": _vector_literal(vector),
        "workspaces": list(workspace_ids),
        "limit": limit,
        **readers.params(),
    }
    fallback = exact is None
    if exact is None:
        exact = scope_size(workspace_ids) <= settings.VECTOR_EXACT_MAX_CHUNKS
    with transaction.atomic(), connection.cursor() as cursor:
        if not exact:
            # set_config(..., true) is SET LOCAL: it ends with this transaction.
            ef_search = max(settings.HNSW_EF_SEARCH, limit)
            cursor.execute("SELECT set_config('hnsw.ef_search', %s, true)", [str(ef_search)])
            cursor.execute(_vector_sql(readers), params)
            rows = cursor.fetchall()
            # Fewer than asked: either that is all the asker may read, or the filter
            # starved the index scan; only the (costlier) readable count tells which.
            if (
                len(rows) >= limit
                or not fallback
                or len(rows) >= scope_size(workspace_ids, readers=readers)
            ):
                return [Ranked(chunk_id, float(score)) for chunk_id, score in rows]
        cursor.execute(_vector_exact_sql(readers), params)
        return [Ranked(chunk_id, float(score)) for chunk_id, score in cursor.fetchall()]


def reciprocal_rank_fusion(
    *rankings: Sequence[Ranked], k: int = 60, weights: Sequence[float] | None = None
) -> list[Ranked]:
    """Fuse rankings: each chunk scores the sum of weight / (k + rank) over the rankings.

    k=60 is Cormack et al.'s (2009) constant: it damps the very top ranks so that
    agreement between rankers wins over one ranker's first place.
    """
    weights = weights or [1.0] * len(rankings)
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            fused[item.chunk_id] = fused.get(item.chunk_id, 0.0) + weight / (k + rank)
    ordered = sorted(fused.items(), key=lambda pair: (-pair[1], pair[0]))
    return [Ranked(chunk_id, score) for chunk_id, score in ordered]


def passages_load(ranked: Sequence[Ranked], *, readers: ReaderScope, k: int) -> list[Passage]:
    """The top ``k`` ranked chunks as passages, at most a few per document.

    Loads only chunks ``readers`` may read (a second guard: the rankers already filter).
    """
    chunks = (
        Chunk.objects.select_related("document")
        .filter(readers.q())
        .in_bulk([r.chunk_id for r in ranked])
    )
    passages: list[Passage] = []
    per_document: dict[int, int] = {}
    for item in ranked:
        chunk = chunks.get(item.chunk_id)
        if chunk is None:
            continue
        if per_document.get(chunk.document_id, 0) >= MAX_PASSAGES_PER_DOCUMENT:
            continue
        per_document[chunk.document_id] = per_document.get(chunk.document_id, 0) + 1
        passages.append(
            Passage(
                chunk_id=chunk.pk,
                document_id=chunk.document_id,
                document_title=chunk.document.title,
                heading_path=tuple(chunk.heading_path),
                text=chunk.text,
                score=item.score,
            )
        )
        if len(passages) == k:
            break
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
) -> list[Passage]:
    """The ``k`` best passages for ``query`` within ``workspace_ids`` that ``readers``
    may read (``workspaces.readers.reader_scope``).

    ``weights`` are the (keyword, vector) fusion weights; the settings' by default.
    With ``recency_half_life_days``, recently indexed documents are favoured
    (``search.ranking.recency_boost``); a ``reranker`` reorders the best candidates
    before the top ``k`` are kept.
    """
    if not workspace_ids or not query.strip():
        return []
    [vector] = embed_texts([query])
    keyword = keyword_ranking(
        query, workspace_ids=workspace_ids, readers=readers, limit=CANDIDATES_PER_RANKER
    )
    dense = vector_ranking(
        vector, workspace_ids=workspace_ids, readers=readers, limit=CANDIDATES_PER_RANKER
    )
    fused = reciprocal_rank_fusion(
        keyword,
        dense,
        k=settings.FUSION_RRF_K,
        weights=weights or (settings.FUSION_KEYWORD_WEIGHT, settings.FUSION_VECTOR_WEIGHT),
    )
    if recency_half_life_days:
        fused = recency_boost(fused, half_life_days=recency_half_life_days)
    if reranker is not None:
        candidates = passages_load(fused, readers=readers, k=RERANK_CANDIDATES)
        return reranker_apply(reranker, query, candidates, k=k)
    return passages_load(fused, readers=readers, k=k)
