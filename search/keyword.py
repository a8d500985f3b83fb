"""BM25 keyword scoring over Postgres: an inverted index kept with the chunks.

Each chunk's words come from Postgres' own text search (``to_tsvector``: stemming
and stop words of the document's detected language; a question is stemmed in each
language of the documents searched). ``postings_write`` stores one row per
(chunk, word) with its frequency, in the same transaction as the chunk; the
database deletes them with the chunk. A query is scored in one SQL statement with
Okapi BM25, document frequencies counted from the index of the workspaces searched,
so scores are exact for exactly what the asker may read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection

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


# Only module constants are interpolated; every input is a bound parameter.
_BM25_SQL = f"""
    WITH languages AS (
        -- The question is stemmed in every language the searched documents use.
        SELECT DISTINCT language::regconfig AS cfg
          FROM ingestion_document
         WHERE workspace_id = ANY(%(workspaces)s) AND status = 'indexed'
    ),
    query AS (
        SELECT DISTINCT t.lexeme
          FROM languages, unnest(to_tsvector(languages.cfg, %(text)s)) AS t
    ),
    collection AS (
        SELECT count(*)::float AS n, GREATEST(avg(lexeme_count), 1)::float AS avgdl
          FROM ingestion_chunk
         WHERE workspace_id = ANY(%(workspaces)s)
    ),
    df AS (
        SELECT p.lexeme, count(*)::float AS df
          FROM search_posting AS p JOIN query USING (lexeme)
         WHERE p.workspace_id = ANY(%(workspaces)s)
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
     WHERE p.workspace_id = ANY(%(workspaces)s)
  GROUP BY p.chunk_id
  ORDER BY score DESC, p.chunk_id
     LIMIT %(limit)s
"""  # noqa: S608


def bm25_ranking(query: str, *, workspace_ids: Sequence[int], limit: int) -> list[Scored]:
    """The ``limit`` best chunks of ``workspace_ids`` for ``query`` by BM25."""
    if not query.strip() or not workspace_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            _BM25_SQL,
            {
                "text": query,
                "workspaces": list(workspace_ids),
                "limit": limit,
            },
        )
        return [Scored(chunk_id, float(score)) for chunk_id, score in cursor.fetchall()]
