"""Restart Redis (broker and cache) while questions are asked and a sync is queued.

While Redis is down: ``/readyz`` answers 503 naming Redis; a question is answered or
refused with a clear 503, never a 500 or a hang. After it is back (and the worker
restarted by its supervisor, should the lost broker connection have ended it): the sync
queued just before the restart runs (Redis saved the queue when it stopped), questions
are answered again, and an answer cached before the restart is still served only to the workspace
(and readers) it was written for.
"""

from __future__ import annotations

import io
import time

import pytest
from django.db import connection
from django_tenants.utils import schema_context

pytestmark = [pytest.mark.faults, pytest.mark.worker]

VPN = b"# VPN\n\nA lost VPN token is revoked by the service desk on extension 4444.\n"
PARKING = b"# Parking\n\nVisitors park on level -1 of the north garage.\n"


def _indexed(client, name: str, data: bytes, eventually) -> int:
    handle = io.BytesIO(data)
    handle.name = name
    response = client.post("/api/v1/documents", {"file": handle}, format="multipart")
    assert response.status_code == 201, response.content
    document_id = response.json()["id"]

    def indexed():
        """the document to be indexed by the worker"""
        return client.get(f"/api/v1/documents/{document_id}").json()["status"] == "indexed"

    eventually(indexed, timeout=120, every=0.3)
    return document_id


def test_redis_restart_fails_cleanly_and_loses_no_queued_work(
    worker, redis, fault_org, tmp_path, eventually
):
    from django.test import Client

    from ingestion import sources
    from ingestion.models import Document, DocumentStatus, SyncRun, SyncStatus
    from tests.conftest import filesystem_source

    acme = fault_org("redisco")
    globex = fault_org("otherco")
    _indexed(acme.client, "vpn.md", VPN, eventually)
    question = {"question": "Who revokes a lost VPN token?"}
    before = acme.client.post("/api/v1/ask", question)
    assert before.status_code == 200, before.content
    assert "4444" in before.json()["answer"]

    share = tmp_path / "share"
    share.mkdir()
    (share / "parking.md").write_bytes(PARKING)
    probe = Client()
    log_mark = worker.log_path.stat().st_size
    with redis.down():
        # The sync is requested while Redis is down: refused cleanly, or queued.
        ready = probe.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["redis"]["status"] == "down"
        assert ready.json()["checks"]["database"]["status"] == "ok"
        for client in (acme.client, globex.client):
            started = time.monotonic()
            answer = client.post("/api/v1/ask", question)
            assert answer.status_code in (200, 503), answer.content
            if answer.status_code == 503:
                assert answer.json()["detail"]
                assert answer.has_header("Retry-After")
            assert time.monotonic() - started < 30  # no hang (the client would time out)

    assert probe.get("/readyz").json()["checks"]["redis"]["status"] == "ok"

    # Celery's Redis transport sometimes ends the worker on the lost connection
    # ("Unrecoverable error" in kombu's restore of unacknowledged messages), and the
    # process may take a while to exit; compose (restart: unless-stopped) and Kubernetes
    # start it again, so does this test. What must hold either way: the queued work is
    # done after it.
    def worker_settled() -> str:
        """the worker to reconnect to Redis or to have failed"""
        with worker.log_path.open() as log:
            log.seek(log_mark)
            since = log.read()
        if worker.process.poll() is not None or "Unrecoverable error" in since:
            return "failed"
        return "reconnected" if "Connected to redis" in since else ""

    if eventually(worker_settled, timeout=60, every=0.5) == "failed":
        if worker.process.poll() is None:
            worker.kill()
        worker.start()
    # A sync queued right after the restart and one document uploaded: both done.
    with schema_context(acme.org.schema):
        source = filesystem_source(share)
        run = sources.source_sync_request(source=source, trigger="manual")

        def synced():
            """the queued sync to run and its document to be indexed"""
            finished = SyncRun.objects.filter(pk=run.pk, status=SyncStatus.SUCCEEDED).exists()
            docs = Document.objects.filter(synced_from=source, status=DocumentStatus.INDEXED)
            return finished and docs.count() == 1

        eventually(synced, timeout=120, every=0.5)
    connection.set_schema_to_public()

    # Answers again; the one cached before the restart only in its own organization.
    after = acme.client.post("/api/v1/ask", question)
    assert after.status_code == 200, after.content
    assert "4444" in after.json()["answer"]
    other = globex.client.post("/api/v1/ask", question)
    assert other.status_code == 200, other.content
    assert "4444" not in other.json()["answer"]
    assert other.json()["citations"] == []
