"""Reads of conversations and answers that decide who may open them (404 for anyone else).

The portal opens a conversation or an answer through these; the API's views read the
same rows through ``WorkspaceAPIView.get_object`` with ``question_rateable`` as their
extra rule. A row in a workspace the person cannot read (any longer) is a 404, as is
someone else's conversation: existence is not revealed.
"""

from __future__ import annotations

from django.http import Http404

from accounts.models import User
from search.models import Conversation, Question
from workspaces.access import workspaces_readable


def conversation_get(user: User, pk: int) -> Conversation:
    """One of the user's own conversations in a workspace they can still read; else 404."""
    conversation = (
        Conversation.objects.filter(pk=pk, owner=user, workspace__in=workspaces_readable(user))
        .select_related("workspace")
        .first()
    )
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


def conversation_shared(user: User, token: str) -> Conversation:
    """A conversation shared by link, for a member of its workspace; else 404."""
    conversation = (
        Conversation.objects.filter(share_token=token, workspace__in=workspaces_readable(user))
        .select_related("workspace", "owner")
        .first()
        if token
        else None
    )
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


def question_rateable(user: User, question: Question) -> bool:
    """Whether ``user`` may rate the answer: their own, or one in a shared conversation
    (of a workspace they may read, which the caller checked)."""
    shared = question.conversation is not None and question.conversation.share_token
    return question.asked_by_id == user.pk or bool(shared)


def question_for_feedback(user: User, pk: int) -> Question:
    """A question the user may rate: their own, or one in a conversation shared with them."""
    readable = workspaces_readable(user)
    question = (
        Question.objects.filter(pk=pk, workspace__in=readable)
        .select_related("conversation", "workspace")
        .first()
    )
    if question is None or not question_rateable(user, question):
        raise Http404("No such answer.")
    return question
