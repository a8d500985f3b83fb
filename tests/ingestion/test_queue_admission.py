"""Admission to the ``ingest`` queue: a few messages per organization, the rest parked.

Where a worker has no share of slots to keep free (one process: the session's worker,
or several workers of one process each), the queue's order was the only order: a light
organization's page waited behind every message a heavy organization had queued before
it. Now at most ``QUEUED_PER_ORGANIZATION`` of an organization's messages wait in the
queue; the rest wait parked in its backlog and are sent one by one as its messages are
taken (``ingestion.enqueue``).
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from django_redis import get_redis_connection

from ingestion import enqueue, fairness
from ingestion.models import Document, DocumentStatus
from tests.conftest import named_file
from tests.ingestion.test_fairness import _indexed, _page, _searchable_within, _upload

NOTE = b"# Archive\n\nInvoices are kept for ten years in the archive room.\n"


def _pending(client, name: str, capture) -> int:
    """An upload whose message was not sent yet (its on-commit hooks did not run)."""
    with capture(execute=False):
        data = NOTE + f"\nFiled as {name}.\n".encode()
        response = client.post("/api/v1/documents", {"file": named_file(name, data)})
    assert response.status_code == 201, response.content
    return response.json()["id"]


@pytest.fixture
def empty_queue(acme):
    client = get_redis_connection("default")
    keys = (enqueue._queued_key(), fairness.backlog_key(), fairness.WAITING_KEY)
    client.delete(*keys)
    yield
    client.delete(*keys)


def _fill(*document_ids: int) -> None:
    """As if these documents' messages waited in the queue."""
    get_redis_connection("default").zadd(
        enqueue._queued_key(), {str(pk): time.time() + 60 for pk in document_ids}
    )


def _backlog() -> list[int]:
    return [int(pk) for pk in get_redis_connection("default").lrange(fairness.backlog_key(), 0, -1)]


def test_beyond_a_few_queued_a_document_is_parked_and_sent_when_one_is_taken(
    acme, empty_queue, alice_api, django_capture_on_commit_callbacks
):
    first = _pending(alice_api, "first.md", django_capture_on_commit_callbacks)
    second = _pending(alice_api, "second.md", django_capture_on_commit_callbacks)
    assert enqueue.QUEUED_PER_ORGANIZATION == 2
    _fill(900001, 900002)

    # Two of the organization's messages wait: both documents are parked, in order,
    # not sent (tasks run eagerly here: a send would index at once).
    assert enqueue.document_index_send(first) is True
    assert enqueue.document_index_send(second) is True
    assert _backlog() == [first, second]
    assert Document.objects.get(pk=first).status == DocumentStatus.PENDING
    # Parked, not lost: their markers stay, so the unqueued sweep leaves them alone.
    client = get_redis_connection("default")
    assert client.get(enqueue._marker(first)) is not None

    # A parked document taken off the backlog and refused again goes back to the front
    # (its turn), a new one to the end.
    assert fairness.index_backlog_next() == first
    assert enqueue.document_index_send(first) is True
    assert _backlog() == [first, second]

    # A worker takes one of the waiting messages and runs it: the first parked document
    # is sent in its place (here it runs at once, and as it ends, the next goes on: one
    # message waits, there is room).
    enqueue.document_index_taken(900001, runs=True)
    assert Document.objects.get(pk=first).status == DocumentStatus.INDEXED
    assert Document.objects.get(pk=second).status == DocumentStatus.INDEXED
    assert _backlog() == []
    assert enqueue.documents_queued() == 1  # 900002's message, still waiting

    # Taken but parked by the worker's fair share: nothing is sent in its place (the
    # share's releases send the parked ones).
    third = _pending(alice_api, "third.md", django_capture_on_commit_callbacks)
    _fill(900003)
    enqueue.document_index_send(third)
    assert _backlog() == [third]
    enqueue.document_index_taken(900002, runs=False)
    assert _backlog() == [third]
    assert Document.objects.get(pk=third).status == DocumentStatus.PENDING
    # Room in the queue: sent at once; once handled it counts no more.
    enqueue.document_index_taken(900003, runs=True)
    assert Document.objects.get(pk=third).status == DocumentStatus.INDEXED
    assert enqueue.documents_queued() == 0


def test_an_organization_counts_as_waiting_while_one_of_its_messages_is_queued(
    acme, empty_queue, alice_api, django_capture_on_commit_callbacks, monkeypatch
):
    """Whether an organization has a message waiting (what keeps another organization
    from being lent its kept slot, ``ingestion.fairness``) follows its queued messages:
    from the first one sent to the last one taken or handled."""
    from django.db import connection

    from ingestion import tasks

    client = get_redis_connection("default")
    client.delete(fairness.WAITING_KEY)

    def waiting() -> bool:
        return client.zscore(fairness.WAITING_KEY, connection.schema_name) is not None

    first = _pending(alice_api, "first.md", django_capture_on_commit_callbacks)
    second = _pending(alice_api, "second.md", django_capture_on_commit_callbacks)
    # The messages are recorded instead of run (tasks run eagerly here).
    sent: list[bool] = []
    monkeypatch.setattr(tasks.index_document, "apply_async", lambda *a, **k: sent.append(waiting()))
    assert not waiting()
    enqueue.document_index_send(first)
    enqueue.document_index_send(second)
    assert sent == [True, True]  # waiting from the moment each message goes out
    enqueue.document_index_taken(first, runs=False)
    assert waiting()  # the second message is still queued
    enqueue.document_index_taken(second, runs=False)
    assert not waiting()
    # Handled where nothing noted the take (eager): the same.
    enqueue.document_index_send(first)
    assert waiting()
    enqueue.document_index_done(first)
    assert not waiting()


