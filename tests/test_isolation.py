"""Organizations and workspaces never see each other's documents.

carol (Globex) asks the same question as alice (Acme) and only ever gets Globex's
documents; ids that exist only in Acme answer 404 to her, on the API and the portal.
bob, a member of Acme's Sales workspace only, gets 404 for General's documents.
The chat webhooks and the MCP endpoint: Globex's credentials open none of them at
Acme's domain; a chat user who is not linked, or bob in General's channel, gets nothing
of General on any platform (more cases per platform in tests/chat/ and tests/mcp_server/).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client

from accounts.audit import AuditContext
from tests.chat.conftest import (
    ALL_COMMANDS,
    COMMAND_TOKEN,
    WEBHOOK_TOKEN,
    SlackSender,
    mattermost_configure,
    mattermost_user,
    slack_configure,
    slack_user,
)
from tests.chat.fake_mattermost import FakeMattermost
from tests.chat.test_teams import APP_ID, APP_PASSWORD, GLOBEX_APP_ID, teams_configure
from tests.fakes.chat_platforms import FakeSlackServer
from tests.fakes.teams import FakeBotFramework

ACME_POLICY = b"# Parking\n\nAcme staff park in garage B, level 2. Badges open the gate.\n"
GLOBEX_POLICY = b"# Parking\n\nGlobex staff park in the north lot next to the cafeteria.\n"
ACME_EXTRA = b"# Kitchen\n\nThe kitchen on floor 3 is cleaned every Friday afternoon.\n"
QUESTION = {"question": "Where do staff park?"}


@pytest.fixture
def two_orgs(world, db, alice_api, carol_api, upload_indexed):
    connection.set_tenant(world.acme.organization)
    acme_ids = [
        upload_indexed(alice_api, "kitchen.md", ACME_EXTRA)["id"],
        upload_indexed(alice_api, "parking.md", ACME_POLICY)["id"],
    ]
    connection.set_tenant(world.globex.organization)
    globex_ids = [upload_indexed(carol_api, "parking.md", GLOBEX_POLICY)["id"]]
    # Ids are per organization, and which ones each has depends on the tests before
    # (sequences are not rolled back): one more Acme document when they line up.
    if max(acme_ids) in globex_ids:
        connection.set_tenant(world.acme.organization)
        acme_ids.append(upload_indexed(alice_api, "kitchen2.md", ACME_EXTRA + b"\nAgain.\n")["id"])
        connection.set_tenant(world.globex.organization)
    acme_only = max(acme_ids)  # this one exists in Acme only
    assert acme_only not in globex_ids
    return {"acme": acme_ids, "globex": globex_ids, "acme_only": acme_only}


def test_same_question_each_organization_sees_only_its_own(two_orgs, alice_api, carol_api):
    alice = alice_api.post("/api/v1/ask", QUESTION).json()
    carol = carol_api.post("/api/v1/ask", QUESTION).json()
    assert "garage B" in alice["answer"]
    assert "north lot" not in alice["answer"]
    assert "north lot" in carol["answer"]
    assert "garage B" not in carol["answer"]
    assert {c["document_id"] for c in carol["citations"]} <= set(two_orgs["globex"])
    assert all("Globex" not in c["text"] for c in alice["citations"])

    carol_search = carol_api.get("/api/v1/search", {"q": "garage B badges"}).json()
    assert all("garage" not in r["text"] for r in carol_search["results"])


def test_other_organizations_document_ids_are_404(two_orgs, carol_api, carol_portal):
    acme_only = two_orgs["acme_only"]
    assert carol_api.get(f"/api/v1/documents/{acme_only}").status_code == 404
    assert carol_api.delete(f"/api/v1/documents/{acme_only}").status_code == 404
    listed = carol_api.get("/api/v1/documents").json()["results"]
    assert [d["id"] for d in listed] == two_orgs["globex"]
    assert carol_portal.get(f"/documents/{acme_only}/").status_code == 404
    assert carol_portal.get(f"/documents/{acme_only}/original").status_code == 404


def test_session_of_one_organization_is_not_valid_at_another(world, db, carol_portal):
    # carol's browser, sent to Acme's domain: Acme does not know her session.
    response = carol_portal.get("/documents/", HTTP_HOST=world.acme.domain)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_member_of_another_workspace_gets_404(two_orgs, world, bob_api):
    # bob belongs to Sales only; the parking policy is in General.
    general_doc = two_orgs["acme"][1]
    assert bob_api.get(f"/api/v1/documents/{general_doc}").status_code == 404
    assert bob_api.get("/api/v1/documents", {"workspace": "general"}).status_code == 404
    assert bob_api.post("/api/v1/ask", {**QUESTION, "workspace": "general"}).status_code == 404
    # His own workspace has no documents, and asking there reveals nothing of General.
    answer = bob_api.post("/api/v1/ask", QUESTION).json()
    assert answer["citations"] == []
    assert "garage" not in answer["answer"]
    assert bob_api.get("/api/v1/documents").json()["results"] == []


def test_a_shared_document_reaches_its_target_workspace_and_nobody_else(
    two_orgs, world, alice_api, bob_api, carol_api, make_token
):
    """General's parking policy shared into HR (docs/sharing.md): bob (Sales only),
    carol (Globex) and a token of alice's bound to Sales get nothing of it."""
    from rest_framework.test import APIClient

    from tests.conftest import token_client
    from workspaces.models import Workspace

    connection.set_tenant(world.acme.organization)
    Workspace.objects.create(name="HR", slug="hr")
    parking = two_orgs["acme"][1]
    assert alice_api.put(f"/api/v1/documents/{parking}/shares/hr").status_code == 201
    hr_search = alice_api.get("/api/v1/search", {"q": "garage B badges", "workspace": "hr"})
    assert parking in {r["document_id"] for r in hr_search.json()["results"]}

    assert bob_api.get(f"/api/v1/documents/{parking}").status_code == 404
    assert bob_api.get(f"/api/v1/documents/{parking}/shares").status_code == 404
    assert bob_api.get("/api/v1/shared-documents", {"workspace": "hr"}).status_code == 404
    assert bob_api.get("/api/v1/shared-documents").json()["results"] == []
    assert bob_api.put(f"/api/v1/documents/{parking}/shares/sales").status_code == 404
    assert bob_api.delete(f"/api/v1/documents/{parking}/shares/hr").status_code == 404
    assert "garage" not in bob_api.post("/api/v1/ask", QUESTION).json()["answer"]
    for client in (carol_api, APIClient(HTTP_HOST=world.globex.domain)):
        assert client.get(f"/api/v1/documents/{parking}").status_code in (401, 404)
        assert client.put(f"/api/v1/documents/{parking}/shares/hr").status_code in (401, 404)
    sales_only = token_client(
        world.acme, make_token(world.acme, "alice@acme.example", workspaces=["sales"])
    )
    assert sales_only.get(f"/api/v1/documents/{parking}").status_code == 404
    assert sales_only.delete(f"/api/v1/documents/{parking}/shares/hr").status_code == 404
    found = sales_only.get("/api/v1/search", {"q": "garage B badges", "workspace": "sales"})
    assert parking not in {r["document_id"] for r in found.json()["results"]}


