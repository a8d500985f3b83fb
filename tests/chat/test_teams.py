"""Microsoft Teams against a loopback Bot Framework (eager tasks): the bearer JWT checked
against the OpenID metadata and its keys, replies in the reply chain through the v3
conversations API with a client-credentials token, Adaptive Cards with numbered
sources, feedback, rate limits, and who gets nothing."""

from __future__ import annotations

import json
import time

import pytest
from django.db import connection
from django.test import Client

from accounts.audit import AuditContext
from chat import services
from chat.adapters.base import AnswerView, Source
from chat.adapters.teams import TeamsAdapter, caches_clear, conversation_key
from chat.models import ChatAnswer, ChatEventSeen, ChatIdentity, PlatformKind
from search.models import Feedback, Question
from tests.chat.conftest import ALL_COMMANDS
from tests.conftest import portal_client
from tests.fakes.teams import FakeBotFramework, rsa_key
from workspaces.models import Workspace

PARKING = b"# Parking\n\nStaff park in garage B, level 2. Badges open the gate.\n"
APP_ID = "00000000-0000-0000-0000-00000000acme"
APP_PASSWORD = "acme-client-secret"
GLOBEX_APP_ID = "00000000-0000-0000-0000-0000000globex"
CHANNEL = "19:general@thread.tacv2"


@pytest.fixture
def bot(settings):
    with FakeBotFramework(app_id=APP_ID, app_password=APP_PASSWORD) as server:
        settings.CHAT_TEAMS_OPENID_METADATA_URL = server.metadata_url
        caches_clear()
        server.members["29:alice"] = {
            "id": "29:alice",
            "name": "Alice",
            "email": "alice@acme.example",
            "userPrincipalName": "alice@acme.example",
            "tenantId": "tenant-acme",
        }
        server.members["29:bob"] = {
            "id": "29:bob",
            "email": "bob@acme.example",
            "tenantId": "tenant-acme",
        }
        server.members["29:stranger"] = {
            "id": "29:stranger",
            "email": "someone@elsewhere.example",
            "tenantId": "tenant-acme",
        }
        yield server
        caches_clear()


def teams_configure(server: FakeBotFramework, *, app_id: str = APP_ID, tenant="tenant-acme"):
    platform = services.platform_save(
        kind=PlatformKind.TEAMS,
        enabled=True,
        team_id=app_id,
        api_url=server.token_url,
        commands=ALL_COMMANDS,
        new_secrets={"app_password": APP_PASSWORD, "tenant_id": tenant},
        portal_url="http://acme.localhost/",
        audit=AuditContext(),
    )
    services.mapping_add(
        platform=platform,
        channel_id=CHANNEL,
        name="General",
        workspace=Workspace.objects.get(slug="general"),
        audit=AuditContext(),
    )
    return platform


@pytest.fixture
def teams(acme, bot):
    return teams_configure(bot)


@pytest.fixture
def indexed(acme, alice_api, upload_indexed):
    upload_indexed(alice_api, "parking.md", PARKING, workspace="general")


@pytest.fixture
def client(world):
    return Client(HTTP_HOST=world.acme.domain)


@pytest.fixture
def send(client, bot, django_capture_on_commit_callbacks):
    def run(activity: dict, token: str | None = None):
        token = bot.sign() if token is None else token
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                "/chat/teams/messages",
                json.dumps(activity),
                content_type="application/json",
                **headers,
            )

    return run


def _card_text(posted: dict) -> str:
    body = posted["body"]
    if body.get("attachments"):
        card = body["attachments"][0]["content"]
        return "\n".join(b["text"] for b in card["body"])
    return body.get("text", "")


