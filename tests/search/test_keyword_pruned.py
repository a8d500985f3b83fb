"""BM25's pruned query (large scopes: impact-ordered postings read best first).

Forced on a small corpus by lowering ``BM25_EXACT_MAX_CHUNKS`` to 0: every word's
postings are then read completely, so its scores must be exactly Okapi BM25, for every
reader; with ``BM25_DEPTH`` cut to one posting per word, it falls back to the exhaustive
query when its candidates are too few.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection

import ingestion.index as index
from ingestion.index import bm25_ranking
from ingestion.models import Chunk, Document, Posting
from tests.search.test_keyword import _reference_bm25, corpus, everything  # noqa: F401
from workspaces.models import Workspace
from workspaces.readers import ReaderScope

QUERIES = [
    "replaced lost badge at reception",
    "the tokens",
    "coffee machine descaled",
    "badge token reception desk",
]


def _exhaustive(query, **kwargs):
    saved, index.BM25_EXACT_MAX_CHUNKS = index.BM25_EXACT_MAX_CHUNKS, 10**12
    try:
        return bm25_ranking(query, **kwargs)
    finally:
        index.BM25_EXACT_MAX_CHUNKS = saved


def _same(ranked, expected) -> bool:
    """The same chunks in the same order, the same scores up to the sum's last bits."""
    return [r.chunk_id for r in ranked] == [r.chunk_id for r in expected] and all(
        a.score == pytest.approx(b.score, rel=1e-9) for a, b in zip(ranked, expected, strict=True)
    )


@pytest.fixture
def pruned(monkeypatch):
    monkeypatch.setattr(index, "BM25_EXACT_MAX_CHUNKS", 0)
    cache.clear()  # the statistics the pruned query reuses are per schema name
    yield
    cache.clear()


def test_pruned_scores_are_okapi_bm25(corpus, pruned):  # noqa: F811
    general = Workspace.objects.get(slug="general")
    for query in QUERIES:
        ranked = bm25_ranking(
            query, workspace_ids=[general.pk], readers=everything(general), limit=10
        )
        expected = _reference_bm25(query, general)
        assert {r.chunk_id for r in ranked} == set(expected), query
        for item in ranked:
            assert item.score == pytest.approx(expected[item.chunk_id], rel=1e-6)
        assert _same(
            ranked,
            _exhaustive(query, workspace_ids=[general.pk], readers=everything(general), limit=10),
        )


def test_pruned_follows_the_readers(corpus, pruned):  # noqa: F811
    general = Workspace.objects.get(slug="general")
    Document.objects.filter(pk=corpus["badge.md"]).update(readers=["group:security"])
    badge_chunks = set(
        Chunk.objects.filter(document_id=corpus["badge.md"]).values_list("id", flat=True)
    )
    outsider = ReaderScope(principals=("user:someone@example.com",))
    member = ReaderScope(principals=("user:someone@example.com", "group:security"))
    for query in QUERIES:
        for readers in (outsider, member):
            kwargs = {"workspace_ids": [general.pk], "readers": readers, "limit": 10}
            assert _same(bm25_ranking(query, **kwargs), _exhaustive(query, **kwargs)), query
        found = bm25_ranking(query, workspace_ids=[general.pk], readers=outsider, limit=10)
        assert not {r.chunk_id for r in found} & badge_chunks


def test_pruned_falls_back_when_cut_short(corpus, pruned, monkeypatch):  # noqa: F811
    general = Workspace.objects.get(slug="general")
    monkeypatch.setattr(index, "BM25_DEPTH", 1)
    query = "replaced lost badge at reception"
    kwargs = {"workspace_ids": [general.pk], "readers": everything(general), "limit": 10}
    assert _same(bm25_ranking(query, **kwargs), _exhaustive(query, **kwargs))


def test_postings_carry_their_impact(corpus):  # noqa: F811
    """A posting's impact is its BM25 weight without idf at the reference length."""
    rows = list(Posting.objects.values_list("tf", "impact", "chunk__lexeme_count")[:50])
    assert rows
    for tf, impact, length in rows:
        weight = (
            tf
            * (index.BM25_K1 + 1)
            / (
                tf
                + index.BM25_K1
                * (1 - index.BM25_B + index.BM25_B * length / index.BM25_IMPACT_LENGTH)
            )
        )
        assert impact == round(1000 * weight)


def _statements(into: list):
    def record(execute, sql, params, many, context):
        into.append(sql)
        return execute(sql, params, many, context)

    return connection.execute_wrapper(record)


def test_maxscore_proves_the_top_without_the_exhaustive_query(corpus, pruned, monkeypatch):  # noqa: F811
    """Cut to one posting per word, the first pass cannot prove its first results; its
    second pass (MaxScore: the essential words read completely, the others looked up by
    chunk) finds the exhaustive query's first results, scores and order, without
    running the exhaustive query, for an admin and for a restricted reader."""
    general = Workspace.objects.get(slug="general")
    Document.objects.filter(pk=corpus["badge.md"]).update(readers=["group:security"])
    monkeypatch.setattr(index, "BM25_DEPTH", 1)
    # The small corpus's words are in most of its chunks: read them one by one anyway.
    monkeypatch.setattr(index, "BM25_MAXSCORE_SHARE", 100)
    second_passes = []
    real = index._bm25_maxscore

    def counted(*args, **kwargs):
        found = real(*args, **kwargs)
        second_passes.append(found is not None)
        return found

    monkeypatch.setattr(index, "_bm25_maxscore", counted)
    member = ReaderScope(principals=("user:someone@example.com", "group:security"))
    for readers in (everything(general), member):
        for query in ("replaced lost badge at reception", "badge token reception desk"):
            kwargs = {"workspace_ids": [general.pk], "readers": readers, "limit": 2}
            seen: list = []
            with _statements(seen):
                ranked = bm25_ranking(query, **kwargs)
            assert _same(ranked, _exhaustive(query, **kwargs)), query
            assert not any("collection AS MATERIALIZED" in sql for sql in seen), query
    assert second_passes
    assert all(second_passes)