def test_anonymous_requests_are_refused(world, db):
    from rest_framework.test import APIClient

    client = APIClient(HTTP_HOST=world.acme.domain)
    assert client.get("/api/v1/documents").status_code == 401
    assert client.post("/api/v1/ask", QUESTION).status_code == 401


def test_the_document_browser_finds_nothing_of_another_organization_or_workspace(
    two_orgs, world, carol_portal
):
    """Searching the documents page (titles and text), in one workspace or all of one's
    own, never lists, counts or offers another organization's or workspace's documents."""
    from tests.conftest import portal_client

    for params in ({"q": "garage"}, {"q": "kitchen"}, {"workspace": "all", "q": "badges"}):
        page = carol_portal.get("/documents/", params)
        assert page.status_code == 200
        assert b"garage B" not in page.content  # the search box shows the query itself
        assert b"Kitchen" not in page.content
        assert b"<mark>" not in page.content  # no passage matched
    own = carol_portal.get("/documents/", {"workspace": "all"}).content.decode()
    assert own.count('<td class="doc-title">') == len(two_orgs["globex"])
    for acme_id in two_orgs["acme"]:
        assert f"/documents/{acme_id}/" not in own or acme_id in two_orgs["globex"]
    # bob (Sales only): General's parking policy is not in his "all my workspaces".
    connection.set_tenant(world.acme.organization)
    bob = portal_client(world.acme, "bob@acme.example")
    everything = bob.get("/documents/", {"workspace": "all", "q": "garage"})
    assert everything.status_code == 200
    assert b"garage B" not in everything.content
    assert b"<mark>" not in everything.content
    assert b"0 of 0 documents match" in everything.content
    assert bob.get("/documents/", {"workspace": "general", "q": "garage"}).status_code == 404


