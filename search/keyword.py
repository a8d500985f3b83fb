"""BM25 keyword scoring over Postgres: an inverted index kept with the chunks.

Each chunk's words come from Postgres' own text search (``to_tsvector``: stemming
and stop words of the document's detected language; a question is stemmed in each
language of the documents searched). ``postings_write`` stores one row per
(chunk, word) with its frequency, in the same transaction as the chunk; the
database deletes them with the chunk. A query is scored in one SQL statement with
Okapi BM25, with the collection statistics (chunk count, mean length, document
frequencies) counted over only the chunks the asker may read in the workspaces
searched: scores are exact for exactly what the asker may read, and an unreadable
document changes neither the candidates nor any score, so its existence cannot be
inferred from the results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection

from workspaces.readers import ReaderScope

# Okapi BM25 parameters: the values of Robertson et al. that most systems use
# (Lucene, Anserini, bm25s); term-frequency saturation and length normalisation.
BM25_K1 = 1.2
BM25_B = 0.75


@dataclass(frozen=True)
class Scored:
    chunk_id: int
    score: float


def postings_write(*, document_id: int) -> None:
    """Index the words of ``document_id``'s chunks (their ``search_vector`` must be set).

    Also stores each chunk's length in words. Call inside the transaction that wrote
    the chunks; re-running it for unchanged chunks is harmless (old rows are replaced).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            DELETE FROM search_posting
             WHERE chunk_id IN (SELECT id FROM ingestion_chunk WHERE document_id = %(doc)s)
            """,
            {"doc": document_id},
        )
        cursor.execute(
            """
            INSERT INTO search_posting (chunk_id, workspace_id, lexeme, tf)
            SELECT c.id, c.workspace_id, t.lexeme, LEAST(cardinality(t.positions), 32767)
              FROM ingestion_chunk AS c, unnest(c.search_vector) AS t
             WHERE c.document_id = %(doc)s
            """,
            {"doc": document_id},
        )
        cursor.execute(
            """
            UPDATE ingestion_chunk AS c
               SET lexeme_count = COALESCE(
                       (SELECT sum(cardinality(t.positions)) FROM unnest(c.search_vector) AS t), 0)
             WHERE c.document_id = %(doc)s
            """,
            {"doc": document_id},
        )


def _bm25_sql(readers: ReaderScope) -> str:
    """The BM25 query; every table read is filtered by workspace and by ``readers``.

    Only module constants and fixed aliases are interpolated; every input is a bound
    parameter. The question's terms, the collection's size and the terms' document
    frequencies are computed once each (MATERIALIZED): inlined, a planner without
    statistics yet (a workspace just indexed, before autovacuum's ANALYZE) nests the
    document-frequency count inside the scan of the postings, and a question takes
    seconds instead of milliseconds (bench/RESULTS.md).
    """
    return f"""
    WITH languages AS (
        -- The question is stemmed in every language the readable documents use.
        SELECT DISTINCT d.language::regconfig AS cfg
          FROM ingestion_document AS d
         WHERE d.workspace_id = ANY(%(workspaces)s) AND d.status = 'indexed'
           AND {readers.sql("d")}
    ),
    query AS MATERIALIZED (
        SELECT DISTINCT t.lexeme
          FROM languages, unnest(to_tsvector(languages.cfg, %(text)s)) AS t
    ),
    collection AS MATERIALIZED (
        SELECT count(*)::float AS n, GREATEST(avg(c.lexeme_count), 1)::float AS avgdl
          FROM ingestion_chunk AS c
         WHERE c.workspace_id = ANY(%(workspaces)s) AND {readers.sql("c")}
    ),
    df AS MATERIALIZED (
        SELECT p.lexeme, count(*)::float AS df
          FROM search_posting AS p
          JOIN query USING (lexeme)
          JOIN ingestion_chunk AS c ON c.id = p.chunk_id
         WHERE p.workspace_id = ANY(%(workspaces)s) AND {readers.sql("c")}
      GROUP BY p.lexeme
    )
    SELECT p.chunk_id,
           sum(
               ln(1 + (collection.n - df.df + 0.5) / (df.df + 0.5))
             * p.tf * ({BM25_K1} + 1)
             / (p.tf + {BM25_K1} * (1 - {BM25_B} + {BM25_B} * c.lexeme_count / collection.avgdl))
           ) AS score
      FROM search_posting AS p
      JOIN df USING (lexeme)
      JOIN ingestion_chunk AS c ON c.id = p.chunk_id
     CROSS JOIN collection
     WHERE p.workspace_id = ANY(%(workspaces)s) AND {readers.sql("c")}
  GROUP BY p.chunk_id
  ORDER BY score DESC, p.chunk_id
     LIMIT %(limit)s
"""  # noqa: S608


def bm25_ranking(
    query: str, *, workspace_ids: Sequence[int], readers: ReaderScope, limit: int
) -> list[Scored]:
    """The ``limit`` best chunks of ``workspace_ids`` that ``readers`` may read, by BM25."""
    if not query.strip() or not workspace_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            _bm25_sql(readers),
            {
                "text": query,
                "workspaces": list(workspace_ids),
                "limit": limit,
                **readers.params(),
            },
        )
        return [Scored(chunk_id, float(score)) for chunk_id, score in cursor.fetchall()]
