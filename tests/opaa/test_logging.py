"""Structured logs: request id round trip, JSON lines with context, no secrets, tasks."""

from __future__ import annotations

import io
import json
import logging
from types import SimpleNamespace

import pytest
import structlog

from opaa import observability
from tests.conftest import named_file


@pytest.fixture
def json_log():
    """Log lines as the configured formatter writes them, parsed from JSON."""
    formatter = next(
        handler.formatter
        for handler in logging.getLogger().handlers
        if isinstance(handler.formatter, structlog.stdlib.ProcessorFormatter)
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.addHandler(handler)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    try:
        yield lines
    finally:
        root.removeHandler(handler)


def request_lines(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["event"] == "request"]


def test_request_id_round_trips_and_is_logged(acme, alice_api, json_log):
    response = alice_api.get("/api/v1/documents", HTTP_X_REQUEST_ID="trace-abc.123")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "trace-abc.123"
    [line] = request_lines(json_log())
    assert line["request_id"] == "trace-abc.123"
    assert line["organization"] == acme.schema
    assert line["route"] == "api:documents"
    assert line["method"] == "GET"
    assert line["status"] == 200
    assert line["path"] == "/api/v1/documents"
    assert line["user_id"] is not None
    assert line["latency_ms"] >= 0
    assert line["level"] == "info"
    assert "timestamp" in line


def test_a_request_id_is_generated_when_missing_or_unsafe(acme, alice_api, json_log):
    first = alice_api.get("/api/v1/documents")["X-Request-ID"]
    second = alice_api.get("/api/v1/documents", HTTP_X_REQUEST_ID="bad id\nforged")["X-Request-ID"]
    assert len(first) == 32
    assert len(second) == 32
    assert first != second
    assert [line["request_id"] for line in request_lines(json_log())] == [first, second]


def test_log_lines_during_a_request_carry_its_context(
    acme, alice_api, django_capture_on_commit_callbacks, json_log
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post(
            "/api/v1/documents",
            {"file": named_file("note.md", b"# Note\n\nThe office opens at nine.")},
            format="multipart",
            HTTP_X_REQUEST_ID="r-1",
        )
    assert response.status_code == 201
    lines = [line for line in json_log() if line.get("request_id") == "r-1"]
    uploaded = [line for line in lines if line["event"].startswith("document uploaded")]
    assert uploaded
    assert uploaded[0]["organization"] == acme.schema
    # The document's text never reaches the log.
    assert not any("office opens" in json.dumps(line) for line in json_log())


def test_secrets_are_redacted(json_log):
    structlog.get_logger("test").info("calling", api_key="sk-live-123", password="pw", n=1)
    [line] = [line for line in json_log() if line["event"] == "calling"]
    assert line["api_key"] == "[redacted]"
    assert line["password"] == "[redacted]"
    assert line["n"] == 1


def test_request_id_travels_in_task_headers_and_is_bound_in_the_worker():
    structlog.contextvars.bind_contextvars(request_id="req-42")
    headers: dict = {}
    try:
        observability._request_id_into_headers(headers=headers)
    finally:
        structlog.contextvars.clear_contextvars()
    assert headers == {"request_id": "req-42"}

    # What the worker sees: the message headers on the task's request.
    request = SimpleNamespace(headers={**headers, "_schema_name": "acme"}, get=lambda name: None)
    task = SimpleNamespace(name="ingestion.tasks.index_document", request=request)
    observability._bind_task_context(task_id="t-1", task=task)
    bound = structlog.contextvars.get_contextvars()
    assert bound["request_id"] == "req-42"
    assert bound["organization"] == "acme"
    assert bound["task"] == "ingestion.tasks.index_document"
    observability._unbind_task_context(task=task)
    assert "request_id" not in structlog.contextvars.get_contextvars()


@pytest.mark.worker
def test_a_real_worker_logs_the_request_id_of_the_upload(worker, committed_org):
    """Upload with an X-Request-ID; the worker's log lines for the indexing task carry it."""
    import time
    import uuid

    from rest_framework.test import APIClient

    from accounts.models import User
    from opaa.settings.env import DATA_DIR

    org = committed_org("hooli", "gavin@hooli.example")
    client = APIClient(HTTP_HOST=org.domain)
    from django_tenants.utils import schema_context

    with schema_context(org.schema):
        client.force_authenticate(User.objects.get(email="gavin@hooli.example"))
    request_id = f"e2e-{uuid.uuid4().hex}"
    response = client.post(
        "/api/v1/documents",
        {"file": named_file("memo.md", b"# Memo\n\nThe canteen closes at three.")},
        format="multipart",
        HTTP_X_REQUEST_ID=request_id,
    )
    assert response.status_code == 201, response.content
    document_id = response.json()["id"]

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if client.get(f"/api/v1/documents/{document_id}").json()["status"] != "pending":
            lines = [
                json.loads(line)
                for line in (DATA_DIR / "worker.log").read_text().splitlines()
                if line.startswith("{") and request_id in line
            ]
            if any("succeeded" in line["event"] for line in lines):
                break
        time.sleep(0.5)
    else:
        pytest.fail("the worker logged nothing with the upload's request id")
    assert all(line["organization"] == org.schema for line in lines)
    # The indexing task's lines, and its embedding task's when that ran already: both
    # carry the upload's request id.
    tasks = {line["task"] for line in lines}
    assert "ingestion.tasks.index_document" in tasks
    assert tasks <= {"ingestion.tasks.index_document", "ingestion.tasks.embed_chunks"}, tasks
    assert not any("canteen" in json.dumps(line) for line in lines)
