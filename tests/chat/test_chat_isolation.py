"""Isolation of the chat bot: another organization's signed request, an unlinked user,
a member outside the channel's workspace, a viewer uploading, someone else's answer's
buttons. Each gets nothing of Acme's documents."""

from __future__ import annotations

import pytest
from django.db import connection

from accounts.models import User
from chat.models import ChatAnswer, ChatEventSeen, ChatIdentity, ChatUpload
from search.models import Feedback, Question
from tests.chat.conftest import SlackSender, slack_configure, slack_user
from tests.conftest import PASSWORD
from workspaces.models import Membership, Role, Workspace

PARKING = b"# Parking\n\nStaff park in garage B, level 2. Badges open the gate.\n"
GLOBEX_SECRET = "globex-signing-secret-0000000000"


@pytest.fixture
def indexed(acme, alice_api, upload_indexed):
    upload_indexed(alice_api, "parking.md", PARKING, workspace="general")


def test_another_organizations_signed_request_is_refused(indexed, slack_platform, slack, world):
    # Globex connects its own Slack app; its signature means nothing at Acme's domain.
    connection.set_tenant(world.globex.organization)
    slack_configure(slack, secret=GLOBEX_SECRET, team="T0GLOBEX")
    connection.set_tenant(world.acme.organization)
    globex_at_acme = SlackSender(world.acme.domain, secret=GLOBEX_SECRET, team="T0GLOBEX")
    assert globex_at_acme.mention("Where do staff park?").status_code == 401
    # Globex's secret with Acme's team id: still not Acme's signature.
    forged = SlackSender(world.acme.domain, secret=GLOBEX_SECRET, team="T0ACME")
    assert forged.mention("Where do staff park?").status_code == 401
    assert not ChatEventSeen.objects.exists()
    assert not Question.objects.exists()


def test_an_unlinked_stranger_gets_only_the_link(
    indexed, slack_platform, slack, slack_sender, send
):
    send(lambda: slack_sender.mention("Where do staff park?", user="USTRANGER"))
    send(lambda: slack_sender.command("search garage", user="USTRANGER"))
    assert not Question.objects.exists()
    assert slack.posted("CGEN") == []
    assert all("garage" not in e["text"] for e in slack.ephemeral)
    assert all("/chat/link/" in e["text"] for e in slack.ephemeral)
    assert ChatIdentity.objects.get(external_id="USTRANGER").user is None


def test_a_member_outside_the_workspace_gets_nothing_in_a_dm_either(
    indexed, slack_platform, slack, slack_sender, send
):
    """bob (Sales only) asks in General's channel: refused; in a direct message: answered
    from Sales, which has nothing on parking."""
    send(lambda: slack_sender.mention("Where do staff park?", user="UBOB"))
    dm = {
        "type": "message",
        "channel_type": "im",
        "user": "UBOB",
        "text": "Where do staff park?",
        "ts": "1700000100.000100",
        "channel": "DBOB",
    }
    send(lambda: slack_sender.event(dm))
    (question,) = Question.objects.all()
    assert question.workspace.slug == "sales"
    assert question.citations == []
    everything = str(slack.messages) + str(slack.ephemeral)
    assert "garage" not in everything


def test_a_viewer_may_not_upload_through_the_bot(
    indexed, slack_platform, slack, slack_sender, send
):
    vic = User.objects.create_user("vic@acme.example", PASSWORD)
    Membership.objects.create(
        workspace=Workspace.objects.get(slug="general"), user=vic, role=Role.VIEWER
    )
    slack.users["UVIC"] = slack_user("UVIC", "vic@acme.example")
    slack.files["F1"] = ("notes.md", b"# Notes\n\nSecret plans.\n")
    event = {
        "type": "app_mention",
        "user": "UVIC",
        "text": "<@UBOT> please add this",
        "ts": "1700000200.000100",
        "channel": "CGEN",
        "files": [
            {
                "id": "F1",
                "name": "notes.md",
                "size": 24,
                "url_private_download": slack.file_url("F1"),
            }
        ],
    }
    send(lambda: slack_sender.event(event))
    assert not ChatUpload.objects.exists()
    assert "may not upload" in slack.ephemeral[-1]["text"]
    assert not [r for r in slack.requests if r.path.startswith("/files/")]


def test_feedback_on_someone_elses_answer_is_ignored(
    indexed, slack_platform, slack, slack_sender, send
):
    send(lambda: slack_sender.mention("Where do staff park?"))
    answer = ChatAnswer.objects.get()
    # bob is linked (by email) but the answer is alice's, in a workspace he cannot read.
    send(lambda: slack_sender.mention("hello", user="UBOB"))
    send(lambda: slack_sender.button(answer.pk, up=False, user="UBOB"))
    assert not Feedback.objects.exists()
