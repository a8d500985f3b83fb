"""Slack, end to end in one process (eager tasks) against the loopback Slack fake:
signatures, retries and replays, the answer in its thread, follow-ups, the slash
command, reactions and buttons as feedback, identity linking."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from accounts.models import AuditEvent, User
from chat.models import ChatAnswer, ChatEventSeen, ChatIdentity, ChatThread
from search.models import Channel, Feedback, Question
from tests.conftest import portal_client

PARKING = b"# Parking\n\nStaff park in garage B, level 2. Badges open the gate.\n"


@pytest.fixture
def indexed(acme, alice_api, upload_indexed):
    upload_indexed(alice_api, "parking.md", PARKING, workspace="general")


def _answers(slack, channel="CGEN"):
    return [m for m in slack.posted(channel) if m["text"] != "Thinking…"]


def test_url_verification_is_answered_with_the_challenge(slack_platform, slack_sender):
    import json

    body = json.dumps({"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV"}).encode()
    response = slack_sender.post("/chat/slack/events", body, "application/json")
    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV"}


def test_a_mention_is_answered_in_its_thread_with_sources(
    indexed, slack_platform, slack, slack_sender, send
):
    started = time.perf_counter()
    response = send(lambda: slack_sender.mention("Where do staff park?", ts="1700000000.000100"))
    assert response.status_code == 200
    messages = slack.posted("CGEN")
    assert len(messages) == 1, messages  # the placeholder, updated with the answer
    answer = messages[0]
    assert answer["edited"]
    assert answer["thread_ts"] == "1700000000.000100"
    assert "garage B" in answer["text"]
    blocks = " ".join(str(b) for b in answer["blocks"])
    assert "http://acme.localhost/documents/" in blocks
    assert "#chunk-" in blocks
    assert "opaa_feedback_up" in blocks
    question = Question.objects.get()
    assert question.channel == Channel.CHAT
    assert question.asked_by.email == "alice@acme.example"
    assert AuditEvent.objects.filter(action="chat.question", target_id=str(question.pk)).exists()
    # alice's Slack account was linked through the email Slack vouches for.
    identity = ChatIdentity.objects.get(external_id="UALICE")
    assert identity.linked_by == "email"
    assert time.perf_counter() - started < 30


def test_a_thread_reply_continues_the_conversation(
    indexed, slack_platform, slack, slack_sender, send
):
    send(lambda: slack_sender.mention("Where do staff park?", ts="1700000001.000100"))
    reply = {
        "type": "message",
        "channel_type": "channel",
        "user": "UALICE",
        "text": "and which level?",
        "ts": "1700000002.000100",
        "thread_ts": "1700000001.000100",
        "channel": "CGEN",
    }
    send(lambda: slack_sender.event(reply))
    thread = ChatThread.objects.get()
    assert thread.conversation.questions.count() == 2
    assert len(_answers(slack)) == 2
    # A reply in a thread the bot is not part of is not for the bot.
    other = {**reply, "thread_ts": "1690000000.000001", "ts": "1700000003.0001"}
    send(lambda: slack_sender.event(other))
    assert Question.objects.count() == 2


def test_retries_and_replays_are_answered_once(indexed, slack_platform, slack, slack_sender, send):
    first = send(lambda: slack_sender.mention("Where do staff park?", event_id="Ev0RETRY"))
    retry = send(
        lambda: slack_sender.mention(
            "Where do staff park?",
            event_id="Ev0RETRY",
            headers={"HTTP_X_SLACK_RETRY_NUM": "1", "HTTP_X_SLACK_RETRY_REASON": "http_timeout"},
        )
    )
    assert first.status_code == retry.status_code == 200
    assert Question.objects.count() == 1
    assert ChatEventSeen.objects.filter(event_id="Ev0RETRY").count() == 1


def test_bad_and_expired_signatures_are_refused(slack_platform, slack_sender, world):
    from tests.chat.conftest import SlackSender

    wrong = SlackSender(world.acme.domain, secret="not-the-signing-secret")
    assert wrong.mention("Where do staff park?").status_code == 401
    stale = int(time.time()) - 6 * 60
    assert slack_sender.mention("Where do staff park?", timestamp=stale).status_code == 401
    unsigned = Client(HTTP_HOST=world.acme.domain).post(
        "/chat/slack/events", b"{}", content_type="application/json"
    )
    assert unsigned.status_code == 401
    assert not ChatEventSeen.objects.exists()


def test_a_signed_request_of_another_team_is_refused(slack_platform, slack_sender):
    response = slack_sender.mention("Where do staff park?", team="T0GLOBEX")
    assert response.status_code == 403
    assert not ChatEventSeen.objects.exists()


def test_an_unlinked_person_gets_a_private_link_and_nothing_else(
    indexed, slack_platform, slack, slack_sender, send, world
):
    send(lambda: slack_sender.mention("Where do staff park?", user="UUNCONFIRMED"))
    assert Question.objects.count() == 0
    assert _answers(slack) == []
    (private,) = slack.ephemeral
    assert private["user"] == "UUNCONFIRMED"
    assert "garage" not in private["text"]
    link = private["text"].split("http://acme.localhost", 1)[1].split()[0]
    # Opened while signed in to the portal: confirmed with a POST, then linked.
    bob = portal_client(world.acme, "bob@acme.example")
    assert bob.get(link).status_code == 200
    assert bob.post(link).status_code == 200
    identity = ChatIdentity.objects.get(external_id="UUNCONFIRMED")
    assert identity.user.email == "bob@acme.example"
    assert identity.linked_by == "link"
    assert AuditEvent.objects.filter(action="chat.identity_linked").count() >= 1
    # The link works once.
    assert bob.post(link).status_code == 404


def test_a_member_outside_the_channels_workspace_gets_nothing(
    indexed, slack_platform, slack, slack_sender, send
):
    send(lambda: slack_sender.mention("Where do staff park?", user="UBOB"))
    assert Question.objects.count() == 0
    assert _answers(slack) == []
    (private,) = slack.ephemeral
    assert "no access" in private["text"]
    assert "garage" not in private["text"]


def test_an_unmapped_channel_is_not_answered(indexed, slack_platform, slack, slack_sender, send):
    send(lambda: slack_sender.mention("Where do staff park?", channel="CRANDOM"))
    assert Question.objects.count() == 0
    assert "not connected" in slack.ephemeral[0]["text"]


def test_slash_command_acknowledges_then_answers_privately(
    indexed, slack_platform, slack, slack_sender, send
):
    response = send(
        lambda: slack_sender.command(
            "ask Where do staff park?", response_url=slack.response_url("cmd1")
        )
    )
    assert response.status_code == 200
    assert response.json() == {"response_type": "ephemeral", "text": "Thinking…"}
    (answer,) = slack.responses
    assert answer["response_type"] == "ephemeral"
    assert "garage B" in answer["text"]
    assert slack.posted("CGEN") == []


def test_slash_command_help_and_search(indexed, slack_platform, slack, slack_sender, send):
    help_ = slack_sender.command("help")
    assert "/opaa search" in help_.json()["text"]
    send(lambda: slack_sender.command("search garage", response_url=slack.response_url("s")))
    (found,) = slack.responses
    assert "garage B" in found["text"] or "garage B" in str(found.get("blocks"))
    assert Question.objects.count() == 0
    assert AuditEvent.objects.filter(action="search.performed").exists()


def test_switched_off_commands_say_so(indexed, slack_platform, slack, slack_sender, send):
    slack_platform.commands = ["ask"]
    slack_platform.save(update_fields=["commands"])
    send(lambda: slack_sender.command("search garage", response_url=slack.response_url("s")))
    assert "switched off" in slack.responses[0]["text"]


def test_reactions_and_buttons_become_feedback(indexed, slack_platform, slack, slack_sender, send):
    send(lambda: slack_sender.mention("Where do staff park?"))
    answer = ChatAnswer.objects.get()
    ts = answer.message_ids[0]
    reaction = {
        "type": "reaction_added",
        "user": "UALICE",
        "reaction": "+1",
        "item": {"type": "message", "channel": "CGEN", "ts": ts},
        "event_ts": f"{time.time():.6f}",
    }
    send(lambda: slack_sender.event(reaction))
    feedback = Feedback.objects.get()
    assert feedback.helpful is True
    assert feedback.user.email == "alice@acme.example"
    send(lambda: slack_sender.button(answer.pk, up=False, ts=ts))
    feedback.refresh_from_db()
    assert feedback.helpful is False
    # Someone else's reaction on alice's answer is not her feedback, nor theirs.
    User.objects.filter(email="bob@acme.example")  # bob is linked by email on his first event
    send(lambda: slack_sender.event({**reaction, "user": "UBOB", "reaction": "-1"}))
    assert Feedback.objects.count() == 1


def test_a_long_answer_to_a_slash_command_arrives_in_order_without_replacing_itself(
    slack_platform, slack
):
    from chat.handling import answer_deliver
    from chat.services import adapter_for

    answer = ChatAnswer.objects.create(
        platform=slack_platform,
        event_id="command:long",
        workspace=slack_platform.channels.get().workspace,
        channel_id="CGEN",
        response_url=slack.response_url("long"),
        parts=[{"text": "first part"}, {"text": "second part"}],
    )
    answer_deliver(answer=answer, adapter=adapter_for(slack_platform))
    assert [(r["text"], r["replace_original"]) for r in slack.responses] == [
        ("first part", True),
        ("second part", False),
    ]
    assert answer.delivered_at is not None
    assert answer.parts == []  # no copy of the answer is kept once it is posted
