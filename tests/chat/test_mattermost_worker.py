"""Mattermost through a real Celery worker and Postgres: the slash command answers
"Thinking…" at once and the worker answers through its response URL; a mention through
the outgoing webhook gets "Thinking…" posted through the REST API in the thread (root
id), patched with the answer; a 429 with Retry-After is posted after it, once; a direct
message is read by the bot from beat's poll (outgoing webhooks never fire in direct
messages) and answered in its thread, which continues the conversation; a file sent
there is uploaded and the bot says when it is indexed."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from chat.matrix_sync import matrix_sync_all
from chat.models import MattermostSync
from search.models import Question
from tests.chat.conftest import COMMAND_TOKEN, WEBHOOK_TOKEN, mattermost_configure, mattermost_user
from tests.chat.fake_mattermost import FakeMattermost
from tests.chat.test_chat_worker import PARKING, _indexed

pytestmark = pytest.mark.worker


def _command(client, text, response_url):
    form = {
        "channel_id": "mmgeneral",
        "channel_name": "town-square",
        "command": "/opaa",
        "response_url": response_url,
        "team_id": "mmteam",
        "text": text,
        "token": COMMAND_TOKEN,
        "trigger_id": f"trigger-{time.time_ns()}",
        "user_id": "mmpeter",
        "user_name": "peter",
    }
    body = urlencode(form)
    return client.post(
        "/chat/mattermost/command", body, content_type="application/x-www-form-urlencoded"
    )


def _mention(client, mm, text):
    post_id = mm.add_post(channel_id="mmgeneral", user_id="mmpeter", message=text)
    body = {
        "token": WEBHOOK_TOKEN,
        "team_id": "mmteam",
        "channel_id": "mmgeneral",
        "channel_name": "town-square",
        "user_id": "mmpeter",
        "user_name": "peter",
        "post_id": post_id,
        "text": text,
        "trigger_word": "@opaa",
        "file_ids": "",
    }
    response = client.post(
        "/chat/mattermost/webhook", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 200
    return post_id


def _answers(mm, channel_id, root):
    return [
        p
        for p in mm.in_thread(channel_id, root)
        if p["user_id"] == mm.bot_user_id and "garage B" in p["message"]
    ]


def test_mattermost_through_the_worker(worker, committed_org):
    org = committed_org("initech", "peter@initech.example")
    with FakeMattermost() as mm:
        mm.users["mmpeter"] = mattermost_user("mmpeter", "peter@initech.example")
        with schema_context(org.schema):
            mattermost_configure(mm)
        _indexed(org, "peter@initech.example", "parking.md", PARKING)
        client = Client(HTTP_HOST=org.domain)

        # 1. The slash command: "Thinking…" at once (ephemeral), the answer from the
        # worker through the command's response URL.
        started = time.perf_counter()
        ack = _command(client, "ask Where do staff park?", mm.response_url("c1"))
        assert time.perf_counter() - started < 3
        assert ack.json() == {"response_type": "ephemeral", "text": "Thinking…"}
        (answer,) = mm.wait_for(
            lambda s: [r for r in s.responses if "garage B" in r["text"]], timeout=90
        )
        assert answer["response_type"] == "ephemeral"

        # 2. A mention: "Thinking…" posted in the thread through the REST API, then
        # patched with the answer.
        root = _mention(client, mm, "@opaa Where do staff park?")
        (posted,) = mm.wait_for(lambda s: _answers(s, "mmgeneral", root), timeout=90)
        assert posted["root_id"] == root
        assert posted["edited"]
        first_post = next(
            r for r in mm.requests if r.path == "/api/v4/posts" and r.method == "POST"
        )
        thinking = {"channel_id": "mmgeneral", "root_id": root, "message": "Thinking…"}
        assert first_post.body == thinking

        # 3. Rate-limited twice (the "Thinking…" post and the answer's first try): the
        # answer comes after Retry-After, once.
        mm.rate_limit_next = 2
        mm.retry_after = 1
        limited_at = time.monotonic()
        root2 = _mention(client, mm, "@opaa Where do staff park?")
        (late,) = mm.wait_for(lambda s: _answers(s, "mmgeneral", root2), timeout=90)
        assert time.monotonic() - limited_at >= 1  # not before Retry-After
        assert late["root_id"] == root2
        time.sleep(2)
        assert len(_answers(mm, "mmgeneral", root2)) == 1
        tries = [r for r in mm.requests if r.path == "/api/v4/posts" and r.method == "POST"]
        assert len(tries) >= 4  # 1 before, then 2 refused and the answer

        # 4. A direct message, read by beat's poll through the worker.
        direct = mm.direct("mmpeter")
        matrix_sync_all.delay()  # beat's entry: the first reading only records
        with schema_context(org.schema):
            mm.wait_for(
                lambda s: MattermostSync.objects.filter(baseline_ms__isnull=False).exists(),
                timeout=60,
            )
        question = mm.add_post(channel_id=direct, user_id="mmpeter", message="Where do staff park?")
        matrix_sync_all.delay()
        (dm_answer,) = mm.wait_for(lambda s: _answers(s, direct, question), timeout=90)
        assert dm_answer["root_id"] == question
        mm.add_post(channel_id=direct, user_id="mmpeter", message="Which level?", root_id=question)

        def two_questions(_s):
            matrix_sync_all.delay()
            time.sleep(0.5)
            with schema_context(org.schema):
                asked = list(Question.objects.filter(text="Which level?"))
                return asked and asked[0]

        followup = mm.wait_for(two_questions, timeout=90)
        with schema_context(org.schema):
            first = Question.objects.filter(text="Where do staff park?").latest("pk")
            assert followup.conversation_id == first.conversation_id

        # 5. A file sent in the direct message: uploaded into peter's default workspace,
        # and the bot says so in its thread when it is indexed.
        mm.files["f1"] = ("badges.md", b"# Badges\n\nLost badges are replaced at reception.\n")
        sent = mm.add_post(channel_id=direct, user_id="mmpeter", message="", file_ids=("f1",))

        def indexed_reply(s):
            matrix_sync_all.delay()
            time.sleep(0.5)
            return [
                p
                for p in s.in_thread(direct, sent)
                if p["user_id"] == s.bot_user_id and "badges.md is indexed" in p["message"]
            ]

        mm.wait_for(indexed_reply, timeout=120)