def test_a_documents_status_poll_tells_nothing_to_whoever_may_not_read_it(
    two_orgs, world, carol_portal, django_capture_on_commit_callbacks
):
    """``/documents/status?document=<id>``, which a document's page polls
    (static/opaa/document_status.js): carol (Globex) gets nothing for Acme's id at her
    own domain and is sent to sign in at Acme's; bob (Sales only) and vera, a viewer of
    General left out of the document's readers, get nothing of it either."""
    from accounts.models import User
    from ingestion.models import Document
    from ingestion.readers import document_readers_set
    from tests.conftest import PASSWORD, portal_client
    from workspaces.models import Membership, Role, Workspace

    parking = two_orgs["acme"][1]
    poll = {"workspace": "general", "document": parking}
    assert carol_portal.get("/documents/status", {**poll, "workspace": "all"}).json() == {
        "documents": []
    }
    at_acme = carol_portal.get("/documents/status", poll, HTTP_HOST=world.acme.domain)
    assert at_acme.status_code == 302
    assert "/accounts/login/" in at_acme["Location"]

    connection.set_tenant(world.acme.organization)
    vera = User.objects.create_user("vera@acme.example", PASSWORD)
    general = Workspace.objects.get(slug="general")
    Membership.objects.create(workspace=general, user=vera, role=Role.VIEWER)
    vera_portal = portal_client(world.acme, vera.email)
    # The control: while every member of General reads it, vera's poll finds it.
    assert [d["id"] for d in vera_portal.get("/documents/status", poll).json()["documents"]] == [
        parking
    ]
    with django_capture_on_commit_callbacks(execute=True):
        document_readers_set(
            document=Document.objects.get(pk=parking),
            readers=["alice@acme.example"],
            audit=AuditContext(),
        )
    bob = portal_client(world.acme, "bob@acme.example")
    assert bob.get("/documents/status", poll).status_code == 404
    for person, workspace in (
        (vera_portal, "general"),
        (vera_portal, "all"),
        (bob, "sales"),
        (bob, "all"),
    ):
        polled = person.get("/documents/status", {**poll, "workspace": workspace})
        assert polled.status_code == 200, workspace
        assert polled.json() == {"documents": []}
    alice = portal_client(world.acme, "alice@acme.example")
    assert [d["id"] for d in alice.get("/documents/status", poll).json()["documents"]] == [parking]


# --- the chat webhooks and the MCP endpoint --------------------------------------------
# Each row: an endpoint the platforms (or agents) call, with Globex's own credential for
# it (its signing secret, tokens, app id, API token) sent to Acme's domain: refused, and
# nothing is remembered or asked. Matrix has no endpoint (the bot pulls; tests/chat/).
GLOBEX_SLACK_SECRET = "globex-signing-secret-0000000000"


def _mattermost_form(token: str) -> dict:
    return {
        "token": token,
        "team_id": "mmteam",
        "channel_id": "mmgeneral",
        "user_id": "mmalice",
        "text": "Where do staff park?",
        "trigger_id": "isolation",
        "post_id": "post0",
    }


