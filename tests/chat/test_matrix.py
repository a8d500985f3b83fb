"""Matrix against a real Synapse on loopback (eager tasks): the bot's /sync joins the
rooms it is invited to, answers a mention in a thread (``m.thread``), continues the
thread without a mention, takes 👍/👎 reactions as feedback, and tells an unlinked
person or one outside the room's workspace only in a direct room; a file addressed to it
is downloaded through the media API and uploaded for an editor; an encrypted room gets
one message and the bot leaves."""

from __future__ import annotations

import time
import uuid
from urllib.parse import quote

import httpx
import pytest
from django.core.cache import cache
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from accounts.audit import AuditContext
from accounts.models import User
from chat import services
from chat.matrix_sync import matrix_sync, matrix_sync_all, sync_once
from chat.models import ChatIdentity, ChatUpload, MatrixSync, PlatformKind
from chat.polling import LIST_KEY, polled_organizations
from ingestion.models import Document, DocumentStatus
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


BADGES = b"# Badges\n\nLost badges are replaced at reception.\n"


def _media(synapse, person, name: str, data: bytes) -> str:
    """``person`` uploads ``data`` to the homeserver's media repository: its mxc URL."""
    response = httpx.post(
        f"{synapse.url}/_matrix/media/v3/upload",
        params={"filename": name},
        content=data,
        headers={"Authorization": f"Bearer {person.token}", "Content-Type": "text/markdown"},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["content_uri"]


def _file(url: str, name: str, size: int, *, caption: str = "", thread: str = "") -> dict:
    content: dict = {
        "msgtype": "m.file",
        "body": caption or name,
        "filename": name,
        "url": url,
        "info": {"size": size, "mimetype": "text/markdown"},
    }
    if thread:
        content["m.relates_to"] = {"rel_type": "m.thread", "event_id": thread}
    return content


def _configured(synapse, bot, alice, email: str):
    """The current organization's Matrix bot, a room alice made mapped to General,
    alice linked to ``email``; after the first sync (joined)."""
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
        user=User.objects.get(email=email),
        linked_by="link",
        audit=AuditContext(),
    )
    sync_once(platform)
    return platform, room_id


@pytest.mark.worker
def test_files_addressed_to_the_bot_are_uploaded_and_it_says_when_indexed(
    worker, committed_org, synapse, people
):
    """Through the real worker: a file in a thread with the bot and one whose caption
    mentions it are downloaded through the media API, uploaded into the room's
    workspace and indexed; the bot replies in each thread when they are."""
    org = committed_org("umbrella", "ada@umbrella.example")
    alice, bot = people["alice"], people["opaa"]
    with schema_context(org.schema):
        platform, room_id = _configured(synapse, bot, alice, "ada@umbrella.example")
    question = alice.say(room_id, f"{bot.user_id}: hello", mention=bot.user_id)
    url = _media(synapse, alice, "badges.md", BADGES)
    in_thread = alice.send(room_id, _file(url, "badges.md", len(BADGES), thread=question))
    menu = b"# Canteen\n\nThe canteen serves soup on Fridays.\n"
    menu_url = _media(synapse, alice, "canteen.md", menu)
    captioned = _file(menu_url, "canteen.md", len(menu), caption=f"{bot.user_id} add this")
    captioned["m.mentions"] = {"user_ids": [bot.user_id]}
    with_caption = alice.send(room_id, captioned)
    with schema_context(org.schema):
        assert sync_once(platform) == 3

    def said(text: str, thread: str):
        return [
            m
            for m in _bot_messages(alice, room_id, bot)
            if m["content"]["body"] == text
            and m["content"].get("m.relates_to", {}).get("event_id") == thread
        ]

    deadline = time.monotonic() + 180
    while not (
        said("badges.md is indexed: you can ask about it now.", question)
        and said("canteen.md is indexed: you can ask about it now.", with_caption)
    ):
        assert time.monotonic() < deadline, _bot_messages(alice, room_id, bot)
        time.sleep(0.5)
    assert said("Received badges.md into General; I will reply when it is indexed.", question)
    with schema_context(org.schema):
        uploads = {u.document.original_filename: u for u in ChatUpload.objects.all()}
        assert set(uploads) == {"badges.md", "canteen.md"}
        assert uploads["badges.md"].thread_id == question
        assert uploads["canteen.md"].document.workspace.slug == "general"
        assert Document.objects.get(original_filename="badges.md").status == (
            DocumentStatus.INDEXED
        )
    assert in_thread