def test_a_document_sent_off_the_backlog_and_parked_by_the_share_keeps_its_turn(
    acme, empty_queue, monkeypatch
):
    """On a worker with a fair share, the parked document sent when a message is taken
    may find the organization at its share: parked again, at the backlog's front (it
    was the oldest waiting), not behind the documents uploaded after it."""
    import uuid

    monkeypatch.setattr(fairness, "LEASE_TTL_S", 30)
    hostname = f"celery@test-{uuid.uuid4().hex}"
    running = fairness.IndexSlot(hostname=hostname, limit=1)
    assert running.acquire()
    _fill(900001, 900002)
    for pk in (700001, 700002, 700003):  # parked by admission, in order
        enqueue.document_index_send(pk)
    assert _backlog() == [700001, 700002, 700003]
    client = get_redis_connection("default")
    assert client.get(enqueue.queue_marker(700001)) == b"1"
    # Sent off the backlog (here refused again by the admission: the queue is full),
    # its marker says so ...
    assert fairness.index_backlog_next() == 700001
    enqueue.document_index_send(700001)
    assert client.get(enqueue.queue_marker(700001)) == b"2"
    assert fairness.index_backlog_next() == 700001
    # ... and when it meets the share on the worker that takes it: back at the front.
    again = fairness.IndexSlot(hostname=hostname, limit=1)
    assert not again.acquire(park=700001, marker=enqueue.queue_marker(700001))
    assert _backlog() == [700001, 700002, 700003]
    # A document sent fresh and parked by the share goes to the end.
    fresh = fairness.IndexSlot(hostname=hostname, limit=1)
    assert not fresh.acquire(park=700004, marker=enqueue.queue_marker(700004))
    assert _backlog() == [700001, 700002, 700003, 700004]
    running.release()
    client.delete(*(enqueue.queue_marker(pk) for pk in (700001, 700002, 700003)))


def test_an_entry_whose_take_was_never_noted_stops_counting():
    """A worker killed between taking a message and noting it leaves an entry: it
    expires, so the organization is not held to fewer messages for ever."""
    from django.db import connection

    client = get_redis_connection("default")
    key = f"opaa:index-queued-set:{connection.schema_name}"
    client.delete(key)
    client.zadd(key, {"1": time.time() - 1, "2": time.time() + 60})
    assert enqueue.documents_queued() == 1
    client.delete(key)


@pytest.mark.worker
def test_a_light_organizations_page_is_not_behind_a_heavy_ones_queue_on_a_one_process_worker(
    worker, heavy_light
):
    """The session's worker runs one task at a time (no share to keep free). Heavyco
    uploads 24 pages at once, Lightco one page behind them: the page is searchable after
    at most a few of Heavyco's pages (before: after all 24, 8.7 s in the benchmark)."""
    from django_tenants.utils import schema_context

    heavy_org, heavy, light = heavy_light.heavy_org, heavy_light.heavy, heavy_light.light
    # The worker is held while the pages are uploaded, so they all arrive before it takes
    # the first, however busy the machine (on a loaded one the worker kept up with the
    # uploads, and nothing was ever parked).
    os.kill(worker.process.pid, signal.SIGSTOP)
    try:
        heavy_ids = [_upload(heavy, f"page-{n}.md", _page(n)) for n in range(24)]
        with schema_context(heavy_org.schema):
            queued, parked = enqueue.documents_queued(), fairness.index_backlog_size()
        page_id = _upload(light, "canteen.md", _page(1000, "canteen"))
        done_at_upload = heavy_light.done(heavy_ids)
    finally:
        os.kill(worker.process.pid, signal.SIGCONT)
    # At most two of Heavyco's messages in the queue; the rest parked.
    assert queued <= enqueue.QUEUED_PER_ORGANIZATION
    assert parked > 10, (parked, done_at_upload)
    waited = _searchable_within(light, page_id, timeout=120)
    assert waited is not None, "not searchable within two minutes"
    # Counted in pages, not seconds (the machine's load sets the seconds): while
    # Lightco's page waited, only the page being worked on and the two queued before it
    # got done (a few more as the uploads went on).
    done_while_waiting = heavy_light.done(heavy_ids) - done_at_upload
    assert done_while_waiting <= 4, (done_at_upload, done_while_waiting, waited)
    # Parked documents are not lost: every page ends indexed, nothing left counted.
    for document_id in heavy_ids:
        _indexed(heavy, document_id, timeout=300)
    with schema_context(heavy_org.schema):
        assert fairness.index_backlog_size() == 0
        assert enqueue.documents_queued() == 0