FOREIGN_REQUESTS = {
    "chat:slack-events": lambda f: f.slack_globex.mention("Where do staff park?"),
    "chat:slack-commands": lambda f: f.slack_globex.command("ask Where do staff park?"),
    "chat:slack-interactivity": lambda f: f.slack_globex.button(1),
    "chat:mattermost-command": lambda f: f.client.post(
        "/chat/mattermost/command",
        urlencode(_mattermost_form("globex-command-token")),
        content_type="application/x-www-form-urlencoded",
    ),
    "chat:mattermost-webhook": lambda f: f.client.post(
        "/chat/mattermost/webhook",
        json.dumps(_mattermost_form("globex-webhook-token")),
        content_type="application/json",
    ),
    "chat:mattermost-actions": lambda f: f.client.post(
        "/chat/mattermost/actions",
        json.dumps({"user_id": "mmalice", "context": f.globex_button}),
        content_type="application/json",
    ),
    "chat:teams-messages": lambda f: f.client.post(
        "/chat/teams/messages",
        json.dumps(f.bot.activity("Where do staff park?")),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {f.bot.sign(aud=GLOBEX_APP_ID)}",
    ),
    ":mcp": lambda f: f.client.post(
        "/mcp",
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        content_type="application/json",
        HTTP_ACCEPT="application/json, text/event-stream",
        HTTP_AUTHORIZATION=f"Bearer {f.globex_token}",
    ),
}


@dataclass
class ChatFakes:
    client: Client
    slack: FakeSlackServer
    mattermost: FakeMattermost
    bot: FakeBotFramework
    slack_sender: SlackSender  # Acme's own (signed with Acme's secret)
    slack_globex: SlackSender
    globex_button: dict
    globex_token: str

    def everything_posted(self) -> str:
        return str(
            [
                self.slack.messages,
                self.slack.ephemeral,
                self.slack.responses,
                self.mattermost.posts,
                self.mattermost.ephemeral,
                self.mattermost.responses,
                self.bot.activities,
            ]
        )


@pytest.fixture
def chat_fakes(two_orgs, world, settings, make_token):
    from chat import services
    from chat.adapters.mattermost import action_signature
    from chat.adapters.teams import caches_clear

    with (
        FakeSlackServer() as slack,
        FakeMattermost() as mattermost,
        FakeBotFramework(app_id=APP_ID, app_password=APP_PASSWORD) as bot,
    ):
        settings.CHAT_TEAMS_OPENID_METADATA_URL = bot.metadata_url
        caches_clear()
        slack.users["USTRANGER"] = slack_user("USTRANGER", "someone@elsewhere.example")
        slack.users["UBOB"] = slack_user("UBOB", "bob@acme.example")
        mattermost.users["mmnobody"] = mattermost_user("mmnobody", "x@acme.example", verified=False)
        mattermost.users["mmbob"] = mattermost_user("mmbob", "bob@acme.example")
        for user, email in (
            ("29:stranger", "x@elsewhere.example"),
            ("29:bob", "bob@acme.example"),
        ):
            bot.members[user] = {"id": user, "email": email, "tenantId": "tenant-acme"}
        connection.set_tenant(world.globex.organization)
        slack_configure(slack, secret=GLOBEX_SLACK_SECRET, team="T0GLOBEX")
        globex_mm = services.platform_save(
            kind="mattermost",
            enabled=True,
            team_id="mmteam",
            api_url=mattermost.api_url,
            commands=ALL_COMMANDS,
            new_secrets={
                "bot_token": "globex-bot",
                "command_token": "globex-command-token",
                "webhook_token": "globex-webhook-token",
            },
            portal_url="http://globex.localhost/",
            audit=AuditContext(),
        )
        secret = services.platform_secrets(globex_mm)["action_secret"]
        teams_configure(bot, app_id=GLOBEX_APP_ID)
        globex_token = make_token(world.globex, "carol@globex.example")
        connection.set_tenant(world.acme.organization)
        slack_configure(slack)
        mattermost_configure(mattermost)
        teams_configure(bot)
        yield ChatFakes(
            client=Client(HTTP_HOST=world.acme.domain),
            slack=slack,
            mattermost=mattermost,
            bot=bot,
            slack_sender=SlackSender(world.acme.domain),
            slack_globex=SlackSender(
                world.acme.domain, secret=GLOBEX_SLACK_SECRET, team="T0GLOBEX"
            ),
            globex_button={"answer": 1, "vote": "up", "sig": action_signature(secret, 1, True)},
            globex_token=globex_token,
        )
        caches_clear()


