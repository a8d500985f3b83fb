"""End to end through a real Celery worker: upload, index in the worker, ask, cite."""

from __future__ import annotations

import base64
import io
import time

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.worker

RUNBOOK = b"""# IT runbook

## VPN access

To connect to the VPN, open the Acme Connect client and sign in with your hardware token.
If the token is lost, call the service desk on extension 4444 to have it revoked.

## Printers

Printers on every floor accept jobs from the Acme Print queue.
"""


def test_upload_is_indexed_by_the_worker_and_cited_in_answers(worker, committed_org):
    from rest_framework.test import APIClient

    org = committed_org("initech", "peter@initech.example")
    client = APIClient(HTTP_HOST=org.domain)
    # HTTP basic auth with a local account, as an integrator's script would sign in.
    token = base64.b64encode(f"peter@initech.example:{PASSWORD}".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {token}")

    handle = io.BytesIO(RUNBOOK)
    handle.name = "runbook.md"
    response = client.post("/api/v1/documents", {"file": handle}, format="multipart")
    assert response.status_code == 201, response.content
    document_id = response.json()["id"]
    assert response.json()["status"] == "pending"

    deadline = time.monotonic() + 120
    status = "pending"
    while time.monotonic() < deadline:
        status = client.get(f"/api/v1/documents/{document_id}").json()["status"]
        if status in {"indexed", "failed"}:
            break
        time.sleep(0.5)
    assert status == "indexed"

    answer = client.post("/api/v1/ask", {"question": "Who do I call when my VPN token is lost?"})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert "4444" in body["answer"]
    assert body["citations"], body
    assert body["citations"][0]["document_id"] == document_id
    assert body["citations"][0]["url"].startswith(f"/documents/{document_id}/#chunk-")
    assert "[1]" in body["answer"]