def test_a_mention_is_answered_in_its_reply_chain_and_a_reply_continues_it(
    indexed, teams, bot, send
):
    question = bot.activity("Where do staff park?")
    response = send(question)
    assert response.status_code == 200
    (answer,) = bot.in_conversation(CHANNEL)
    # Posted to /v3/conversations/{id};messageid={root}/activities/{root}, then replaced.
    assert answer["replyToId"] == question["id"]
    assert answer["conversation"] == f"{CHANNEL};messageid={question['id']}"
    assert answer["edited"]
    text = _card_text(answer)
    assert "garage B" in text
    assert "**Sources**" in text
    assert "1. [Parking](http://acme.localhost/documents/" in text
    actions = answer["body"]["attachments"][0]["content"]["actions"]
    assert [a["data"]["vote"] for a in actions] == ["up", "down"]
    # The bot token came from the token endpoint by client credentials, once.
    (token_call,) = [r for r in bot.requests if r.path.endswith("/oauth2/v2.0/token")]
    assert token_call.body["grant_type"] == "client_credentials"
    assert token_call.body["scope"] == "https://api.botframework.com/.default"
    # A reply in the chain continues the same conversation.
    send(bot.activity("Which level?", root=question["id"]))
    first, second = Question.objects.order_by("pk")
    assert first.conversation_id == second.conversation_id
    assert all(a["replyToId"] == question["id"] for a in bot.in_conversation(CHANNEL))


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "11111111-2222-3333-4444-555555555555"},  # wrong audience
        {"iss": "https://sts.windows.net/evil/"},  # wrong issuer
        {"exp": int(time.time()) - 3600, "nbf": int(time.time()) - 7200},  # expired
        {"serviceurl": "https://smba.trafficmanager.net/evil/"},  # another serviceUrl
        {"serviceurl": None},  # no serviceurl claim
    ],
    ids=["audience", "issuer", "expired", "service-url", "no-service-url"],
)
def test_a_bad_token_is_refused(teams, bot, send, claims):
    assert send(bot.activity("Where do staff park?"), bot.sign(**claims)).status_code == 401
    assert not ChatEventSeen.objects.exists()


def test_an_unknown_key_a_forged_signature_and_no_token_are_refused(teams, bot, send):
    activity = bot.activity("Where do staff park?")
    assert send(activity, bot.sign(kid="not-published")).status_code == 401
    assert send(activity, bot.sign(key=rsa_key())).status_code == 401  # same kid, other key
    assert send(activity, "").status_code == 401
    assert send(activity, "not.a.jwt").status_code == 401
    # A key that does not endorse the activity's channel.
    bot.endorsements = ["skype"]
    caches_clear()
    assert send(activity, bot.sign()).status_code == 401
    assert not ChatEventSeen.objects.exists()


def test_another_organizations_app_id_is_refused(indexed, teams, bot, send, world):
    connection.set_tenant(world.globex.organization)
    teams_configure(bot, app_id=GLOBEX_APP_ID)
    connection.set_tenant(world.acme.organization)
    # A valid Bot Framework token for Globex's bot, sent to Acme's endpoint.
    response = send(bot.activity("Where do staff park?"), bot.sign(aud=GLOBEX_APP_ID))
    assert response.status_code == 401
    assert not ChatEventSeen.objects.exists()
    assert not Question.objects.exists()


def test_another_microsoft_tenant_is_refused(teams, bot, send):
    response = send(bot.activity("Where do staff park?", tenant="tenant-evil"))
    assert response.status_code == 403
    assert not ChatEventSeen.objects.exists()


def test_a_retried_activity_is_answered_once(indexed, teams, bot, send):
    activity = bot.activity("Where do staff park?")
    assert send(activity).status_code == 200
    assert send(activity).status_code == 200
    assert Question.objects.count() == 1


def test_an_unlinked_user_gets_only_the_link_in_a_personal_chat(indexed, teams, bot, send):
    send(bot.activity("Where do staff park?", user="29:stranger"))
    assert not Question.objects.exists()
    assert bot.in_conversation(CHANNEL) == []
    (chat,) = bot.personal_chats
    assert chat["members"] == [{"id": "29:stranger"}]
    assert chat["channelData"] == {"tenant": {"id": "tenant-acme"}}
    (private,) = bot.in_conversation("a:personal-29:stranger")
    assert "/chat/link/" in private["body"]["text"]
    assert "garage" not in json.dumps(list(bot.activities.values()))
    assert ChatIdentity.objects.get(external_id="29:stranger").user is None


def test_no_tenant_configured_means_no_email_link(indexed, acme, bot, send):
    teams_configure(bot, tenant="")
    send(bot.activity("Where do staff park?"))
    assert not Question.objects.exists()
    assert ChatIdentity.objects.get(external_id="29:alice").user is None
    assert not [r for r in bot.requests if "/members/" in r.path]


def test_a_member_outside_the_mapped_workspace_gets_nothing(indexed, teams, bot, send):
    send(bot.activity("Where do staff park?", user="29:bob"))  # bob: Sales only
    assert not Question.objects.exists()
    assert bot.in_conversation(CHANNEL) == []
    (private,) = bot.in_conversation("a:personal-29:bob")
    assert "no access" in private["body"]["text"]


def test_a_personal_chat_is_one_conversation(indexed, teams, bot, send):
    personal = "a:1" + "x" * 120  # personal chat ids are long
    send(bot.activity("Where do staff park?", conversation=personal, conversation_type="personal"))
    send(bot.activity("Which level?", conversation=personal, conversation_type="personal"))
    first, second = Question.objects.order_by("pk")
    assert first.conversation_id == second.conversation_id
    assert first.workspace.slug == "general"  # alice's default workspace
    posted = bot.in_conversation(personal)
    assert len(posted) == 2
    assert all(a["replyToId"] == "" for a in posted)
    assert conversation_key(personal).startswith("h:")