@pytest.mark.parametrize("route", sorted(FOREIGN_REQUESTS))
def test_another_organizations_credentials_open_no_chat_or_mcp_endpoint(
    route, chat_fakes, django_capture_on_commit_callbacks
):
    from chat.models import ChatEventSeen
    from search.models import Question

    with django_capture_on_commit_callbacks(execute=True):
        response = FOREIGN_REQUESTS[route](chat_fakes)
    assert response.status_code in (401, 403), response.content
    assert not ChatEventSeen.objects.exists()
    assert not Question.objects.exists()
    assert "garage" not in chat_fakes.everything_posted()


# Each row: a platform's way of asking in General's channel, by a chat user who is not
# linked (unknown email, or one the platform does not vouch for), then by bob (linked by
# his vouched email, a member of Sales only): neither gets anything of General.
CHAT_ASKS = {
    "slack mention": lambda f, who: f.slack_sender.mention("Where do staff park?", user=who),
    "slack /opaa": lambda f, who: f.slack_sender.command("ask Where do staff park?", user=who),
    "mattermost webhook": lambda f, who: f.client.post(
        "/chat/mattermost/webhook",
        json.dumps(
            {
                **_mattermost_form(WEBHOOK_TOKEN),
                "user_id": who,
                "post_id": f.mattermost.add_post(channel_id="mmgeneral", user_id=who, message="x"),
            }
        ),
        content_type="application/json",
    ),
    "mattermost /opaa": lambda f, who: f.client.post(
        "/chat/mattermost/command",
        urlencode({**_mattermost_form(COMMAND_TOKEN), "user_id": who, "trigger_id": who}),
        content_type="application/x-www-form-urlencoded",
    ),
    "teams mention": lambda f, who: f.client.post(
        "/chat/teams/messages",
        json.dumps(f.bot.activity("Where do staff park?", user=who)),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {f.bot.sign()}",
    ),
}
WHO = {
    "slack mention": ("USTRANGER", "UBOB"),
    "slack /opaa": ("USTRANGER", "UBOB"),
    "mattermost webhook": ("mmnobody", "mmbob"),
    "mattermost /opaa": ("mmnobody", "mmbob"),
    "teams mention": ("29:stranger", "29:bob"),
}


@pytest.mark.parametrize("way", sorted(CHAT_ASKS))
def test_an_unlinked_user_or_one_outside_the_channels_workspace_gets_nothing(
    way, chat_fakes, world, django_capture_on_commit_callbacks
):
    from chat.models import ChatIdentity
    from search.models import Question

    unlinked, outsider = WHO[way]
    for who in (unlinked, outsider):
        with django_capture_on_commit_callbacks(execute=True):
            assert CHAT_ASKS[way](chat_fakes, who).status_code == 200
    assert not Question.objects.exists()
    assert ChatIdentity.objects.get(external_id=unlinked).user is None
    assert ChatIdentity.objects.get(external_id=outsider).user.email == "bob@acme.example"
    posted = chat_fakes.everything_posted()
    assert "garage" not in posted
    assert "/chat/link/" in posted  # the unlinked one got their link
    assert "no access" in posted  # bob was told, privately


def test_mcp_tools_answer_only_from_the_callers_organization_and_workspaces(
    two_orgs, world, make_token
):
    """carol's token at Globex: Globex's parking only; bob's token (Sales): General's
    documents are not there, by search or by id."""
    from tests.conftest import token_client

    def call(client, name, **arguments):
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments},
        }
        response = client.post(
            "/mcp",
            json.dumps(body),
            content_type="application/json",
            HTTP_ACCEPT="application/json, text/event-stream",
        )
        assert response.status_code == 200, response.content
        return response.json()["result"]

    carol = token_client(world.globex, make_token(world.globex, "carol@globex.example"))
    found = json.dumps(call(carol, "search", query="where do staff park garage"))
    assert "north lot" in found
    assert "garage B" not in found
    bob = token_client(world.acme, make_token(world.acme, "bob@acme.example"))
    general = call(bob, "search", query="garage", workspace="general")
    assert general["isError"] is True
    assert "garage B" not in json.dumps(general)
    by_id = call(bob, "get_document", document_id=two_orgs["acme"][1])
    assert by_id["isError"] is True
    assert "garage B" not in json.dumps(by_id)
