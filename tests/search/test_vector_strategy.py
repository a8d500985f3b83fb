"""The dense side returns k readable results even when the workspace filter is selective."""

from __future__ import annotations

import pytest

from ingestion.embedding import embed_texts
from ingestion.index import vector_ranking
from workspaces.models import Workspace
from workspaces.readers import ReaderScope


def everything(workspace: Workspace) -> ReaderScope:
    """No readers filter: these tests are about ranking, not access."""
    return ReaderScope.everything([workspace.pk])


NOTES = [
    b"# Fire drill\n\nThe fire drill is on the first Tuesday of each quarter.\n",
    b"# Fire wardens\n\nEvery floor has two fire wardens with yellow vests.\n",
    b"# Printers\n\nPrinter toner is ordered through the office manager.\n",
]


@pytest.fixture
def small_workspace(acme, alice_api, upload_indexed):
    for index, note in enumerate(NOTES):
        upload_indexed(alice_api, f"note{index}.md", note, workspace="sales")
    # Many more chunks elsewhere, which an index-then-filter scan would have to skip.
    for index in range(12):
        upload_indexed(alice_api, f"general{index}.md", b"# Fire\n\nFire " * (index + 1))
    return Workspace.objects.get(slug="sales")


def test_selective_filter_still_returns_k_results(small_workspace, settings):
    [vector] = embed_texts(["When is the fire drill?"])
    exact = vector_ranking(
        vector,
        workspace_ids=[small_workspace.pk],
        readers=everything(small_workspace),
        limit=3,
        exact=True,
    )
    # Force the HNSW path with a tiny search breadth: the fallback must still fill k.
    settings.VECTOR_EXACT_MAX_CHUNKS = 0
    settings.HNSW_EF_SEARCH = 1
    approximate = vector_ranking(
        vector, workspace_ids=[small_workspace.pk], readers=everything(small_workspace), limit=3
    )
    assert len(exact) == 3
    assert [r.chunk_id for r in approximate] == [r.chunk_id for r in exact]
    assert exact[0].score >= exact[1].score >= exact[2].score


def test_exact_and_hnsw_agree_on_an_unfiltered_scope(small_workspace, settings):
    general = Workspace.objects.get(slug="general")
    [vector] = embed_texts(["fire"])
    exact = vector_ranking(
        vector, workspace_ids=[general.pk], readers=everything(general), limit=5, exact=True
    )
    settings.HNSW_EF_SEARCH = 100
    approximate = vector_ranking(
        vector, workspace_ids=[general.pk], readers=everything(general), limit=5, exact=False
    )
    assert {r.chunk_id for r in approximate} == {r.chunk_id for r in exact}
