"""Syncs through real workers: a worker killed mid-sync, two organizations at once."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from ingestion import sources
from ingestion.models import Chunk, Document, DocumentStatus, SyncRun, SyncStatus
from ingestion.sync import source_sync
from tests.conftest import filesystem_source
from workspaces.rls import organization_scope

ITEMS = 40


def _share(root, count: int, org: str):
    root.mkdir(parents=True)
    for n in range(count):
        (root / f"note-{n:04d}.md").write_text(
            f"# Note {n} of {org}\n\nThe code word of note {n} at {org} is {org}-{n * 7919}.\n"
        )
    return root


def _source(root):
    return filesystem_source(root)


def _wait(condition, *, timeout: float, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {condition.__doc__}")


@pytest.mark.worker
def test_a_worker_killed_mid_sync_resumes_and_indexes_every_item_once(
    worker, committed_org, tmp_path
):
    org = committed_org("killco", "kim@killco.example")
    root = _share(tmp_path / "share", ITEMS, "killco")
    with schema_context(org.schema):
        source = _source(root)
        run = sources.source_sync_request(source=source, trigger="manual")

        def some_items_synced():
            """the sync to be under way"""
            run.refresh_from_db()
            return run.seen >= 5

        _wait(some_items_synced, timeout=60, every=0.01)
        worker.kill()  # SIGKILL, mid-run: no cleanup, the task is never acknowledged
        run.refresh_from_db()
        killed_at = run.seen
        assert run.status == SyncStatus.RUNNING
        assert 0 < killed_at < ITEMS, killed_at

        worker.start()

        def heartbeat_stale():
            """the interrupted run to look abandoned (its lock expired)"""
            return SyncRun.objects.filter(
                pk=run.pk,
                heartbeat_at__lt=timezone.now() - timedelta(seconds=2 * settings.SYNC_LOCK_TTL_S),
            ).exists()

        _wait(heartbeat_stale, timeout=4 * settings.SYNC_LOCK_TTL_S)
        # What beat does every minute: resume runs a dead worker left behind.
        assert source.pk in sources.sources_sync_due()

        def all_indexed():
            """the resumed run to finish and every document to be indexed"""
            run.refresh_from_db()
            busy = Document.objects.exclude(status=DocumentStatus.INDEXED).exists()
            return run.status == SyncStatus.SUCCEEDED and not busy

        _wait(all_indexed, timeout=300, every=0.5)
        assert (run.seen, run.added, run.failed) == (ITEMS, ITEMS, 0)
        documents = Document.objects.filter(synced_from=source)
        external_ids = list(documents.values_list("external_id", flat=True))
        assert len(external_ids) == ITEMS
        assert set(external_ids) == {str(p) for p in root.iterdir()}
        # Each document indexed exactly once: one chunk each, none duplicated.
        assert Chunk.objects.count() == ITEMS
        assert set(Chunk.objects.values_list("document_id", flat=True)) == set(
            documents.values_list("id", flat=True)
        )
        assert SyncRun.objects.count() == 1  # the same run resumed, not a second one
    connection.set_schema_to_public()


def test_two_organizations_syncing_at_once_stay_apart(committed_org, tmp_path):
    orgs = [committed_org("initech", "peter@initech.example"),
            committed_org("umbrella", "alice@umbrella.example")]  # fmt: skip
    roots = {org.schema: _share(tmp_path / org.schema, 12, org.schema) for org in orgs}
    source_ids = {}
    for org in orgs:
        with schema_context(org.schema):
            source_ids[org.schema] = _source(roots[org.schema]).pk
    failures = []

    def sync(schema: str) -> None:
        try:
            # A new thread starts with no row-level security scope: set the task's own.
            with schema_context(schema), organization_scope():
                source_sync(source_id=source_ids[schema])
        except Exception as exc:  # reported below, in the test's thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sync, args=(org.schema,)) for org in orgs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert failures == []

    for org in orgs:
        other = next(o.schema for o in orgs if o is not org)
        with schema_context(org.schema):
            run = SyncRun.objects.get()
            assert (run.status, run.added) == (SyncStatus.SUCCEEDED, 12)
            documents = Document.objects.all()
            assert documents.count() == 12
            assert all(d.storage_key.startswith(f"org/{org.schema}/") for d in documents)
            assert all(d.external_id.startswith(str(roots[org.schema])) for d in documents)
            text = " ".join(Chunk.objects.values_list("text", flat=True))
            assert f"{org.schema}-" in text
            assert f"{other}-" not in text
            assert {d.status for d in documents} == {DocumentStatus.INDEXED}
    connection.set_schema_to_public()
