"""Hybrid search loads the passages it shows a window at a time, best first (issue 17)."""

from __future__ import annotations

from ingestion.index import Ranked
from ingestion.models import Chunk
from search.retrieval import passages_load
from workspaces.models import Workspace
from workspaces.readers import ReaderScope


def test_later_windows_fill_k_when_the_first_has_too_few(acme, alice_api, upload_indexed):
    first = upload_indexed(alice_api, "drill.md", b"# Drill\n\nThe fire drill is on Tuesday.\n")
    second = upload_indexed(alice_api, "toner.md", b"# Toner\n\nToner is in the cupboard.\n")
    general = Workspace.objects.get(slug="general")
    [a] = Chunk.objects.filter(document_id=first["id"]).values_list("pk", flat=True)
    [b] = Chunk.objects.filter(document_id=second["id"]).values_list("pk", flat=True)
    # Chunks that are gone (or unreadable) fill the first windows entirely.
    missing = [Ranked(10**9 + n, 0.5) for n in range(45)]
    ranked = [Ranked(a, 0.9), *missing, Ranked(b, 0.1)]
    passages = passages_load(ranked, readers=ReaderScope.everything([general.pk]), k=2)
    assert [(p.chunk_id, p.score) for p in passages] == [(a, 0.9), (b, 0.1)]
    assert passages[1].document_title == "Toner"
    assert "cupboard" in passages[1].text


def test_k_passages_stop_the_loading(
    acme, alice_api, upload_indexed, django_assert_max_num_queries
):
    ids = []
    for n in range(3):
        body = upload_indexed(alice_api, f"n{n}.md", b"# Note %d\n\nNote number %d.\n" % (n, n))
        ids.extend(Chunk.objects.filter(document_id=body["id"]).values_list("pk", flat=True))
    general = Workspace.objects.get(slug="general")
    ranked = [Ranked(i, 1.0) for i in ids] + [Ranked(10**9 + n, 0.5) for n in range(60)]
    # One window (its query, and the row-security scope's): not the four there are.
    with django_assert_max_num_queries(2):
        passages = passages_load(ranked, readers=ReaderScope.everything([general.pk]), k=3)
    assert [p.chunk_id for p in passages] == ids
