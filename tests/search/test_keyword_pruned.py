"""BM25's pruned query (large scopes: impact-ordered postings read best first).

Forced on a small corpus by lowering ``BM25_EXACT_MAX_CHUNKS`` to 0: every word's
postings are then read completely, so its scores must be exactly Okapi BM25, for every
reader; with ``BM25_DEPTH`` cut to one posting per word, it falls back to the exhaustive
query when its candidates are too few.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache

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
