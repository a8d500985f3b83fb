"""BM25 over Postgres: exact scores, index maintenance, and workspace scope."""

from __future__ import annotations

import math

import pytest
from django.db import connection

from ingestion.index import BM25_B, BM25_K1, bm25_ranking
from ingestion.models import Chunk
from tests.conftest import postings_of
from workspaces.models import Workspace
from workspaces.readers import ReaderScope


def everything(workspace: Workspace) -> ReaderScope:
    """No readers filter: these tests are about ranking, not access."""
    return ReaderScope.everything([workspace.pk])


DOCS = {
    "vpn.md": b"# Remote access\n\nThe VPN client needs a hardware token. Tokens are replaced "
    b"by the service desk.\n",
    "coffee.md": b"# Kitchen\n\nThe coffee machine on floor two is descaled every Monday.\n",
    "badge.md": b"# Badges\n\nA lost badge is replaced by reception; the old badge is blocked "
    b"at once. Badge photos are taken at reception.\n",
}


@pytest.fixture
def corpus(acme, alice_api, upload_indexed):
    return {name: upload_indexed(alice_api, name, data)["id"] for name, data in DOCS.items()}


def _lexemes(text: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.lexeme, cardinality(t.positions) FROM unnest(to_tsvector('english', %s)) t",
            [text],
        )
        return [lex for lex, count in cursor.fetchall() for _ in range(count)]


def _reference_bm25(query: str, workspace: Workspace) -> dict[int, float]:
    """Okapi BM25 computed in Python from the same words, as a check on the SQL."""
    chunks = list(Chunk.objects.filter(workspace=workspace).select_related("document"))
    bags = {
        c.pk: _lexemes(" ".join([c.document.title, " ".join(c.heading_path), c.text]))
        for c in chunks
    }
    n = len(bags)
    avgdl = sum(len(b) for b in bags.values()) / n
    scores: dict[int, float] = {}
    for term in set(_lexemes(query)):
        df = sum(1 for b in bags.values() if term in b)
        if not df:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for chunk_id, bag in bags.items():
            tf = bag.count(term)
            if tf:
                norm = tf + BM25_K1 * (1 - BM25_B + BM25_B * len(bag) / avgdl)
                scores[chunk_id] = scores.get(chunk_id, 0.0) + idf * tf * (BM25_K1 + 1) / norm
    return scores


def test_scores_are_okapi_bm25(corpus):
    general = Workspace.objects.get(slug="general")
    query = "replaced lost badge at reception"
    ranked = bm25_ranking(query, workspace_ids=[general.pk], readers=everything(general), limit=10)
    expected = _reference_bm25(query, general)
    assert {r.chunk_id for r in ranked} == set(expected)
    for item in ranked:
        assert item.score == pytest.approx(expected[item.chunk_id], rel=1e-6)
    top = Chunk.objects.get(pk=ranked[0].chunk_id)
    assert top.document_id == corpus["badge.md"]


def test_stemming_and_stop_words(corpus):
    general = Workspace.objects.get(slug="general")
    ranked = bm25_ranking(
        "the tokens", workspace_ids=[general.pk], readers=everything(general), limit=5
    )
    assert [Chunk.objects.get(pk=r.chunk_id).document_id for r in ranked] == [corpus["vpn.md"]]
    assert (
        bm25_ranking("the of and", workspace_ids=[general.pk], readers=everything(general), limit=5)
        == []
    )


def _postings_of(chunk_ids: list[int]) -> int:
    return postings_of(connection.schema_name, chunk_ids)


def _chunks_of(document_id: int) -> list[int]:
    return list(Chunk.objects.filter(document_id=document_id).values_list("id", flat=True))


def test_postings_follow_their_chunks(corpus, alice_api, django_capture_on_commit_callbacks):
    from ingestion.indexing import document_index

    document_id = corpus["coffee.md"]
    before = _chunks_of(document_id)
    count = _postings_of(before)
    assert count > 0
    # The other documents' postings share rows with these (one segment of ids): they stay.
    others = [c for name, d in corpus.items() if name != "coffee.md" for c in _chunks_of(d)]
    theirs = _postings_of(others)
    assert theirs > 0
    document_index(document_id=document_id)  # re-indexing replaces, never duplicates
    after = _chunks_of(document_id)
    assert set(after).isdisjoint(before)
    assert _postings_of(after) == count
    assert _postings_of(before) == 0  # the old chunks' postings went with them
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_api.delete(f"/api/v1/documents/{document_id}").status_code == 204
    assert _postings_of(after) == 0
    assert _postings_of(others) == theirs
    # Every list still agrees with itself: as many term frequencies and lengths as ids.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM ingestion_posting_list WHERE length(chunk_ids) <> 8 * postings"
            " OR length(tfs) <> 2 * postings OR length(lengths) <> 2 * postings"
            " OR postings = 0"
        )
        assert cursor.fetchone()[0] == 0


