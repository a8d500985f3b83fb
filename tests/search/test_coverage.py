"""Coverage: each candidate's share of the question's idf-weighted words
(``ingestion.coverage``), counted over what the asker may read, as BM25 counts."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from django.core.cache import cache
from django.db import connection

from accounts.audit import AuditContext
from accounts.models import User
from ingestion.coverage import question_coverage
from ingestion.models import Chunk, Document
from ingestion.readers import document_readers_set
from workspaces.models import Workspace
from workspaces.readers import ReaderScope, reader_scope

DOCS = {
    "badge.md": b"# Badges\n\nA lost badge is replaced by reception; the old badge is blocked.\n",
    "vpn.md": b"# Remote access\n\nThe VPN client needs a hardware token from the service desk.\n",
    "desk.md": b"# Service desk\n\nThe service desk replaces a lost token within a day.\n",
}
QUESTION = "Who replaces a lost badge at the reception of Quillfeather?"


def _lexemes(text: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT t.lexeme FROM unnest(to_tsvector('english', %s)) AS t", [text])
        return {lexeme for (lexeme,) in cursor.fetchall()}


@pytest.fixture
def corpus(acme, alice_api, upload_indexed):
    return {name: upload_indexed(alice_api, name, data)["id"] for name, data in DOCS.items()}


def test_coverage_is_the_idf_share_of_the_question_words(corpus):
    general = Workspace.objects.get(slug="general")
    chunks = list(Chunk.objects.filter(workspace=general).select_related("document"))
    bags = {
        c.pk: _lexemes(" ".join([c.document.title, " ".join(c.heading_path), c.text]))
        for c in chunks
    }
    # Every word of the question counts, "quillfeath" (no document has it) at the top idf.
    words = _lexemes(QUESTION)
    assert "quillfeath" in words
    n = len(bags)
    idf = {
        w: math.log(1 + (n - df + 0.5) / (df + 0.5))
        for w in words
        for df in [sum(w in b for b in bags.values())]
    }
    expected = {c: sum(idf[w] for w in words & bag) / sum(idf.values()) for c, bag in bags.items()}

    found = question_coverage(
        QUESTION,
        chunk_ids=list(bags),
        workspace_ids=[general.pk],
        readers=ReaderScope.everything([general.pk]),
    )
    assert found == pytest.approx(expected)
    badge = Chunk.objects.get(document_id=corpus["badge.md"]).pk
    assert max(found, key=found.get) == badge  # it holds "lost", "badge" and "reception"
    assert 0 < found[badge] < 1  # not the unknown company's name


def test_nothing_to_cover_is_empty(corpus):
    general = Workspace.objects.get(slug="general")
    scope = ReaderScope.everything([general.pk])
    ids = list(Chunk.objects.values_list("pk", flat=True))
    assert question_coverage("", chunk_ids=ids, workspace_ids=[general.pk], readers=scope) == {}
    assert (
        question_coverage(QUESTION, chunk_ids=[], workspace_ids=[general.pk], readers=scope) == {}
    )
    # Only stop words: no term, no coverage.
    assert (
        question_coverage("who is it", chunk_ids=ids, workspace_ids=[general.pk], readers=scope)
        == {}
    )


@pytest.fixture
def secret(corpus, alice_api, upload_indexed, django_capture_on_commit_callbacks) -> int:
    """A document only the finance group may read, holding the question's rare word."""
    secret = upload_indexed(
        alice_api, "secret.md", b"# Quillfeather\n\nQuillfeather badges: lost badge, reception.\n"
    )["id"]
    with django_capture_on_commit_callbacks(execute=True):
        document_readers_set(
            document=Document.objects.get(pk=secret),
            readers=["group:finance"],
            audit=AuditContext(),
        )
    return secret


