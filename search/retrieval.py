"""Hybrid retrieval: Postgres full-text and pgvector, fused by reciprocal rank.

Every query is restricted to the workspaces passed in, inside the SQL itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

from ingestion.embedding import embed_texts
from ingestion.models import Chunk
from search.answering import Passage

# Reciprocal-rank fusion constant from Cormack et al. (2009); 60 damps the influence
# of the very top ranks so that agreement between the two rankers wins.
RRF_K = 60
# How many candidates each ranker contributes before fusion.
CANDIDATES_PER_RANKER = 50
# At most this many passages of one document in the results, so one long document
# cannot crowd out every other source.
MAX_PASSAGES_PER_DOCUMENT = 2

_KEYWORD_SQL = """
    WITH q AS (
        -- plainto_tsquery ANDs the words; a question should match passages with any.
        SELECT to_tsquery(
                   'english',
                   replace(plainto_tsquery('english', %(text)s)::text, ' & ', ' | ')
               ) AS query
    )
    SELECT c.id, ts_rank_cd(c.search_vector, q.query) AS score
      FROM ingestion_chunk AS c, q
     WHERE c.workspace_id = ANY(%(workspaces)s) AND c.search_vector @@ q.query
  ORDER BY score DESC, c.id
     LIMIT %(limit)s
"""

_VECTOR_SQL = """
    SELECT c.id, 1 - (c.embedding <=> %(vector)s::vector) AS score
      FROM ingestion_chunk AS c
     WHERE c.workspace_id = ANY(%(workspaces)s)
  ORDER BY c.embedding <=> %(vector)s::vector, c.id
     LIMIT %(limit)s
"""


@dataclass(frozen=True)
class Ranked:
    chunk_id: int
    score: float


def _vector_literal(vector: Sequence[float]) -> str:
    """pgvector's text form, cast to ``vector`` in the SQL."""
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"


def keyword_ranking(query: str, *, workspace_ids: Sequence[int], limit: int) -> list[Ranked]:
    """Chunks matching any of the query's stemmed words, best ``ts_rank_cd`` first."""
    with connection.cursor() as cursor:
        cursor.execute(
            _KEYWORD_SQL, {"text": query, "workspaces": list(workspace_ids), "limit": limit}
        )
        return [Ranked(chunk_id, float(score)) for chunk_id, score in cursor.fetchall()]


def vector_ranking(
    vector: Sequence[float], *, workspace_ids: Sequence[int], limit: int
) -> list[Ranked]:
    """Nearest chunks by cosine distance through the HNSW index."""
    with transaction.atomic(), connection.cursor() as cursor:
        # SET LOCAL lasts until the end of this transaction only.
        cursor.execute(
            "SELECT set_config('hnsw.ef_search', %s, true)", [str(settings.HNSW_EF_SEARCH)]
        )
        cursor.execute(
            _VECTOR_SQL,
            {"vector": _vector_literal(vector), "workspaces": list(workspace_ids), "limit": limit},
        )
        return [Ranked(chunk_id, float(score)) for chunk_id, score in cursor.fetchall()]


def reciprocal_rank_fusion(*rankings: Sequence[Ranked], k: int = RRF_K) -> list[Ranked]:
    """Fuse rankings: each chunk scores the sum of 1 / (k + rank) over the rankings."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item.chunk_id] = fused.get(item.chunk_id, 0.0) + 1.0 / (k + rank)
    ordered = sorted(fused.items(), key=lambda pair: (-pair[1], pair[0]))
    return [Ranked(chunk_id, score) for chunk_id, score in ordered]


def passages_load(ranked: Sequence[Ranked], *, k: int) -> list[Passage]:
    """The top ``k`` ranked chunks as passages, at most a few per document."""
    chunks = Chunk.objects.select_related("document").in_bulk([r.chunk_id for r in ranked])
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


def hybrid_search(query: str, *, workspace_ids: Sequence[int], k: int) -> list[Passage]:
    """The ``k`` best passages for ``query`` within ``workspace_ids``."""
    if not workspace_ids or not query.strip():
        return []
    [vector] = embed_texts([query])
    keyword = keyword_ranking(query, workspace_ids=workspace_ids, limit=CANDIDATES_PER_RANKER)
    dense = vector_ranking(vector, workspace_ids=workspace_ids, limit=CANDIDATES_PER_RANKER)
    return passages_load(reciprocal_rank_fusion(keyword, dense), k=k)
