"""The chat platforms page: what owners and workspace admins see and may do."""

from __future__ import annotations

from accounts.audit import AuditContext
from accounts.models import AuditEvent, User
from chat import services
from chat.models import ChatPlatform
from tests.conftest import PASSWORD, portal_client
from workspaces.models import Membership, Role, Workspace


def _map(platform, n: int, workspace) -> None:
    services.mapping_add(
        platform=platform,
        channel_id=f"CMORE{n}",
        name=f"#more{n}",
        workspace=workspace,
        audit=AuditContext(),
    )


def test_the_page_costs_the_same_queries_for_one_channel_or_three(
    slack_platform, world, django_assert_max_num_queries
):
    alice = portal_client(world.acme, "alice@acme.example")
    general = Workspace.objects.get(slug="general")
    alice.get("/chat/")  # warm: sessions, content types
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        assert alice.get("/chat/").status_code == 200
    _map(slack_platform, 1, general)
    _map(slack_platform, 2, general)
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = alice.get("/chat/")
    assert response.content.decode().count("#more") == 2


def test_a_workspace_admin_sees_and_connects_only_their_workspaces(slack_platform, world):
    sales = Workspace.objects.get(slug="sales")
    sam = User.objects.create_user("sam@acme.example", PASSWORD)
    Membership.objects.create(workspace=sales, user=sam, role=Role.ADMIN)
    _map(slack_platform, 9, sales)
    client = portal_client(world.acme, "sam@acme.example")
    page = client.get("/chat/").content.decode()
    assert "CMORE9" in page
    assert "CGEN" not in page  # General's channel
    assert "Save Slack" not in page  # the platform is the owner's
    # He may not connect a channel to General, nor change the platform.
    refused = client.post("/chat/channels?workspace=general", {"kind": "slack", "channel_id": "CX"})
    assert refused.status_code == 404
    assert client.post("/chat/platforms/slack", {"slack-team_id": "T1"}).status_code == 403
    made = client.post("/chat/channels?workspace=sales", {"kind": "slack", "channel_id": "CX"})
    assert made.status_code == 302


def test_secrets_are_kept_when_left_empty_and_never_shown_or_audited(slack_platform, world):
    alice = portal_client(world.acme, "alice@acme.example")
    before = services.platform_secrets(slack_platform)
    response = alice.post(
        "/chat/platforms/slack",
        {
            "slack-enabled": "on",
            "slack-team_id": "T0ACME",
            "slack-api_url": slack_platform.api_url,
            "slack-commands": ["ask"],
            "slack-secret_signing_secret": "",
            "slack-secret_bot_token": "xoxb-new-token",
        },
    )
    assert response.status_code == 302
    after = services.platform_secrets(ChatPlatform.objects.get(kind="slack"))
    assert after["signing_secret"] == before["signing_secret"]
    assert after["bot_token"] == "xoxb-new-token"
    page = alice.get("/chat/").content.decode()
    assert "xoxb-new-token" not in page
    assert before["signing_secret"] not in page
    event = AuditEvent.objects.filter(action="chat.settings_changed").latest("pk")
    assert event.extra["secrets_changed"] == ["bot_token"]
    assert "xoxb-new-token" not in str(event.extra)
    assert "xoxb-new-token" not in ChatPlatform.objects.get(kind="slack").secrets_encrypted
