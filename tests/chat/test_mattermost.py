"""Mattermost against the loopback Mattermost fake (eager tasks): the slash command and
the outgoing webhook with their tokens, threads by root id, signed feedback buttons,
rate limits, direct messages read by the bot, private replies without the ephemeral
permission."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from django.test import Client, TestCase

from chat.adapters.mattermost import action_signature
from chat.mattermost_poll import poll_once
from chat.models import ChatAnswer, ChatEventSeen
from chat.services import platform_secrets
from search.models import Feedback, Question
from tests.chat.conftest import COMMAND_TOKEN, WEBHOOK_TOKEN

PARKING = b"# Parking\n\nStaff park in garage B, level 2. Badges open the gate.\n"


@pytest.fixture
def indexed(acme, alice_api, upload_indexed):
    upload_indexed(alice_api, "parking.md", PARKING, workspace="general")


@pytest.fixture
def client(world):
    return Client(HTTP_HOST=world.acme.domain)


def _command(client, text, *, token=COMMAND_TOKEN, user="mmalice", response_url=""):
    form = {
        "channel_id": "mmgeneral",
        "channel_name": "town-square",
        "command": "/opaa",
        "response_url": response_url,
        "team_domain": "acme",
        "team_id": "mmteam",
        "text": text,
        "token": token,
        "trigger_id": f"trigger-{text}-{user}",
        "user_id": user,
        "user_name": user,
    }
    return client.post(
        "/chat/mattermost/command",
        urlencode(form),
        content_type="application/x-www-form-urlencoded",
    )


def _webhook(client, mattermost, text, *, token=WEBHOOK_TOKEN, user="mmalice", root_id=""):
    post_id = mattermost.add_post(
        channel_id="mmgeneral", user_id=user, message=text, root_id=root_id
    )
    body = {
        "token": token,
        "team_id": "mmteam",
        "team_domain": "acme",
        "channel_id": "mmgeneral",
        "channel_name": "town-square",
        "timestamp": 1700000000000,
        "user_id": user,
        "user_name": user,
        "post_id": post_id,
        "text": text,
        "trigger_word": "@opaa",
        "file_ids": "",
    }
    return post_id, client.post(
        "/chat/mattermost/webhook", json.dumps(body), content_type="application/json"
    )


def test_slash_command_answers_through_the_response_url(
    indexed, mattermost_platform, mattermost, client, send
):
    response = send(
        lambda: _command(client, "Where do staff park?", response_url=mattermost.response_url())
    )
    assert response.status_code == 200
    assert response.json()["text"] == "Thinking…"
    (answer,) = mattermost.responses
    assert answer["response_type"] == "ephemeral"
    assert "garage B" in answer["text"]
    assert "http://acme.localhost/documents/" in answer["text"]


def test_a_wrong_token_is_refused(mattermost_platform, client):
    assert _command(client, "x", token="guessed").status_code == 401
    assert not ChatEventSeen.objects.exists()


def test_the_outgoing_webhook_answers_in_a_thread_by_root_id(
    indexed, mattermost_platform, mattermost, client, send
):
    root, response = send(lambda: _webhook(client, mattermost, "@opaa Where do staff park?"))
    assert response.status_code == 200
    replies = [
        p
        for p in mattermost.in_channel("mmgeneral")
        if p["user_id"] == "botuserid0000000000000000a"
    ]
    (answer,) = replies
    assert answer["root_id"] == root
    assert answer["edited"]  # the "thinking" post, patched with the answer
    assert "garage B" in answer["message"]
    # A follow-up in the thread (its post's root is the question) continues it.
    send(lambda: _webhook(client, mattermost, "@opaa which level?", root_id=root))
    questions = Question.objects.order_by("pk")
    assert questions.count() == 2
    assert questions[0].conversation_id == questions[1].conversation_id
    assert all(p["root_id"] == root for p in mattermost.in_channel("mmgeneral") if p["id"] != root)


def test_buttons_are_signed_and_become_feedback(
    indexed, mattermost_platform, mattermost, client, send
):
    send(lambda: _webhook(client, mattermost, "@opaa Where do staff park?"))
    answer = ChatAnswer.objects.get()
    (posted,) = [p for p in mattermost.in_channel("mmgeneral") if p.get("props")]
    button = posted["props"]["attachments"][0]["actions"][1]
    assert button["integration"]["url"] == "http://acme.localhost/chat/mattermost/actions"
    context = button["integration"]["context"]
    body = {
        "user_id": "mmalice",
        "channel_id": "mmgeneral",
        "post_id": posted["id"],
        "context": context,
    }
    response = send(
        lambda: client.post(
            "/chat/mattermost/actions", json.dumps(body), content_type="application/json"
        )
    )
    assert response.status_code == 200
    assert Feedback.objects.get(question=answer.question).helpful is False
    # A context whose signature does not match (another answer's id) is refused.
    forged = {**context, "answer": answer.pk + 1}
    refused = client.post(
        "/chat/mattermost/actions",
        json.dumps({**body, "context": forged}),
        content_type="application/json",
    )
    assert refused.status_code == 401
    secret = platform_secrets(mattermost_platform)["action_secret"]
    assert context["sig"] == action_signature(secret, answer.pk, False)


def test_a_rate_limited_post_is_retried_and_nothing_is_lost(
    indexed, mattermost_platform, mattermost, client, send
):
    mattermost.rate_limit_next = 2  # the "thinking" post, then the answer's first try
    mattermost.retry_after = 0
    send(lambda: _webhook(client, mattermost, "@opaa Where do staff park?"))
    bot_posts = [p for p in mattermost.in_channel("mmgeneral") if p["user_id"] != "mmalice"]
    (answer,) = bot_posts
    assert "garage B" in answer["message"]
    limited = [r for r in mattermost.requests if r.path == "/api/v4/posts"]
    assert len(limited) == 3
    assert ChatAnswer.objects.get().delivered_at is not None


def test_an_unverified_email_gets_the_link_privately(
    indexed, mattermost_platform, mattermost, client, send
):
    send(lambda: _webhook(client, mattermost, "@opaa Where do staff park?", user="mmnobody"))
    assert Question.objects.count() == 0
    (private,) = mattermost.ephemeral
    assert private["user_id"] == "mmnobody"
    assert "/chat/link/" in private["post"]["message"]
    assert not [p for p in mattermost.in_channel("mmgeneral") if p["user_id"] != "mmnobody"]


def _poll(platform):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return poll_once(platform)


def _bot_posts(mattermost, channel_id):
    return [p for p in mattermost.in_channel(channel_id) if p["user_id"] == mattermost.bot_user_id]


def test_a_direct_message_is_answered_without_a_mention_and_its_thread_continues(
    indexed, mattermost_platform, mattermost
):
    """Outgoing webhooks never fire in direct messages: the bot reads them itself."""
    direct = mattermost.direct("mmalice")
    mattermost.add_post(channel_id=direct, user_id="mmalice", message="written before the bot")
    assert _poll(mattermost_platform) == 0  # the first reading answers no history
    question = mattermost.add_post(
        channel_id=direct, user_id="mmalice", message="Where do staff park?"
    )
    assert _poll(mattermost_platform) == 1
    (answer,) = _bot_posts(mattermost, direct)
    assert answer["root_id"] == question
    assert answer["edited"]  # "Thinking…", patched with the answer
    assert "garage B" in answer["message"]
    assert Question.objects.get().workspace.slug == "general"  # alice's default
    # A reply in the thread continues the conversation; read again, nothing twice.
    mattermost.add_post(
        channel_id=direct, user_id="mmalice", message="Which level?", root_id=question
    )
    assert _poll(mattermost_platform) == 1
    assert _poll(mattermost_platform) == 0
    first, second = Question.objects.order_by("pk")
    assert first.conversation_id == second.conversation_id
    assert all(p["root_id"] == question for p in _bot_posts(mattermost, direct))

    # Only a channel with new posts (the bot's own too) is read again.
    def reads():
        return [r for r in mattermost.requests if r.path.endswith("/posts") and r.method == "GET"]

    before = len(reads())
    assert _poll(mattermost_platform) == 0
    assert len(reads()) == before


def test_direct_messages_skip_the_bots_own_system_posts_and_edits(
    indexed, mattermost_platform, mattermost
):
    direct = mattermost.direct("mmalice")
    _poll(mattermost_platform)
    mattermost.add_post(
        channel_id=direct, user_id="mmalice", message="x", kind="system_join_channel"
    )
    mattermost.add_post(channel_id=direct, user_id=mattermost.bot_user_id, message="hello")
    assert _poll(mattermost_platform) == 0
    assert not Question.objects.exists()


def test_an_unlinked_person_gets_the_link_in_their_direct_message(
    indexed, mattermost_platform, mattermost
):
    direct = mattermost.direct("mmnobody")
    _poll(mattermost_platform)
    mattermost.add_post(channel_id=direct, user_id="mmnobody", message="Where do staff park?")
    _poll(mattermost_platform)
    assert not Question.objects.exists()
    (link,) = _bot_posts(mattermost, direct)
    assert "/chat/link/" in link["message"]


def test_without_the_ephemeral_permission_the_link_goes_to_a_direct_message(
    indexed, mattermost_platform, mattermost, client, send
):
    mattermost.ephemeral_allowed = False  # the bot lacks create_post_ephemeral
    send(lambda: _webhook(client, mattermost, "@opaa Where do staff park?", user="mmnobody"))
    assert not mattermost.ephemeral
    assert not [p for p in mattermost.in_channel("mmgeneral") if p["user_id"] != "mmnobody"]
    direct = mattermost.direct("mmnobody")
    (link,) = _bot_posts(mattermost, direct)
    assert "/chat/link/" in link["message"]
