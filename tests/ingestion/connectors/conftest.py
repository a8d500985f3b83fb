"""Fixtures for connector tests: sources on real folders, syncs run in the test's process."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ingestion import embedding_queue, indexing
from ingestion.models import Chunk, Document, Source, SyncRun
from ingestion.sync import source_sync
from tests.conftest import filesystem_source


@dataclass
class EmbedSpy:
    """Counts calls of the real embedding function (it still embeds)."""

    calls: list[int] = field(default_factory=list)


@pytest.fixture
def embed_spy(monkeypatch) -> EmbedSpy:
    spy = EmbedSpy()
    real = indexing.embed_with

    def counting(model, texts, **options):
        spy.calls.append(len(texts))
        return real(model, texts, **options)

    # Passages are embedded inline (INDEX_EMBED_INLINE) or by the embed queue.
    monkeypatch.setattr(indexing, "embed_with", counting)
    monkeypatch.setattr(embedding_queue, "embed_with", counting)
    return spy


@pytest.fixture
def fs_source(acme):
    """Make a file-system source of Acme's default workspace over ``paths``."""

    return filesystem_source


@pytest.fixture
def run_sync(django_capture_on_commit_callbacks):
    """Sync a source now, indexing what it queues at once (eager tasks)."""

    def run(source: Source, **options) -> SyncRun:
        with django_capture_on_commit_callbacks(execute=True):
            run = source_sync(source_id=source.pk, **options)
        run.refresh_from_db()
        return run

    return run


def snapshot(source: Source) -> dict:
    """What a sync could have written: documents (with update times) and chunk ids."""
    return {
        "documents": sorted(
            Document.objects.filter(synced_from=source).values_list(
                "id", "external_id", "updated_at", "storage_key", "version"
            )
        ),
        "chunks": sorted(
            Chunk.objects.filter(document__synced_from=source).values_list("id", flat=True)
        ),
    }
