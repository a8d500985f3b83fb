"""Pending documents whose indexing message was lost are queued again by beat.

The message can be lost between the row's commit and the send (the broker down then),
or after (Redis restarted without its data, an installation restored elsewhere).
``ingestion.enqueue`` marks each message sent in Redis; beat's sweep re-sends pending
documents with no marker. Tasks run eagerly here: a send indexes at once.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.cache import caches
from django.utils import timezone
from django_redis import get_redis_connection

from ingestion import enqueue
from ingestion.models import Document, DocumentStatus
from tests.conftest import free_port, named_file

NOTE = b"# Archive\n\nInvoices are kept for ten years in the archive room.\n"


def _pending_upload(client, name: str, capture) -> int:
    """An upload whose message was never sent (its on-commit hooks did not run)."""
    with capture(execute=False):
        data = NOTE + f"\nFiled as {name}.\n".encode()
        response = client.post("/api/v1/documents", {"file": named_file(name, data)})
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _age(document_id: int, seconds: int) -> None:
    Document.objects.filter(pk=document_id).update(
        updated_at=timezone.now() - timedelta(seconds=seconds)
    )


def test_a_pending_document_without_a_message_is_sent_again_and_indexed(
    acme, alice_api, django_capture_on_commit_callbacks
):
    lost = _pending_upload(alice_api, "lost.md", django_capture_on_commit_callbacks)
    recent = _pending_upload(alice_api, "recent.md", django_capture_on_commit_callbacks)
    _age(lost, enqueue.UNQUEUED_AFTER_S + 60)

    assert enqueue.documents_unqueued_send() == 1
    assert Document.objects.get(pk=lost).status == DocumentStatus.INDEXED
    # One just written may still be on its way to the queue: left alone.
    assert Document.objects.get(pk=recent).status == DocumentStatus.PENDING
    # Once indexed, its marker is gone: nothing is waiting for a message.
    assert get_redis_connection("default").get(enqueue._marker(lost)) is None
    assert enqueue.documents_unqueued_send() == 0


def test_a_document_waiting_in_the_queue_is_not_sent_twice(
    acme, alice_api, django_capture_on_commit_callbacks
):
    waiting = _pending_upload(alice_api, "waiting.md", django_capture_on_commit_callbacks)
    _age(waiting, enqueue.UNQUEUED_AFTER_S + 60)
    # Its message is in the queue (marked), behind a long batch.
    get_redis_connection("default").set(enqueue._marker(waiting), 1, ex=60)

    assert enqueue.documents_unqueued_send() == 0
    assert Document.objects.get(pk=waiting).status == DocumentStatus.PENDING


def test_a_send_with_redis_unreachable_is_logged_not_raised(acme, settings, caplog):
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {
                **settings.CACHES["default"].get("OPTIONS", {}),
                "SOCKET_CONNECT_TIMEOUT": 1,
            },
        }
    }
    try:
        assert enqueue.document_index_send(12345) is False
    finally:
        caches["default"].close()
    assert "not queued for indexing" in caplog.text
    assert "the unqueued sweep will queue it" in caplog.text


def test_the_sweep_is_scheduled():
    from django.conf import settings

    entries = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "ingestion.tasks.documents_unqueued_send_all" in entries


def test_a_document_left_processing_with_its_message_gone_is_sent_again(
    acme, alice_api, django_capture_on_commit_callbacks, settings
):
    stuck = _pending_upload(alice_api, "stuck.md", django_capture_on_commit_callbacks)
    Document.objects.filter(pk=stuck).update(status=DocumentStatus.PROCESSING)
    # Processing for less than indexing may take: its worker may still be at it.
    _age(stuck, settings.INDEX_TIME_LIMIT_S)
    assert enqueue.documents_unqueued_send() == 0
    _age(stuck, settings.INDEX_TIME_LIMIT_S + 60 + enqueue.UNQUEUED_AFTER_S + 60)
    assert enqueue.documents_unqueued_send() == 1
    assert Document.objects.get(pk=stuck).status == DocumentStatus.INDEXED