def test_a_rate_limited_post_waits_for_retry_after_and_nothing_is_lost(indexed, teams, bot, send):
    bot.rate_limit_next = 2  # the "thinking" reply, then the answer's first try
    bot.retry_after = 0
    send(bot.activity("Where do staff park?"))
    (answer,) = bot.in_conversation(CHANNEL)
    assert "garage B" in _card_text(answer)
    assert ChatAnswer.objects.get().delivered_at is not None


def test_the_card_button_and_a_reaction_become_feedback(indexed, teams, bot, send):
    question = bot.activity("Where do staff park?")
    send(question)
    answer = ChatAnswer.objects.get()
    (posted,) = bot.in_conversation(CHANNEL)
    down = posted["body"]["attachments"][0]["content"]["actions"][1]["data"]
    send(bot.activity("", root=question["id"], value=down, replyToId=posted["id"]))
    assert Feedback.objects.get(question=answer.question).helpful is False
    reaction = bot.activity(
        "",
        root=question["id"],
        activity_type="messageReaction",
        replyToId=posted["id"],
        reactionsAdded=[{"type": "like"}],
    )
    send(reaction)
    assert Feedback.objects.get(question=answer.question).helpful is True
    # Someone else's vote on alice's answer is ignored.
    send(bot.activity("", user="29:bob", root=question["id"], value={**down, "vote": "up"}))
    send({**reaction, "id": "other", "from": {"id": "29:bob"}, "reactionsAdded": [{"type": "sad"}]})
    assert Feedback.objects.get(question=answer.question).helpful is True


def test_conversation_update_is_acknowledged_and_learns_the_channel(teams, bot, send):
    update = bot.activity("", activity_type="conversationUpdate", membersAdded=[{"id": "x"}])
    assert send(update).status_code == 200
    assert not ChatEventSeen.objects.exists()
    message = services.test_message_send(platform=teams, channel_id=CHANNEL)
    assert message == f"Test message sent to {CHANNEL}."
    (posted,) = bot.in_conversation(CHANNEL)
    assert posted["conversation"] == CHANNEL  # a new post in the channel
    teams.refresh_from_db()
    assert teams.bot_user_id == f"28:{APP_ID}"


def test_render_numbers_the_sources_and_splits_long_answers(teams):
    adapter = TeamsAdapter(teams, {})
    sources = [Source(1, "Parking [old]", "Rules", "http://p/1"), Source(2, "B", "", "http://p/2")]
    parts = adapter.render(AnswerView("word " * 5000, sources, answer_id=7))
    assert len(parts) == 3
    last = parts[-1]["attachments"][0]["content"]
    texts = [b["text"] for b in last["body"]]
    assert "1. [Parking \\[old\\]](http://p/1) (Rules)" in texts
    assert "2. [B](http://p/2)" in texts
    assert "actions" not in parts[0]["attachments"][0]["content"]
    assert last["actions"][0]["data"] == {"opaa": "feedback", "answer": 7, "vote": "up"}


def test_the_owner_saves_teams_in_the_portal_and_sees_the_endpoint(acme, bot, world):
    owner = portal_client(world.acme, "alice@acme.example")
    page = owner.get("/chat/").content.decode()
    assert f"{world.acme.domain}/chat/teams/messages</code>" in page
    # The App ID is required; the secrets are write-only.
    refused = owner.post("/chat/platforms/teams", {"teams-enabled": "on"})
    assert refused.status_code == 400
    saved = owner.post(
        "/chat/platforms/teams",
        {
            "teams-enabled": "on",
            "teams-team_id": APP_ID,
            "teams-api_url": bot.token_url,
            "teams-commands": ["ask"],
            "teams-secret_app_password": APP_PASSWORD,
            "teams-secret_tenant_id": "tenant-acme",
        },
    )
    assert saved.status_code == 302
    assert APP_PASSWORD not in owner.get("/chat/").content.decode()
    platform = services.platform_get(PlatformKind.TEAMS)
    assert platform.team_id == APP_ID
    assert services.platform_secrets(platform)["tenant_id"] == "tenant-acme"


def test_help_explains_how_to_ask_without_slash_commands(indexed, teams, bot, send):
    personal = "a:1help"
    send(bot.activity("help", conversation=personal, conversation_type="personal"))
    (posted,) = bot.in_conversation(personal)
    assert "mention me" in _card_text(posted)
    assert "/opaa" not in _card_text(posted)  # Teams has no slash command of ours
    assert not Question.objects.exists()  # "help" is not a question about documents
