"""Slack through a real Celery worker and Postgres: the webhook acknowledges at once, the
worker answers in the thread; a 429 with Retry-After from chat.postMessage is posted
later, once; a file attached to a mention is uploaded, indexed, and the bot says so."""

from __future__ import annotations

import base64
import io
import time

import pytest
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from tests.chat.conftest import SlackSender, slack_configure, slack_user
from tests.conftest import PASSWORD
from tests.fakes.chat_platforms import FakeSlackServer

pytestmark = pytest.mark.worker

PARKING = b"# Parking\n\nStaff park in garage B, level 2. Badges open the gate.\n"


def _indexed(org, email: str, name: str, data: bytes) -> None:
    client = APIClient(HTTP_HOST=org.domain)
    token = base64.b64encode(f"{email}:{PASSWORD}".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {token}")
    handle = io.BytesIO(data)
    handle.name = name
    response = client.post("/api/v1/documents", {"file": handle}, format="multipart")
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    deadline = time.monotonic() + 120
    while client.get(f"/api/v1/documents/{pk}").json()["status"] != "indexed":
        assert time.monotonic() < deadline, "not indexed"
        time.sleep(0.3)


def _answer_text(slack, channel="CGEN"):
    return [m for m in slack.posted(channel) if "garage B" in m["text"]]


def test_worker_answers_retries_a_rate_limit_and_reports_an_upload(worker, committed_org):
    org = committed_org("hooli", "gavin@hooli.example")
    with FakeSlackServer(team_id="T0HOOLI") as slack:
        slack.users["UGAVIN"] = slack_user("UGAVIN", "gavin@hooli.example")
        with schema_context(org.schema):
            slack_configure(slack, team="T0HOOLI")
        _indexed(org, "gavin@hooli.example", "parking.md", PARKING)
        sender = SlackSender(org.domain, team="T0HOOLI")

        # 1. A mention: acknowledged at once, answered by the worker in the thread.
        started = time.perf_counter()
        ack = sender.mention("Where do staff park?", user="UGAVIN", ts="1700000000.000100")
        ack_seconds = time.perf_counter() - started
        assert ack.status_code == 200
        assert ack_seconds < 3, ack_seconds  # Slack's deadline
        (answer,) = slack.wait_for(lambda s: _answer_text(s), timeout=90)
        assert answer["thread_ts"] == "1700000000.000100"

        # 2. chat.postMessage rate-limited twice (the placeholder, then the answer):
        # the answer is posted after Retry-After, exactly once.
        slack.rate_limit_next = 2
        slack.retry_after = 1
        sender.mention("Where do staff park?", user="UGAVIN", ts="1700000001.000100")
        slack.wait_for(lambda s: len(_answer_text(s)) == 2, timeout=90)
        time.sleep(2)
        assert len(_answer_text(slack)) == 2
        limited = [r for r in slack.requests if r.path == "/api/chat.postMessage"]
        assert len(limited) >= 3

        # 3. A file with a mention: uploaded into the channel's workspace, then indexed.
        slack.files["F1"] = ("badges.md", b"# Badges\n\nLost badges are replaced at reception.\n")
        event = {
            "type": "app_mention",
            "user": "UGAVIN",
            "text": "<@UBOT> add this",
            "ts": "1700000002.000100",
            "channel": "CGEN",
            "files": [
                {
                    "id": "F1",
                    "name": "badges.md",
                    "size": 48,
                    "url_private_download": slack.file_url("F1"),
                }
            ],
        }
        assert sender.event(event).status_code == 200
        slack.wait_for(
            lambda s: [m for m in s.posted("CGEN") if "badges.md is indexed" in m["text"]],
            timeout=120,
        )
        received = [m for m in slack.posted("CGEN") if m["text"].startswith("Received badges.md")]
        assert received
        assert received[0]["thread_ts"] == "1700000002.000100"
