"""Conversations (multi-turn questions) and feedback on answers: services and selectors.

Opening one by its id (who may) is ``search.selectors``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils.text import slugify
from django.utils.translation import gettext as _

from accounts.models import User
from ingestion.models import Document
from search.fact_answers import answer_facts
from search.models import Conversation, Feedback, Question, SourceFeedback, SourceReason
from workspaces.models import Workspace
from workspaces.readers import reader_scope

MAX_TITLE_CHARS = 200
# How many earlier turns a follow-up is read against.
HISTORY_TURNS = 4
# Shown instead of an answer written from a source the viewer may not read.
ANSWER_WITHHELD = "This answer is hidden: it cites documents you may not read."
ANSWER_HIDDEN_NOT_FLAGGABLE = "This answer is hidden from you, so its sources cannot be flagged."
# Words that point back at an earlier turn ("what about *it*?").
_REFERRING = re.compile(
    r"\b(it|its|this|that|these|those|they|them|their|he|she|his|her|there|same|also|"
    r"what about|how about|and)\b",
    re.IGNORECASE,
)


# --- selectors ------------------------------------------------------------------------


def conversations_of(user: User, workspace: Workspace) -> QuerySet[Conversation]:
    """The user's own conversations in ``workspace``, most recent first."""
    return Conversation.objects.filter(workspace=workspace, owner=user)


def conversation_turns(conversation: Conversation, *, viewer: User) -> list[Question]:
    """The conversation's questions and answers as ``viewer`` may see them.

    A citation of a document ``viewer`` may not read (now: readers change, and shared
    conversations are read by others) is left out, and the answer written from it is
    replaced by ``ANSWER_WITHHELD``, so nothing of that document shows; a document
    deleted since counts as unreadable; such a turn has ``hidden`` set. The returned
    objects are changed in memory only: never save them.
    """
    # With their workspace: each turn's facts are read in it (search.fact_answers).
    turns = list(conversation.questions.select_related("workspace").order_by("created_at", "pk"))
    votes = dict(
        Feedback.objects.filter(question__in=turns, user=viewer).values_list(
            "question_id", "helpful"
        )
    )
    for turn in turns:
        turn.hidden = False
        # ``viewer``'s own vote on the answer: True (helpful), False or None.
        turn.my_vote = votes.get(turn.pk)
    cited = {c["document_id"] for turn in turns for c in turn.citations}
    if not cited:
        return turns
    readable = _documents_readable(viewer, conversation.workspace, cited)
    for turn in turns:
        shown = [c for c in turn.citations if c["document_id"] in readable]
        if len(shown) < len(turn.citations):
            turn.citations = shown
            turn.answer = ANSWER_WITHHELD
            turn.hidden = True
    return turns


def _documents_readable(viewer: User, workspace: Workspace, ids: set[int]) -> set[int]:
    """Those of the documents ``ids`` that still exist and ``viewer`` may read."""
    if not ids:
        return set()
    scope = reader_scope(viewer, [workspace])
    # The workspace's documents and those shared into it (docs/sharing.md).
    within = scope.within_q([workspace.pk], document_field="pk")
    return set(Document.objects.filter(scope.q(), within, pk__in=ids).values_list("pk", flat=True))


def questions_rated_unhelpful(workspace: Workspace | None = None) -> QuerySet[Question]:
    """Answers someone found unhelpful, with their feedback, for workspace admins: in
    ``workspace``, or in any when None (the API's base view adds the workspace)."""
    questions = Question.objects.filter(feedback__helpful=False)
    if workspace is not None:
        questions = questions.filter(workspace=workspace)
    return (
        questions.distinct()
        .select_related("asked_by")
        .prefetch_related("feedback", "source_feedback")
        .order_by("-created_at")
    )


# --- services -------------------------------------------------------------------------


def conversation_create(*, user: User, workspace: Workspace, title: str = "") -> Conversation:
    return Conversation.objects.create(
        workspace=workspace, owner=user, title=title.strip()[:MAX_TITLE_CHARS] or "New conversation"
    )


def conversation_rename(*, conversation: Conversation, title: str) -> Conversation:
    title = " ".join((title or "").split())
    if not title:
        raise ValidationError({"title": _("The title may not be empty.")})
    conversation.title = title[:MAX_TITLE_CHARS]
    conversation.save(update_fields=["title", "updated_at"])
    return conversation


