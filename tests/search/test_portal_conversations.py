"""The ask page's conversations, sharing, feedback and the admins' review page."""

from __future__ import annotations

import re

import pytest

from accounts.models import User
from search.models import Conversation, Feedback, SourceFeedback
from tests.conftest import portal_client
from workspaces.models import Membership, Role, Workspace

HANDBOOK = b"""# Handbook

## Probation

The probation period lasts six months for all new employees.

## Notice

After probation the notice period is one month for both sides.
"""


@pytest.fixture
def handbook(acme, alice_api, upload_indexed):
    return upload_indexed(alice_api, "handbook.md", HANDBOOK)["id"]


@pytest.fixture
def dave_portal(acme, world):
    dave = User.objects.create_user("dave@acme.example", "pw")
    Membership.objects.create(
        workspace=Workspace.objects.get(slug="general"), user=dave, role=Role.VIEWER
    )
    return portal_client(world.acme, "dave@acme.example")


def test_conversation_flow(handbook, alice_portal, dave_portal):
    first = alice_portal.post("/ask/", {"question": "How long is probation?"}, follow=True)
    conversation = Conversation.objects.get()
    assert "six months" in first.content.decode()
    follow_up = alice_portal.post(
        "/ask/",
        {"question": "And the notice after it?", "conversation": conversation.pk},
        follow=True,
    )
    html = follow_up.content.decode()
    assert html.count('class="card answer" id="question-') == 2
    assert "one month" in html
    assert Conversation.objects.count() == 1

    alice_portal.post(f"/ask/conversations/{conversation.pk}/rename", {"title": "Probation"})
    sidebar = alice_portal.get("/ask/").content.decode()
    assert f'conversation={conversation.pk}">Probation</a>' in sidebar

    alice_portal.post(f"/ask/conversations/{conversation.pk}/share", {"shared": "1"})
    conversation.refresh_from_db()
    page = dave_portal.get(f"/ask/shared/{conversation.share_token}")
    assert page.status_code == 200
    assert "Shared by alice@acme.example" in page.content.decode()
    # dave may not open, rename or delete it as his own.
    assert dave_portal.get(f"/ask/?conversation={conversation.pk}").status_code == 404
    assert dave_portal.post(f"/ask/conversations/{conversation.pk}/delete").status_code == 404

    export = alice_portal.get(f"/ask/conversations/{conversation.pk}/export")
    assert export.content.decode().startswith("# Probation\n")

    alice_portal.post(f"/ask/conversations/{conversation.pk}/delete")
    assert not Conversation.objects.exists()
    assert dave_portal.get(f"/ask/shared/{conversation.share_token}").status_code == 404


def test_feedback_and_review(handbook, alice_portal, dave_portal):
    page = alice_portal.post("/ask/", {"question": "How long is probation?"}, follow=True)
    question_id = int(re.search(r'id="question-(\d+)"', page.content.decode()).group(1))
    response = alice_portal.post(
        f"/ask/answers/{question_id}/feedback",
        {"helpful": "0", "comment": "It is three months for interns.", "flag": "1:wrong"},
        follow=True,
    )
    assert "Thank you for the feedback." in response.content.decode()
    assert Feedback.objects.get(question_id=question_id).helpful is False
    assert SourceFeedback.objects.get(question_id=question_id).reason == "wrong"

    review = alice_portal.get("/ask/review").content.decode()
    assert "It is three months for interns." in review
    assert "flagged as the source is wrong" in review
    assert dave_portal.get("/ask/review").status_code == 403
    # dave cannot rate alice's unshared answer.
    assert (
        dave_portal.post(f"/ask/answers/{question_id}/feedback", {"helpful": "1"}).status_code
        == 404
    )


def test_outsider_sees_nothing(handbook, alice_portal, carol_portal, world):
    alice_portal.post("/ask/", {"question": "How long is probation?"})
    conversation = Conversation.objects.get()
    host = {"HTTP_HOST": world.acme.domain}
    # carol's session means nothing at Acme's domain: she is sent to sign in.
    assert carol_portal.get(f"/ask/?conversation={conversation.pk}", **host).status_code == 302
    assert (
        carol_portal.get(f"/ask/conversations/{conversation.pk}/export", **host).status_code == 302
    )


def test_regenerate_asks_the_llm_again_instead_of_the_cache(handbook, alice_portal):
    from django.test import override_settings

    from search.llm import REWRITE_PROMPT
    from tests.fakes.openai_server import FakeOpenAIServer

    answers = iter(["Probation lasts six months [1].", "It lasts six months, then notice [1]."])

    def model(messages):
        if messages[0]["content"] == REWRITE_PROMPT:
            return "How long is probation?"  # the follow-up, made standalone
        return next(answers)

    def answer_requests(server):
        return [
            r for r in server.chat_requests() if r.body["messages"][0]["content"] != REWRITE_PROMPT
        ]

    with (
        FakeOpenAIServer(reply=model) as server,
        override_settings(LLM_API_BASE=server.base_url),
    ):
        first = alice_portal.post("/ask/", {"question": "How long is probation?"}, follow=True)
        assert "Regenerate" in first.content.decode()
        conversation = Conversation.objects.get()
        # The same question again comes from the cache: the model is not asked to answer.
        alice_portal.post(
            "/ask/", {"question": "How long is probation?", "conversation": conversation.pk}
        )
        assert len(answer_requests(server)) == 1
        page = alice_portal.post(
            "/ask/",
            {
                "question": "How long is probation?",
                "conversation": conversation.pk,
                "regenerate": "1",
            },
            follow=True,
        )
        assert len(answer_requests(server)) == 2
    html = page.content.decode()
    assert "It lasts six months, then notice" in html
    assert html.count('class="card answer" id="question-') == 3
