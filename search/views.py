"""The portal's ask page: conversations, streamed answers, feedback, and the admin review."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.audit import audit_context
from search import conversations, selectors, services
from search.models import Conversation
from search.streaming import sse_response
from workspaces.access import role_in
from workspaces.models import Membership, Role
from workspaces.portal import workspace_view


def _ask_url(conversation: Conversation) -> str:
    return (
        f"{reverse('search:ask')}?workspace={conversation.workspace.slug}"
        f"&conversation={conversation.pk}"
    )


def _conversation_from(request, value: str | None) -> Conversation | None:
    """The user's conversation named in the request, in the page's workspace; else 404."""
    if not value:
        return None
    try:
        pk = int(value)
    except ValueError:
        pk = 0
    conversation = selectors.conversation_get(request.user, pk)
    if conversation.workspace_id != request.workspace.pk:
        raise Http404("No such conversation in this workspace.")
    return conversation


def _can_review(request) -> bool:
    role = role_in(request.user, request.workspace)
    return role is not None and Membership(role=role).allows(Role.ADMIN)


@workspace_view(Role.VIEWER)
def ask(request):
    """Ask, in a conversation (new one on the first question); GET shows the thread."""
    source = request.POST if request.method == "POST" else request.GET
    conversation = _conversation_from(request, source.get("conversation"))
    error = ""
    question = ""
    if request.method == "POST":
        question = request.POST.get("question", "")
        try:
            services.question_validate(question)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            conversation = conversation or conversations.conversation_create(
                user=request.user, workspace=request.workspace
            )
            services.answer_question(
                user=request.user,
                workspace=request.workspace,
                question=question,
                audit=audit_context(request),
                conversation=conversation,
                fresh=request.POST.get("regenerate") == "1",
            )
            return redirect(_ask_url(conversation))
    context = {
        "conversation": conversation,
        "turns": (
            conversations.conversation_turns(conversation, viewer=request.user)
            if conversation
            else []
        ),
        "conversations": conversations.conversations_of(request.user, request.workspace)[:30],
        "question": question,
        "error": error,
        "can_review": _can_review(request),
    }
    return render(request, "search/ask.html", context, status=400 if error else 200)


@workspace_view(Role.VIEWER)
@require_POST
def ask_stream(request):
    """The ask page's streamed answer (server-sent events; see search.streaming)."""
    try:
        question = services.question_validate(request.POST.get("question", ""))
    except ValidationError as exc:
        return JsonResponse({"detail": " ".join(exc.messages)}, status=400)
    conversation = _conversation_from(
        request, request.POST.get("conversation")
    ) or conversations.conversation_create(user=request.user, workspace=request.workspace)
    return sse_response(
        services.answer_question_stream(
            user=request.user,
            workspace=request.workspace,
            question=question,
            audit=audit_context(request),
            conversation=conversation,
            fresh=request.POST.get("regenerate") == "1",
        )
    )


@login_required
def shared(request, token: str):
    """A conversation shared by link, read-only, for members of its workspace."""
    conversation = selectors.conversation_shared(request.user, token)
    request.workspace = conversation.workspace
    context = {
        "conversation": conversation,
        "turns": conversations.conversation_turns(conversation, viewer=request.user),
        "conversations": conversations.conversations_of(request.user, conversation.workspace)[:30],
        "shared_view": True,
    }
    return render(request, "search/ask.html", context)


@login_required
@require_POST
def conversation_rename(request, pk: int):
    conversation = selectors.conversation_get(request.user, pk)
    try:
        conversations.conversation_rename(
            conversation=conversation, title=request.POST.get("title", "")
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(_ask_url(conversation))


@login_required
@require_POST
def conversation_share(request, pk: int):
    conversation = selectors.conversation_get(request.user, pk)
    shared_now = request.POST.get("shared") == "1"
    conversations.conversation_share(conversation=conversation, shared=shared_now)
    messages.success(
        request,
        _("Members of the workspace can now open this conversation by its link.")
        if shared_now
        else _("The conversation is no longer shared."),
    )
    return redirect(_ask_url(conversation))


@login_required
@require_POST
def conversation_delete(request, pk: int):
    conversation = selectors.conversation_get(request.user, pk)
    slug = conversation.workspace.slug
    conversations.conversation_delete(conversation=conversation)
    messages.success(request, _("Conversation deleted."))
    return redirect(f"{reverse('search:ask')}?workspace={slug}")


@login_required
def conversation_export(request, pk: int):
    conversation = selectors.conversation_get(request.user, pk)
    return conversations.conversation_export_response(conversation, viewer=request.user)


@login_required
@require_POST
def feedback(request, pk: int):
    """👍/👎 on an answer, with an optional comment and one flagged source."""
    question = selectors.question_for_feedback(request.user, pk)
    flagged = []
    if request.POST.get("flag"):
        number, _colon, reason = request.POST["flag"].partition(":")
        flagged.append((int(number) if number.isdigit() else 0, reason))
    try:
        conversations.feedback_submit(
            user=request.user,
            question=question,
            helpful=request.POST.get("helpful") == "1",
            comment=request.POST.get("comment", ""),
            flagged=flagged,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Thank you for the feedback."))
    if question.conversation is not None and question.conversation.owner_id == request.user.pk:
        return redirect(f"{_ask_url(question.conversation)}#question-{question.pk}")
    if question.conversation is not None and question.conversation.share_token:
        return redirect(reverse("search:shared", args=[question.conversation.share_token]))
    return redirect(f"{reverse('search:ask')}?workspace={question.workspace.slug}")


@workspace_view(Role.ADMIN)
def review(request):
    """Answers people rated unhelpful, with their comments and flagged sources."""
    questions = conversations.questions_rated_unhelpful(request.workspace)[:100]
    return render(request, "search/review.html", {"questions": questions})