def conversation_share(*, conversation: Conversation, shared: bool) -> Conversation:
    """Share by link within the organization (a new link each time), or stop sharing."""
    conversation.share_token = secrets.token_urlsafe(32) if shared else None
    conversation.save(update_fields=["share_token", "updated_at"])
    return conversation


def conversation_delete(*, conversation: Conversation) -> None:
    """Delete the conversation with its questions, answers and feedback."""
    conversation.delete()


def conversation_touch(*, conversation: Conversation, first_question: str) -> None:
    """After a turn: keep the list ordered by activity; name it after its first question."""
    fields = ["updated_at"]
    if conversation.title == "New conversation":
        conversation.title = first_question[:MAX_TITLE_CHARS]
        fields.append("title")
    conversation.save(update_fields=fields)


def conversation_markdown(conversation: Conversation, *, viewer: User) -> str:
    """The conversation as a Markdown document: each question, its answer, the facts
    that satisfy it and its sources (as ``viewer`` may see them: ``conversation_turns``,
    ``search.fact_answers``)."""
    lines = [f"# {conversation.title}", ""]
    for turn in conversation_turns(conversation, viewer=viewer):
        lines += [f"## {turn.text}", "", turn.answer_shown, ""]
        facts = answer_facts(turn, viewer=viewer)
        if facts:
            lines += [f"{_('Matching facts')}:", ""]
            for row in facts:
                values = "; ".join(f"{f['label']}: {f['value']}" for f in row["facts"])
                lines.append(f"- {row['entity']}: {values} ({row['document_title']})")
            lines.append("")
        if turn.citations:
            lines.append(f"{_('Sources')}:")
            lines.append("")
            for citation in turn.citations:
                where = " > ".join(citation.get("heading_path") or [])
                suffix = f" ({where})" if where else ""
                lines.append(f"{citation['number']}. {citation['document_title']}{suffix}")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def conversation_export_response(conversation: Conversation, *, viewer: User) -> HttpResponse:
    """The conversation as a Markdown file to download (portal and API alike)."""
    response = HttpResponse(
        conversation_markdown(conversation, viewer=viewer),
        content_type="text/markdown; charset=utf-8",
    )
    name = slugify(conversation.title)[:60] or "conversation"
    response["Content-Disposition"] = f'attachment; filename="{name}.md"'
    return response


def followup_standalone(question: str, history: Sequence[Question]) -> str:
    """The text retrieval should search for a follow-up, without an LLM.

    A question that refers back ("and for trips abroad?", "who approves it?") or is very
    short is searched together with the previous turn's standalone question; a
    self-contained one is searched as it is. The LLM path rewrites with the model
    (``search.llm.rewrite_standalone``) and falls back to this.
    """
    if not history:
        return question
    previous = history[-1].standalone_text or history[-1].text
    if _REFERRING.search(question) or len(question.split()) <= 4:
        return f"{previous} {question}"
    return question


def feedback_submit(
    *,
    user: User,
    question: Question,
    helpful: bool,
    comment: str = "",
    flagged: Sequence[tuple[int, str]] = (),
) -> Feedback:
    """Record (or change) the user's verdict on an answer, and any sources they flag.

    ``flagged`` holds (citation number, reason) pairs; a number the answer does not
    cite, or an unknown reason, is refused with a ValidationError and nothing is saved.
    An answer hidden from ``user`` (it cites a document they may not read, or one
    deleted since: ``conversation_turns``) may be rated but none of its sources flagged,
    and the refusal is the same whatever the number: how many sources it has, and
    which documents, stay unknown, and a flag never records a document its flagger
    cannot read.
    """
    cited = {c["number"]: c["document_id"] for c in question.citations}
    documents = set(cited.values())
    if flagged and _documents_readable(user, question.workspace, documents) != documents:
        raise ValidationError({"sources": ANSWER_HIDDEN_NOT_FLAGGABLE})
    for number, reason in flagged:
        if number not in cited:
            raise ValidationError(
                {"sources": _("The answer has no source [%(number)s].") % {"number": number}}
            )
        if reason not in SourceReason.values:
            raise ValidationError({"sources": _("Unknown reason %(reason)r.") % {"reason": reason}})
    with transaction.atomic():
        feedback, _created = Feedback.objects.update_or_create(
            question=question,
            user=user,
            defaults={"helpful": helpful, "comment": (comment or "").strip()[:2000]},
        )
        for number, reason in flagged:
            SourceFeedback.objects.update_or_create(
                question=question,
                user=user,
                citation_number=number,
                defaults={"reason": reason, "document_id": cited[number]},
            )
    return feedback
