"""Restart Postgres in the middle of a sync of 100 items.

The session's worker (and this process) lose every connection; the sync task and the
indexing tasks in flight fail with a database error and retry with backoff. Afterwards
every item is indexed, none is stuck ``pending``/``processing``, no chunk or stored
original is left without its document, and the interrupted run was resumed after its
checkpoint (one run, each item counted once) rather than started again.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import connection
from django_tenants.utils import schema_context

pytestmark = [pytest.mark.faults, pytest.mark.worker]

ITEMS = 100
# Long enough for tasks to be picked up and retried while the server is away (the first
# retries come back within a second or two).
DOWN_S = 4


def _share(root):
    root.mkdir()
    for n in range(ITEMS):
        (root / f"memo-{n:03d}.md").write_text(
            f"# Memo {n}\n\nThe archive shelf of memo {n} is shelf {n * 31 % 97}.\n"
        )
    return root


def worker_idle() -> bool:
    """Whether the worker answers with no task running, prefetched or waiting for its
    retry time (a worker running a task does not answer until it ends)."""
    from opaa.celery import app

    inspect = app.control.inspect(timeout=1.0)
    for replies in (inspect.active(), inspect.reserved(), inspect.scheduled()):
        if not replies or any(replies.values()):
            return False
    return True


def test_postgres_restart_mid_sync_loses_and_duplicates_nothing(
    worker, postgres, fault_org, tmp_path, eventually
):
    from ingestion import enqueue, fairness, sources
    from ingestion.models import Chunk, Document, DocumentStatus, SyncRun, SyncStatus
    from ingestion.storage import objects_under, organization_prefix, originals_sweep
    from tests.conftest import filesystem_source

    owner = fault_org("pgco")
    root = _share(tmp_path / "share")
    with schema_context(owner.org.schema):
        source = filesystem_source(root)
        run = sources.source_sync_request(source=source, trigger="manual")

    def under_way():
        """the sync to have committed some items"""
        with schema_context(owner.org.schema):
            return SyncRun.objects.filter(pk=run.pk, seen__gte=10).exists()

    eventually(under_way, timeout=120, every=0.02)
    with postgres.down():
        time.sleep(DOWN_S)

    with schema_context(owner.org.schema):
        interrupted = SyncRun.objects.get(pk=run.pk)
        assert interrupted.status == SyncStatus.RUNNING
        assert interrupted.seen < ITEMS  # the restart hit the run in the middle

        def settled():
            """the resumed run to finish, every document to be indexed or failed, and no
            indexing message left: items sent before the restart and again by the resumed
            run have a second message (at least once), parked in the organization's backlog
            or queued, which indexes its document again (``processing`` for a moment)"""
            finished = SyncRun.objects.filter(pk=run.pk, status=SyncStatus.SUCCEEDED).exists()
            waiting = Document.objects.exclude(
                status__in=[DocumentStatus.INDEXED, DocumentStatus.FAILED]
            )
            if not finished or waiting.exists():
                return False
            if fairness.index_backlog_size() or enqueue.documents_queued():
                return False
            return worker_idle()

        eventually(settled, timeout=180, every=1)

        run.refresh_from_db()
        # The same run resumed after its checkpoint: each item counted once.
        assert SyncRun.objects.count() == 1
        assert (run.seen, run.added, run.failed) == (ITEMS, ITEMS, 0), run.item_errors
        documents = Document.objects.all()
        assert sorted(documents.values_list("external_id", flat=True)) == sorted(
            str(path) for path in root.iterdir()
        )
        assert set(documents.values_list("status", flat=True)) == {DocumentStatus.INDEXED}
        # One chunk per memo, each belonging to a document that exists: none orphaned,
        # none written twice.
        assert Chunk.objects.count() == ITEMS
        assert set(Chunk.objects.values_list("document_id", flat=True)) == set(
            documents.values_list("id", flat=True)
        )
        # Stored originals and rows match once the hourly sweep ran (an original stored
        # just before the server went away cannot be deleted until it is back): no
        # object without its row, no row without its object.
        originals_sweep(grace=timedelta(0))
        stored = objects_under(f"{organization_prefix(owner.org.schema)}documents/")
        assert stored == sorted(documents.values_list("storage_key", flat=True))
    connection.set_schema_to_public()
