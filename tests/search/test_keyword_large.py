"""BM25 over a large scope: the readable chunks kept per reader between questions.

Forced on a small corpus by lowering ``BM25_EXACT_MAX_CHUNKS`` to 0: the scores must
still be exactly Okapi BM25 over exactly what the reader may read, a document written
after the readable chunks were kept must be found at once, and one the reader may no
longer read (or that is gone) must never come back from the kept set.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache

import ingestion.index as index
from ingestion.index import bm25_ranking
from ingestion.models import Chunk, Document
from ingestion.readers import document_readers_set
from tests.search.test_keyword import _reference_bm25, corpus, everything  # noqa: F401
from workspaces.models import Workspace
from workspaces.readers import ReaderScope

QUERIES = [
    "replaced lost badge at reception",
    "the tokens",
    "coffee machine descaled",
    "badge token reception desk",
]
OUTSIDER = ReaderScope(principals=("user:someone@example.com",))
MEMBER = ReaderScope(principals=("user:someone@example.com", "group:security"))


def _small(query, **kwargs):
    """The ranking with the readable chunks read for the question itself."""
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
def large(monkeypatch):
    monkeypatch.setattr(index, "BM25_EXACT_MAX_CHUNKS", 0)
    # What a large scope keeps (Redis, and this process) is per schema name.
    cache.clear()
    index._KEPT.clear()
    yield
    cache.clear()
    index._KEPT.clear()


def _chunks(document_id: int) -> set[int]:
    return set(Chunk.objects.filter(document_id=document_id).values_list("id", flat=True))


def test_large_scope_scores_are_okapi_bm25(corpus, large):  # noqa: F811
    general = Workspace.objects.get(slug="general")
    for _ in range(2):  # the readable chunks read, then kept
        for query in QUERIES:
            kwargs = {"workspace_ids": [general.pk], "readers": everything(general), "limit": 10}
            ranked = bm25_ranking(query, **kwargs)
            expected = _reference_bm25(query, general)
            assert {r.chunk_id for r in ranked} == set(expected), query
            for item in ranked:
                assert item.score == pytest.approx(expected[item.chunk_id], rel=1e-6)
            assert _same(ranked, _small(query, **kwargs))


def test_large_scope_follows_the_readers(corpus, large):  # noqa: F811
    general = Workspace.objects.get(slug="general")
    Document.objects.filter(pk=corpus["badge.md"]).update(readers=["group:security"])
    badge = _chunks(corpus["badge.md"])
    for _ in range(2):
        for query in QUERIES:
            for readers in (OUTSIDER, MEMBER):
                kwargs = {"workspace_ids": [general.pk], "readers": readers, "limit": 10}
                assert _same(bm25_ranking(query, **kwargs), _small(query, **kwargs)), query
            found = bm25_ranking(query, workspace_ids=[general.pk], readers=OUTSIDER, limit=10)
            assert not {r.chunk_id for r in found} & badge
    member = bm25_ranking("badge", workspace_ids=[general.pk], readers=MEMBER, limit=10)
    assert {r.chunk_id for r in member} & badge


def test_each_asker_finds_what_they_may_read_whoever_asked_first(corpus, large):  # noqa: F811
    """The scope's chunks are kept once for every asker: a restricted document in the
    middle of the ids (vpn.md, the first written) is found by its readers even when
    someone who may not read it asked first, and by an admin."""
    general = Workspace.objects.get(slug="general")
    Document.objects.filter(pk=corpus["vpn.md"]).update(readers=["group:security"])
    vpn = _chunks(corpus["vpn.md"])
    assert min(vpn) < max(_chunks(corpus["badge.md"]))
    for readers in (OUTSIDER, MEMBER, everything(general)):
        kwargs = {"workspace_ids": [general.pk], "readers": readers, "limit": 10}
        for query in QUERIES:
            assert _same(bm25_ranking(query, **kwargs), _small(query, **kwargs)), query
        found = {r.chunk_id for r in bm25_ranking("hardware token", **kwargs)}
        assert bool(found & vpn) == (readers is not OUTSIDER)


def test_a_new_document_is_found_at_once(corpus, large, alice_api, upload_indexed):  # noqa: F811
    general = Workspace.objects.get(slug="general")
    kwargs = {"workspace_ids": [general.pk], "readers": OUTSIDER, "limit": 10}
    assert bm25_ranking("espresso grinder", **kwargs) == []  # the readable chunks kept
    new = upload_indexed(alice_api, "espresso.md", b"# Espresso\n\nThe espresso grinder.\n")
    found = bm25_ranking("espresso grinder", **kwargs)
    assert {r.chunk_id for r in found} == _chunks(new["id"])
    assert _same(found, _small("espresso grinder", **kwargs))


def test_a_document_no_longer_readable_never_comes_back(corpus, large):  # noqa: F811
    general = Workspace.objects.get(slug="general")
    kwargs = {"workspace_ids": [general.pk], "readers": OUTSIDER, "limit": 10}
    badge = _chunks(corpus["badge.md"])
    assert {r.chunk_id for r in bm25_ranking("badge reception", **kwargs)} & badge
    # Restricted while the outsider's readable chunks are kept: the kept set still holds
    # the document's chunks, the results do not.
    Document.objects.filter(pk=corpus["badge.md"]).update(readers=["group:security"])
    assert not {r.chunk_id for r in bm25_ranking("badge reception", **kwargs)} & badge
    # Deleted: its postings went with its chunks.
    Document.objects.filter(pk=corpus["vpn.md"]).delete()
    assert bm25_ranking("hardware token", **kwargs) == []


def test_a_document_opened_to_the_asker_is_found_at_once(
    corpus,  # noqa: F811
    large,
    django_capture_on_commit_callbacks,
):
    """Readers widened in place (the chunks kept, ``document_readers_set``): the asker's
    kept hidden chunks are read again at their next question, not once they expire.
    vpn.md is the first written: its chunks lie below the kept ones, not among the
    newer chunks every question reads."""
    general = Workspace.objects.get(slug="general")
    document = Document.objects.get(pk=corpus["vpn.md"])
    vpn = _chunks(document.pk)
    assert max(vpn) < max(_chunks(corpus["badge.md"]))
    with django_capture_on_commit_callbacks(execute=True):
        document_readers_set(document=document, readers=["group:security"], audit=None)
    kwargs = {"workspace_ids": [general.pk], "readers": OUTSIDER, "limit": 10}
    for _ in range(2):  # read, then kept: the outsider's hidden chunks hold the vpn's
        assert not {r.chunk_id for r in bm25_ranking("hardware token", **kwargs)} & vpn
    with django_capture_on_commit_callbacks(execute=True):
        document_readers_set(
            document=document, readers=["group:security", "user:someone@example.com"], audit=None
        )
    found = bm25_ranking("hardware token", **kwargs)
    assert {r.chunk_id for r in found} & vpn
    assert _same(found, _small("hardware token", **kwargs))


def test_equal_scores_come_back_by_chunk_id(acme, alice_api, upload_indexed):
    """Twelve pages alike but for a number score the same: the first ten asked for are
    the ten of lowest id, in id order, whichever way the scope is searched."""
    general = Workspace.objects.get(slug="general")
    for n in range(12):
        text = f"# Same\n\nThe quarterly kiln audit, page {n}.\n"
        upload_indexed(alice_api, f"same-{n}.md", text.encode())
    chunks = sorted(Chunk.objects.filter(workspace=general).values_list("id", flat=True))
    kwargs = {"workspace_ids": [general.pk], "readers": everything(general), "limit": 10}
    small = _small("kiln audit", **kwargs)
    assert [r.chunk_id for r in small] == chunks[:10]
    assert len({round(r.score, 9) for r in small}) == 1
    saved, index.BM25_EXACT_MAX_CHUNKS = index.BM25_EXACT_MAX_CHUNKS, 0
    cache.clear()
    index._KEPT.clear()
    try:
        assert _same(bm25_ranking("kiln audit", **kwargs), small)
    finally:
        index.BM25_EXACT_MAX_CHUNKS = saved
        cache.clear()
        index._KEPT.clear()