def test_a_file_not_addressed_to_the_bot_or_from_a_non_member_is_not_uploaded(
    indexed, room, people, synapse
):
    platform, room_id = room
    alice, bob, bot = people["alice"], people["bob"], people["opaa"]
    # Not addressed to the bot (no mention, no thread of its): not taken.
    url = _media(synapse, alice, "badges.md", BADGES)
    alice.send(room_id, _file(url, "badges.md", len(BADGES)))
    assert sync(platform) == 0
    # bob, linked but no member of General: told so privately, nothing uploaded.
    identity = services.identity_get(platform=platform, external_id=bob.user_id)
    services.identity_link(
        identity=identity,
        user=User.objects.get(email="bob@acme.example"),
        linked_by="link",
        audit=AuditContext(),
    )
    bob.join(room_id)
    bob_url = _media(synapse, bob, "notes.md", b"# Notes\n\nPlans.\n")
    caption = _file(bob_url, "notes.md", 16, caption=f"{bot.user_id} please add this")
    caption["m.mentions"] = {"user_ids": [bot.user_id]}
    bob.send(room_id, caption)
    assert sync(platform) == 1
    assert not Document.objects.filter(original_filename="notes.md").exists()
    assert not ChatUpload.objects.exists()
    (direct,) = bob.invites()
    bob.join(direct)
    (refusal,) = _bot_messages(bob, direct, bot)
    assert "no access" in refusal["content"]["body"]


def test_an_encrypted_room_gets_one_message_and_the_bot_leaves(room, people):
    platform, _room_id = room
    alice, bot = people["alice"], people["opaa"]
    body = {
        "invite": [bot.user_id],
        "preset": "private_chat",
        "initial_state": [
            {
                "type": "m.room.encryption",
                "state_key": "",
                "content": {"algorithm": "m.megolm.v1.aes-sha2"},
            }
        ],
    }
    secret_room = alice.call("POST", "createRoom", json=body)["room_id"]
    sync(platform)  # joins
    sync(platform)  # sees the room's encryption: says so, leaves
    sync(platform)  # gone: nothing more
    (notice,) = _bot_messages(alice, secret_room, bot)
    assert "cannot read encrypted rooms" in notice["content"]["body"]
    members = alice.call("GET", f"rooms/{quote(secret_room, safe='')}/joined_members")
    assert bot.user_id not in members["joined"]


def test_beat_lists_the_polled_organizations_once_a_minute_not_every_tick(room, world):
    """A tick reads the cached list (no query per organization); saving a platform
    forgets it, so turning Matrix off takes effect at the next tick."""
    platform, _room_id = room
    cache.delete(LIST_KEY)
    acme = connection.schema_name
    assert polled_organizations() == {acme: ["matrix"]}  # Globex has no polled bot
    with CaptureQueriesContext(connection) as queries:
        assert polled_organizations() == {acme: ["matrix"]}
    assert len(queries) == 0
    services.platform_save(
        kind=PlatformKind.MATRIX,
        enabled=False,
        team_id="",
        api_url=platform.api_url,
        commands=ALL_COMMANDS,
        new_secrets={},
        portal_url=platform.portal_url,
        audit=AuditContext(),
    )
    assert polled_organizations() == {}
    assert matrix_sync_all.apply().get() == 0