def test_other_workspaces_neither_match_nor_count(corpus, alice_api, upload_indexed):
    sales = Workspace.objects.get(slug="sales")
    general = Workspace.objects.get(slug="general")
    before = {
        r.chunk_id: r.score
        for r in bm25_ranking(
            "badge", workspace_ids=[general.pk], readers=everything(general), limit=5
        )
    }
    upload_indexed(
        alice_api, "sales-badge.md", b"# Badge\n\nBadge badge badge.\n", workspace="sales"
    )
    after = {
        r.chunk_id: r.score
        for r in bm25_ranking(
            "badge", workspace_ids=[general.pk], readers=everything(general), limit=5
        )
    }
    # A document in Sales changes neither General's results nor their scores.
    assert after == pytest.approx(before)
    in_sales = bm25_ranking("badge", workspace_ids=[sales.pk], readers=everything(sales), limit=5)
    assert len(in_sales) == 1
    assert in_sales[0].chunk_id not in before


def test_german_documents_are_stemmed_in_german(acme, alice_api, upload_indexed):
    from ingestion.models import Document

    german = upload_indexed(
        alice_api,
        "urlaub.md",
        "# Urlaub\n\nAlle Urlaubsanträge werden von der Vorgesetzten genehmigt, "
        "spätestens zwei Wochen vor Beginn des Urlaubs.\n".encode(),
    )
    english = upload_indexed(
        alice_api, "leave.md", b"# Leave\n\nLeave requests are approved by your manager.\n"
    )
    assert Document.objects.get(pk=german["id"]).language == "german"
    assert Document.objects.get(pk=english["id"]).language == "english"
    general = Workspace.objects.get(slug="general")
    # "Urlaubsantrag" (singular) matches "Urlaubsanträge" only through German stemming.
    ranked = bm25_ranking(
        "Wer genehmigt meinen Urlaubsantrag?",
        workspace_ids=[general.pk],
        readers=everything(general),
        limit=3,
    )
    assert Chunk.objects.get(pk=ranked[0].chunk_id).document_id == german["id"]
    ranked = bm25_ranking(
        "who approves leave requests",
        workspace_ids=[general.pk],
        readers=everything(general),
        limit=3,
    )
    assert Chunk.objects.get(pk=ranked[0].chunk_id).document_id == english["id"]


def _without(ids: list[int], dead: list[int]) -> tuple[list[int], list[int], int]:
    """The delete trigger's cut (ingestion migration 0018) on packed ids, their tfs."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT w.kept_ids, w.kept_tfs, w.removed FROM ingestion_posting_list_without("
            " (SELECT string_agg(int8send(x), ''::bytea ORDER BY o)"
            "    FROM unnest(%(ids)s::bigint[]) WITH ORDINALITY AS u(x, o)),"
            " (SELECT string_agg(int2send(o::smallint), ''::bytea ORDER BY o)"
            "    FROM unnest(%(ids)s::bigint[]) WITH ORDINALITY AS u(x, o)),"
            " (SELECT string_agg(int2send(7::smallint), ''::bytea)"
            "    FROM unnest(%(ids)s::bigint[]) AS u(x)),"
            " ARRAY(SELECT int8send(x) FROM unnest(%(dead)s::bigint[]) AS x)) AS w",
            {"ids": ids, "dead": dead},
        )
        kept, tfs, removed = cursor.fetchone()
    kept, tfs = bytes(kept), bytes(tfs)
    return (
        [int.from_bytes(kept[i : i + 8], "big") for i in range(0, len(kept), 8)],
        [int.from_bytes(tfs[i : i + 2], "big") for i in range(0, len(tfs), 2)],
        removed,
    )


@pytest.mark.django_db
def test_a_deleted_chunk_is_cut_out_of_its_words_rows_and_nothing_else(acme):
    # Each posting's tf here is its position (1-based), to see the arrays stay aligned.
    assert _without([5, 9, 12], [9]) == ([5, 12], [1, 3], 1)
    assert _without([5, 9, 12], [5, 12, 40]) == ([9], [2], 2)
    # 256's eight bytes (00 .. 00 01 00) also occur across the postings of 1 and 0
    # (00 .. 00 01 | 00 ..), one byte in: not a posting of 256, so nothing is cut there.
    assert _without([1, 0], [256]) == ([1, 0], [1, 2], 0)
    assert _without([1, 0, 256], [256]) == ([1, 0], [1, 2], 1)
