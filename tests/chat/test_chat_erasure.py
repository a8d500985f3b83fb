"""Erasing a person, a document or a workspace takes the chat rows that hang on them."""

from __future__ import annotations

from accounts.audit import AuditContext
from accounts.models import User
from chat.models import ChannelMapping, ChatAnswer, ChatIdentity, ChatThread
from ingestion.erasure import documents_erase
from ingestion.models import Document
from opaa.actions.erasure import user_erase
from search.models import Question
from tests.conftest import PASSWORD
from workspaces.models import Membership, Role, Workspace

PARKING = b"# Parking\n\nStaff park in garage B, level 2. Badges open the gate.\n"


def test_erasing_a_person_takes_their_chat_identity_threads_and_answers(
    acme, alice_api, upload_indexed, slack_platform, slack, slack_sender, send
):
    from tests.chat.conftest import slack_user

    upload_indexed(alice_api, "parking.md", PARKING, workspace="general")
    dana = User.objects.create_user("dana@acme.example", PASSWORD)
    Membership.objects.create(
        workspace=Workspace.objects.get(slug="general"), user=dana, role=Role.VIEWER
    )
    slack.users["UDANA"] = slack_user("UDANA", "dana@acme.example")
    send(lambda: slack_sender.mention("Where do staff park?", user="UDANA"))
    assert ChatThread.objects.filter(identity__user=dana).exists()
    assert ChatAnswer.objects.filter(question__asked_by=dana).exists()

    send(lambda: user_erase(user=dana, audit=AuditContext()))
    assert not ChatIdentity.objects.filter(external_id="UDANA").exists()
    assert not ChatThread.objects.exists()
    assert not ChatAnswer.objects.exists()
    assert not Question.objects.exists()


def test_erasing_the_cited_document_leaves_no_copy_of_the_answer_in_chat_rows(
    acme, alice_api, upload_indexed, slack_platform, slack_sender, send
):
    upload_indexed(alice_api, "parking.md", PARKING, workspace="general")
    send(lambda: slack_sender.mention("Where do staff park?"))
    answer = ChatAnswer.objects.get()
    assert answer.parts == []  # posted: the rendered copy is gone already
    documents_erase(documents=Document.objects.all(), audit=AuditContext())
    assert "garage" not in str(ChatAnswer.objects.values_list("parts", flat=True))


def test_deleting_a_workspace_disconnects_its_channels(acme, slack_platform, send):
    from chat.services import mapping_add
    from workspaces.services import workspace_delete

    support = Workspace.objects.create(name="Support", slug="support")
    mapping_add(
        platform=slack_platform,
        channel_id="CSUPPORT",
        name="#support",
        workspace=support,
        audit=AuditContext(),
    )
    send(lambda: workspace_delete(workspace=support, audit=AuditContext()))
    assert list(ChannelMapping.objects.values_list("channel_id", flat=True)) == ["CGEN"]