def test_an_unreadable_document_changes_no_coverage(secret):
    general = Workspace.objects.get(slug="general")
    bob = reader_scope(User.objects.get(email="bob@acme.example"), [general])
    readable = list(Chunk.objects.exclude(document_id=secret).values_list("pk", flat=True))
    secret_chunks = list(Chunk.objects.filter(document_id=secret).values_list("pk", flat=True))

    bobs = question_coverage(
        QUESTION, chunk_ids=readable + secret_chunks, workspace_ids=[general.pk], readers=bob
    )
    assert set(bobs) == set(readable)  # the secret chunk is no candidate of his
    # The shares are what they would be without the document: its words' frequencies
    # leak nothing ("quillfeath" still counts as a word nobody has).
    Document.objects.filter(pk=secret).delete()
    without = question_coverage(
        QUESTION, chunk_ids=readable, workspace_ids=[general.pk], readers=bob
    )
    assert bobs == pytest.approx(without)


def test_a_large_scope_counts_as_a_small_one(corpus, monkeypatch):
    """Above ``BM25_EXACT_MAX_CHUNKS`` BM25 keeps the readable chunks per reader instead
    of reading them each question; the words' frequencies, and so the shares, are the
    same counts."""
    from ingestion import index

    general = Workspace.objects.get(slug="general")
    scope = ReaderScope.everything([general.pk])
    ids = list(Chunk.objects.values_list("pk", flat=True))
    exact = question_coverage(QUESTION, chunk_ids=ids, workspace_ids=[general.pk], readers=scope)
    small = index.bm25_question_statistics(QUESTION, workspace_ids=[general.pk], readers=scope)

    monkeypatch.setattr(index, "BM25_EXACT_MAX_CHUNKS", 0)
    cache.clear()
    index._KEPT.clear()
    for _ in range(2):  # the readable chunks read, then kept
        n, frequencies = index.bm25_question_statistics(
            QUESTION, workspace_ids=[general.pk], readers=scope
        )
        assert (n, frequencies) == small
        assert n == len(ids)
        assert frequencies["quillfeath"] == 0
        assert frequencies["badg"] == 1
        large = question_coverage(
            QUESTION, chunk_ids=ids, workspace_ids=[general.pk], readers=scope
        )
        assert large == pytest.approx(exact)
        # And from the postings BM25 scored over the kept chunks.
        _, statistics = index.bm25_search(
            QUESTION, limit=50, workspace_ids=[general.pk], readers=scope
        )
        handed = question_coverage(
            QUESTION,
            chunk_ids=ids,
            workspace_ids=[general.pk],
            readers=scope,
            statistics=statistics,
        )
        assert handed == pytest.approx(exact)


def test_bm25s_own_statistics_give_the_same_coverage(secret):
    """Hybrid search hands the statistics BM25 scored with (``bm25_search``) to the
    coverage instead of counting them again: the shares are those coverage counts itself,
    for a reader of everything and for one who may not read a document."""
    from ingestion.index import bm25_search

    general = Workspace.objects.get(slug="general")
    bob = reader_scope(User.objects.get(email="bob@acme.example"), [general])
    ids = list(Chunk.objects.values_list("pk", flat=True))
    for readers in (ReaderScope.everything([general.pk]), bob):
        kwargs = {"workspace_ids": [general.pk], "readers": readers}
        ranked, statistics = bm25_search(QUESTION, limit=50, **kwargs)
        assert ranked
        assert statistics is not None
        assert "quillfeath" in statistics.frequencies
        assert statistics.matched is not None  # the words of each chunk, from the postings
        counted = question_coverage(QUESTION, chunk_ids=ids, **kwargs)
        read = question_coverage(
            QUESTION,
            chunk_ids=ids,
            statistics=replace(statistics, matched=None),  # read from search_vector
            **kwargs,
        )
        handed = question_coverage(QUESTION, chunk_ids=ids, statistics=statistics, **kwargs)
        assert handed == pytest.approx(counted)
        assert read == pytest.approx(counted)
        assert any(share > 0 for share in handed.values())
    # Bob's statistics do not count the secret document: "quillfeath" is nobody's word.
    assert statistics.frequencies["quillfeath"] == 0
    assert bm25_search("quillfeather", limit=5, workspace_ids=[general.pk], readers=bob) == (
        [],
        None,
    )
