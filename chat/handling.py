"""What the bot does with an incoming event, run by Celery (``chat.tasks``): who is
asking, from which workspace, then the answer, the search, the sources, the upload or
the feedback.

The order of checks is the access model: an unlinked chat user gets the "link your
account" message (privately) and nothing else; a channel answers from the one workspace
it is mapped to, and only for a member of it; a direct message from the member's
default workspace; the answer uses only what the member may read
(``search.services.answer_question`` filters by their reader scope). Refusals go
privately to the person (ephemeral), never to the channel.

The bot's own texts (notices, help, labels) are in the person's language
(``chat.language``): ``event_handle`` activates it for the whole event, so a string
marked with gettext anywhere below is translated by construction.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from chat import services
from chat.adapters.base import (
    AnswerView,
    ChatAdapter,
    EventKind,
    Incoming,
    PlatformError,
    PlatformRateLimited,
    Source,
)
from chat.context import (
    NO_SOURCES,
    SWITCHED_OFF,
    Context,
    audit_of,
    member,
    message_of,
    workspace_resolve,
)
from chat.feedback import feedback_handle
from chat.language import chat_user_language, user_language
from chat.models import (
    ChatAnswer,
    ChatIdentity,
    ChatPlatform,
    ChatThread,
    Command,
)
from chat.rendering import THINKING, passage_link, sources_from_citations, view_of
from chat.uploads import upload_handle
from infra.errors import ApplicationError
from search import conversations
from search.models import Channel
from search.services import answer_question, question_validate, search_audited
from workspaces.models import Role, Workspace

logger = logging.getLogger(__name__)

SEARCH_RESULTS = 5
SNIPPET_CHARS = 300


class DeliveryPostponed(Exception):
    """The platform rate-limited a post: deliver ``answer_id`` again in ``retry_after`` s."""

    def __init__(self, answer_id: int, retry_after: float) -> None:
        super().__init__(f"answer {answer_id}: retry after {retry_after:g} s")
        self.answer_id = answer_id
        self.retry_after = retry_after


def event_handle(*, platform_id: int, incoming: Incoming) -> list[int]:
    """Handle one event; returns the ids of the ``ChatUpload`` rows it made (to watch
    with ``upload_notify``). Raises ``DeliveryPostponed`` when an answer was rate
    limited and must be posted later."""
    platform = ChatPlatform.objects.filter(pk=platform_id, enabled=True).first()
    if platform is None:
        return []
    context = Context(platform, services.adapter_for(platform), incoming)
    # The linked person's language (else the installation's) for everything the bot
    # writes while handling the event; the override restores the worker's afterwards.
    with translation.override(chat_user_language(platform, incoming.user_id)):
        if incoming.kind == EventKind.FEEDBACK:
            feedback_handle(context)
        elif incoming.kind == EventKind.QUESTION:
            _question(context)
    return context.uploads


def _question(context: Context) -> None:
    incoming = context.incoming
    if (
        incoming.only_if_thread_known
        and not ChatThread.objects.filter(
            platform=context.platform, channel_id=incoming.channel_id, thread_id=incoming.thread_id
        ).exists()
    ):
        return  # a thread the bot is not part of
    if incoming.command == "help":  # for anyone, linked or not: it names no document
        context.tell(context.adapter.help_text)
        return
    wanted = Command.UPLOAD if incoming.files else incoming.command
    if wanted not in context.platform.commands:
        context.tell(SWITCHED_OFF)
        return
    if not incoming.response_url:
        try:
            context.thread_id = context.adapter.thread_of(incoming)
        except PlatformError as exc:  # e.g. Mattermost's post lookup failed: a new thread
            logger.warning("chat %s: thread not found: %s", context.platform.kind, exc)
            context.thread_id = incoming.thread_id or incoming.message_id
    identity = member(context)
    if identity is None:
        return
    # Linked just now by their email (``member``): their language from here on. Inside
    # ``event_handle``'s override, which restores the previous language at its end.
    translation.activate(user_language(identity.user))
    if incoming.files:
        upload_handle(context, identity)
        return
    workspace = workspace_resolve(context, identity, Role.VIEWER)
    if workspace is None:
        return
    if incoming.command == "search":
        _search(context, identity, workspace)
    elif incoming.command == "sources":
        _sources(context, identity, workspace)
    else:
        _ask(context, identity, workspace)


def _answer_start(context: Context, workspace: Workspace) -> tuple[ChatAnswer, bool]:
    """The answer row for this event, with a "thinking" placeholder posted; True when it
    is new (False: a redelivered task resumes it)."""
    incoming = context.incoming
    answer, created = ChatAnswer.objects.get_or_create(
        platform=context.platform,
        event_id=incoming.event_id,
        defaults={
            "workspace": workspace,
            "channel_id": incoming.channel_id,
            "thread_id": context.thread_id,
            "response_url": incoming.response_url,
        },
    )
    if created and not incoming.response_url:  # a slash command's "thinking" is its ack
        try:
            answer.placeholder_id = context.adapter.post(
                channel_id=incoming.channel_id,
                thread_id=context.thread_id,
                part=context.adapter.render_text(str(THINKING)),
            )
            answer.save(update_fields=["placeholder_id"])
        except PlatformError as exc:
            logger.warning("chat %s: placeholder not posted: %s", context.platform.kind, exc)
    return answer, created


def _conversation(context: Context, identity: ChatIdentity, workspace: Workspace, title: str):
    """The OPAA conversation of this thread for this person (new for a new thread)."""
    incoming = context.incoming
    if not context.thread_id:
        return conversations.conversation_create(
            user=identity.user, workspace=workspace, title=title
        )
    thread = ChatThread.objects.filter(
        platform=context.platform,
        channel_id=incoming.channel_id,
        thread_id=context.thread_id,
        identity=identity,
        workspace=workspace,
    ).first()
    if thread is None:
        conversation = conversations.conversation_create(
            user=identity.user, workspace=workspace, title=title
        )
        ChatThread.objects.update_or_create(
            platform=context.platform,
            channel_id=incoming.channel_id,
            thread_id=context.thread_id,
            identity=identity,
            defaults={"workspace": workspace, "conversation": conversation},
        )
        return conversation
    return thread.conversation


def _ask(context: Context, identity: ChatIdentity, workspace: Workspace) -> None:
    incoming = context.incoming
    answer, created = _answer_start(context, workspace)
    if answer.delivered_at is not None:
        return  # a redelivered task: answered already
    if created or answer.question_id is None:
        # No transaction around it: the LLM call may take seconds (search records the
        # question, its audit and metering in one statement sequence of its own).
        try:
            question = answer_question(
                user=identity.user,
                workspace=workspace,
                question=incoming.text,
                audit=audit_of(identity),
                conversation=_conversation(context, identity, workspace, incoming.text),
                channel=Channel.CHAT,
            )
        except (ValidationError, ApplicationError) as exc:  # empty question, quota
            _answer_notice(context, answer, message_of(exc))
            return
        audit_record(
            action=services.AUDIT_QUESTION,
            context=audit_of(identity),
            target_type="question",
            target_id=question.pk,
            extra={
                "kind": context.platform.kind,
                "channel": incoming.channel_id,
                "workspace": workspace.slug,
            },
        )
        parts = context.adapter.render(
            view_of(
                text=question.answer_shown,  # in the language activated for the event
                citations=question.citations,
                portal_url=context.platform.portal_url,
                answer_id=answer.pk,
            )
        )
        answer.question = question
        answer.parts = parts
        answer.save(update_fields=["question", "parts"])
    answer_deliver(answer=answer, adapter=context.adapter)


def _answer_notice(context: Context, answer: ChatAnswer, text: str) -> None:
    answer.parts = [context.adapter.render_text(str(text))]
    answer.save(update_fields=["parts"])
    answer_deliver(answer=answer, adapter=context.adapter)


def answer_deliver(*, answer: ChatAnswer, adapter: ChatAdapter) -> None:
    """Post the parts not yet posted: the first replaces the placeholder (or answers the
    slash command), the others follow in the thread. Resumable: a retry after a rate
    limit posts only what is missing (a part posted just before a crash, before its
    count was saved, is posted twice). Raises ``DeliveryPostponed`` on a 429."""
    while answer.parts_posted < len(answer.parts):
        index = answer.parts_posted
        part = answer.parts[index]
        try:
            if answer.response_url:
                adapter.respond(response_url=answer.response_url, part=part, first=index == 0)
                message_id = ""
            elif index == 0 and answer.placeholder_id:
                adapter.update(
                    channel_id=answer.channel_id, message_id=answer.placeholder_id, part=part
                )
                message_id = answer.placeholder_id
            else:
                message_id = adapter.post(
                    channel_id=answer.channel_id, thread_id=answer.thread_id, part=part
                )
        except PlatformRateLimited as exc:
            raise DeliveryPostponed(answer.pk, exc.retry_after) from exc
        answer.message_ids = [*answer.message_ids, message_id]
        answer.parts_posted = index + 1
        answer.save(update_fields=["message_ids", "parts_posted"])
    if answer.delivered_at is None:
        # The rendered copy is kept only until it is posted: erasing a document later
        # (search.erasure) must not leave its text here.
        answer.delivered_at = timezone.now()
        answer.parts = []
        answer.save(update_fields=["delivered_at", "parts"])


def _search(context: Context, identity: ChatIdentity, workspace: Workspace) -> None:
    incoming = context.incoming
    answer, created = _answer_start(context, workspace)
    if answer.delivered_at is not None:
        return
    if created or not answer.parts:
        try:
            query = question_validate(incoming.text)
        except ValidationError as exc:
            _answer_notice(context, answer, message_of(exc))
            return
        passages = search_audited(
            query,
            user=identity.user,
            workspace=workspace,
            k=SEARCH_RESULTS,
            audit=audit_of(identity),
            via="chat",
        )
        portal = context.platform.portal_url
        lines = [
            f"[{n}] {' '.join(p.text.split())[:SNIPPET_CHARS]}" for n, p in enumerate(passages, 1)
        ]
        view = AnswerView(
            text="\n\n".join(lines) if lines else _("Nothing found."),
            sources=[
                Source(
                    n,
                    p.document_title,
                    " > ".join(p.heading_path),
                    passage_link(portal, p.document_id, p.chunk_id),
                )
                for n, p in enumerate(passages, 1)
            ],
        )
        answer.parts = context.adapter.render(view)
        answer.save(update_fields=["parts"])
    answer_deliver(answer=answer, adapter=context.adapter)


def _sources(context: Context, identity: ChatIdentity, workspace: Workspace) -> None:
    """The sources of the member's last answer in this channel (thread), as they may
    read them now."""
    incoming = context.incoming
    last = (
        ChatAnswer.objects.filter(
            platform=context.platform,
            channel_id=incoming.channel_id,
            workspace=workspace,
            question__asked_by=identity.user,
        )
        .exclude(event_id=incoming.event_id)
        .select_related("question__conversation")
    )
    if context.thread_id:
        last = last.filter(thread_id=context.thread_id)
    previous = last.order_by("-created_at").first()
    answer, _created = _answer_start(context, workspace)
    if answer.delivered_at is not None:
        return
    if previous is None or previous.question.conversation is None:
        _answer_notice(context, answer, NO_SOURCES)
        return
    turns = conversations.conversation_turns(previous.question.conversation, viewer=identity.user)
    turn = next((t for t in turns if t.pk == previous.question_id), None)
    citations = turn.citations if turn is not None else []
    view = AnswerView(
        text=_("Sources of the answer to “%(question)s”:") % {"question": previous.question.text},
        sources=sources_from_citations(citations, context.platform.portal_url),
    )
    answer.parts = context.adapter.render(view)
    answer.save(update_fields=["parts"])
    answer_deliver(answer=answer, adapter=context.adapter)
