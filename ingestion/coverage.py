"""How much of a question's information each candidate chunk holds: its **coverage**.

A chunk's coverage is the share of the question's words it contains, each word weighted
by its BM25 inverse document frequency (idf): 1 when the chunk holds every word of the
question, 0 when none; a chunk holding only the rare word of a question ("Elbtal" in
"Wie lang muss ein Passwort bei der Elbtal Energie AG mindestens sein?") covers more
than one holding its three common ones. Words no readable chunk contains count in the
whole (at the highest idf), so a question most of whose words the collection lacks (an
English question over German documents) has low coverage everywhere and little
difference between its candidates.

Hybrid search uses it to temper fusion (``search.fusion.score_fusion``): a candidate
that lacks words of the question that another candidate holds is demoted by that share.
The vector ranking reads meaning, not names, so among thirty companies' password
policies it ranks another company's section as high as the asked one; the keyword
ranking holds the name but its scores are close; coverage is what tells them apart.

The words are the question's BM25 terms (``ingestion.index``): stemmed in every language
of the readable documents searched, a stop word of any of them dropped in all. A chunk's
words are its ``search_vector``'s (what its postings are written from), and the idf is
counted over exactly the chunks the asker may read, as BM25 counts it: an unreadable
document changes no coverage.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from django.db import connection

from ingestion.index import WordStatistics, bm25_question_statistics
from workspaces.readers import ReaderScope


def _matched_sql(readers: ReaderScope) -> str:
    """The candidates' words among ``%(lexemes)s``: each readable candidate's id and those
    of the question's words its ``search_vector`` holds."""
    return f"""
    SELECT c.id, ARRAY(SELECT unnest(tsvector_to_array(c.search_vector))
                       INTERSECT SELECT unnest(%(lexemes)s::text[]))
      FROM ingestion_chunk AS c
     WHERE c.id = ANY(%(chunks)s::bigint[])
       AND {readers.within_sql("c")} AND {readers.sql("c")}
"""  # noqa: S608


def _shares(
    rows: Iterable[tuple[int, Sequence[str]]], *, n: float, frequencies: dict[str, float]
) -> dict[int, float]:
    """Each chunk's idf-weighted share of the question's words, from the collection's
    size ``n`` and each word's document frequency (as BM25 counts them)."""
    idf = {lexeme: math.log(1 + (n - df + 0.5) / (df + 0.5)) for lexeme, df in frequencies.items()}
    total = sum(idf.values())
    if total <= 0:
        return {}
    return {
        chunk_id: sum(idf.get(lexeme, 0.0) for lexeme in matched) / total
        for chunk_id, matched in rows
    }


def question_coverage(
    question: str,
    *,
    chunk_ids: Iterable[int],
    workspace_ids: Sequence[int],
    readers: ReaderScope,
    statistics: WordStatistics | None = None,
) -> dict[int, float]:
    """Each of ``chunk_ids`` (readable by ``readers`` in ``workspace_ids``) -> its share,
    0..1, of the question's idf-weighted words. Empty when the question has no word the
    index knows (only stop words, or nothing readable to stem it by).

    ``statistics``: what BM25 counted for this question over the same scope and reader
    (``ingestion.index.bm25_search``): then only the candidates' words are read, and not
    even those when BM25 kept which chunks hold which word (``WordStatistics.matched``:
    6 ms of hybrid retrieval's 80 at 1M chunks)."""
    chunk_ids = sorted(set(chunk_ids))
    if not chunk_ids or not workspace_ids or not question.strip():
        return {}
    if statistics is None:
        # Counted as BM25 counts them (its readable chunks and posting lists).
        counted = bm25_question_statistics(question, workspace_ids=workspace_ids, readers=readers)
        if counted is None:
            return {}
        statistics = WordStatistics(*counted)
    n, frequencies = statistics.chunks, statistics.frequencies
    if not frequencies:
        return {}
    if statistics.matched is not None:  # BM25's postings, already read: no query
        return _shares(statistics.matched(chunk_ids).items(), n=n, frequencies=frequencies)
    with connection.cursor() as cursor:
        cursor.execute(
            _matched_sql(readers),
            {
                "lexemes": sorted(frequencies),
                "workspaces": list(workspace_ids),
                "chunks": chunk_ids,
                **readers.params(),
            },
        )
        return _shares(cursor.fetchall(), n=n, frequencies=frequencies)
