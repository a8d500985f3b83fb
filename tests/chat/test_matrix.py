"""Matrix against a real Synapse on loopback (eager tasks): the bot's /sync joins the
rooms it is invited to, answers a mention in a thread (``m.thread``), continues the
thread without a mention, takes 👍/👎 reactions as feedback, and tells an unlinked
person or one outside the room's workspace only in a direct room."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import TestCase

from accounts.audit import AuditContext
from accounts.models import User
from chat import services
from chat.matrix_sync import matrix_sync, matrix_sync_all, sync_once
from chat.models import ChatIdentity, MatrixSync, PlatformKind
from search.models import Feedback, Question
from tests.chat.conftest import ALL_COMMANDS
from tests.fakes.synapse import Synapse
from workspaces.models import Workspace

PARKING = b"# Parking\n\nStaff park in garage B, level 2. Badges open the gate.\n"


@pytest.fixture(scope="module")
def synapse(tmp_path_factory):
    with Synapse(tmp_path_factory.mktemp("synapse")) as server:
        yield server


@pytest.fixture
def people(synapse):
    """Fresh Matrix users for each test (the homeserver lives for the module)."""
    suffix = uuid.uuid4().hex[:6]
    return {
        name: synapse.register(f"{name}{suffix}") for name in ("opaa", "alice", "bob", "stranger")
    }


@pytest.fixture
def indexed(acme, alice_api, upload_indexed):
    upload_indexed(alice_api, "parking.md", PARKING, workspace="general")


@pytest.fixture
def room(acme, synapse, people):
    """A room alice made and invited the bot to, mapped to General; alice is linked."""
    alice, bot = people["alice"], people["opaa"]
    room_id = alice.room_create(invite=[bot.user_id])
    platform = services.platform_save(
        kind=PlatformKind.MATRIX,
        enabled=True,
        team_id="",
        api_url=synapse.url,
        commands=ALL_COMMANDS,
        new_secrets={"access_token": bot.token},
        portal_url="http://acme.localhost/",
        audit=AuditContext(),
    )
    services.mapping_add(
        platform=platform,
        channel_id=room_id,
        name="General",
        workspace=Workspace.objects.get(slug="general"),
        audit=AuditContext(),
    )
    identity = services.identity_get(platform=platform, external_id=alice.user_id)
    services.identity_link(
        identity=identity,
        user=User.objects.get(email="alice@acme.example"),
        linked_by="link",
        audit=AuditContext(),
    )
    sync(platform)  # the first sync: joins the room, answers no history
    return platform, room_id


def sync(platform):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return sync_once(platform)


def _bot_messages(person, room_id, bot):
    return [m for m in person.messages(room_id) if m["sender"] == bot.user_id]


def test_a_mention_is_answered_in_a_thread_and_the_thread_continues(indexed, room, people):
    platform, room_id = room
    alice, bot = people["alice"], people["opaa"]
    alice.say(room_id, "before the question, not for the bot")
    question = alice.say(room_id, f"{bot.user_id}: Where do staff park?", mention=bot.user_id)
    assert sync(platform) == 1
    placeholder, edit = _bot_messages(alice, room_id, bot)
    assert placeholder["content"]["m.relates_to"]["rel_type"] == "m.thread"
    assert placeholder["content"]["m.relates_to"]["event_id"] == question
    assert edit["content"]["m.relates_to"] == {
        "rel_type": "m.replace",
        "event_id": placeholder["event_id"],
    }
    answer = edit["content"]["m.new_content"]
    assert "garage B" in answer["body"]
    assert "1. Parking (Parking): http://acme.localhost/documents/" in answer["body"]
    assert '<ol><li><a href="http://acme.localhost/documents/' in answer["formatted_body"]
    # A reply in the thread, without a mention, continues the same conversation.
    alice.say(room_id, "Which level?", thread=question)
    assert sync(platform) == 1
    first, second = Question.objects.order_by("pk")
    assert first.conversation_id == second.conversation_id
    threads = [
        m["content"]["m.relates_to"].get("event_id")
        for m in _bot_messages(alice, room_id, bot)
        if m["content"]["m.relates_to"]["rel_type"] == "m.thread"
    ]
    assert threads == [question, question]
    # Synced again: nothing new, nothing answered twice.
    assert sync(platform) == 0
    assert Question.objects.count() == 2


def test_a_direct_chat_needs_no_mention_and_answers_from_the_default_workspace(
    indexed, room, people
):
    platform, _room_id = room
    alice, bot = people["alice"], people["opaa"]
    direct = alice.direct_create(bot.user_id)
    sync(platform)  # joins, and remembers it as a direct chat (m.direct)
    alice.say(direct, "Where do staff park?")
    assert sync(platform) == 1
    (question,) = Question.objects.all()
    assert question.workspace.slug == "general"  # alice's default workspace
    _placeholder, edit = _bot_messages(alice, direct, bot)
    assert "garage B" in edit["content"]["m.new_content"]["body"]


def test_a_reaction_on_an_answer_is_feedback(indexed, room, people):
    platform, room_id = room
    alice, bot = people["alice"], people["opaa"]
    name = bot.user_id[1:].split(":")[0]
    alice.say(room_id, f"{name}: Where do staff park?")  # a body mention, no m.mentions
    sync(platform)
    placeholder, _edit = _bot_messages(alice, room_id, bot)
    alice.react(room_id, placeholder["event_id"], "👎")
    sync(platform)
    (question,) = Question.objects.all()
    assert Feedback.objects.get(question=question).helpful is False
    # Someone else's reaction is no feedback of theirs nor alice's.
    people["bob"].join(room_id)
    people["bob"].react(room_id, placeholder["event_id"], "👍")
    sync(platform)
    assert Feedback.objects.get(question=question).helpful is False


def test_an_unlinked_person_gets_only_a_link_in_a_direct_room(indexed, room, people):
    platform, room_id = room
    stranger, bot = people["stranger"], people["opaa"]
    stranger.join(room_id)
    stranger.say(room_id, "Where do staff park?", mention=bot.user_id)
    sync(platform)
    assert not Question.objects.exists()
    assert _bot_messages(stranger, room_id, bot) == []
    (direct,) = stranger.invites()
    stranger.join(direct)
    (link,) = _bot_messages(stranger, direct, bot)
    assert "/chat/link/" in link["content"]["body"]
    assert ChatIdentity.objects.get(external_id=stranger.user_id).user is None
    # The room the link came in is the bot's direct chat with them: once linked, they
    # may ask there without a mention.
    bot_client = people["opaa"]
    path = f"user/{quote(bot_client.user_id, safe='')}/account_data/m.direct"
    assert bot_client.call("GET", path) == {stranger.user_id: [direct]}


def test_a_member_outside_the_rooms_workspace_gets_nothing(indexed, room, people):
    platform, room_id = room
    bob, bot = people["bob"], people["opaa"]
    identity = services.identity_get(platform=platform, external_id=bob.user_id)
    services.identity_link(
        identity=identity,
        user=User.objects.get(email="bob@acme.example"),  # Sales only
        linked_by="link",
        audit=AuditContext(),
    )
    bob.join(room_id)
    bob.say(room_id, "Where do staff park?", mention=bot.user_id)
    sync(platform)
    assert not Question.objects.exists()
    assert _bot_messages(bob, room_id, bot) == []
    (direct,) = bob.invites()
    bob.join(direct)
    (refusal,) = _bot_messages(bob, direct, bot)
    assert "no access" in refusal["content"]["body"]


def test_one_organizations_sync_never_waits_for_another(room, world):
    """Each organization's sync is its own task under its own lock: Acme's running sync
    (lock held) makes Acme's next run return at once and holds nobody else."""
    platform, _room_id = room
    lock = f"chat:matrix-sync:{connection.schema_name}"
    cache.set(lock, 1, 60)
    try:
        assert matrix_sync.apply().get() == 0
        assert MatrixSync.objects.get(platform=platform).next_batch  # from the first sync
    finally:
        cache.delete(lock)
    # Beat sends one task per organization with Matrix on (Globex has none).
    assert matrix_sync_all.apply().get() == 1
