"""What the bot does with an incoming event, run by Celery (``chat.tasks``): who is
asking, from which workspace, then the answer, the search, the sources, the upload or
the feedback.

The order of checks is the access model: an unlinked chat user gets the "link your
account" message (privately) and nothing else; a channel answers from the one workspace
it is mapped to, and only for a member of it; a direct message from the member's
default workspace; the answer uses only what the member may read
(``search.services.answer_question`` filters by their reader scope). Refusals go
privately to the person (ephemeral), never to the channel.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from accounts.audit import AuditAction, AuditContext, audit_record, question_extra
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
from chat.models import (
    ChannelMapping,
    ChatAnswer,
    ChatIdentity,
    ChatPlatform,
    ChatThread,
    ChatUpload,
    Command,
)
from chat.rendering import THINKING, passage_link, sources_from_citations, view_of
from infra.errors import ApplicationError
from ingestion.models import DocumentStatus
from ingestion.uploads import UploadRejected, upload_receive
from search import conversations
from search.models import Channel, Question
from search.selectors import question_for_feedback
from search.services import answer_question, passages_search, question_validate
from workspaces.access import workspace_for
from workspaces.models import Role, Workspace
from workspaces.readers import reader_scope

logger = logging.getLogger(__name__)

SEARCH_RESULTS = 5
SNIPPET_CHARS = 300

NOT_LINKED = (
    "To ask OPAA here, link your chat account to your OPAA account first (once): {url}\n"
    "The link works for 30 minutes; open it while signed in to OPAA."
)
NOT_MAPPED = "This channel is not connected to OPAA. An admin can connect it in the portal."
NO_ACCESS = "You have no access to the OPAA workspace of this channel."
NO_WORKSPACE = "You have no workspace in OPAA yet."
SWITCHED_OFF = "This command is switched off here."
NO_UPLOAD = "You may not upload documents to {workspace}."
NO_SOURCES = "There is no answer of mine to you here yet."


class DeliveryPostponed(Exception):
    """The platform rate-limited a post: deliver ``answer_id`` again in ``retry_after`` s."""

    def __init__(self, answer_id: int, retry_after: float) -> None:
        super().__init__(f"answer {answer_id}: retry after {retry_after:g} s")
        self.answer_id = answer_id
        self.retry_after = retry_after


class _Context:
    """One event being handled: the platform, its adapter, the event, the thread."""

    def __init__(self, platform: ChatPlatform, adapter: ChatAdapter, incoming: Incoming):
        self.platform = platform
        self.adapter = adapter
        self.incoming = incoming
        self.thread_id = ""
        # The chat uploads made, for the caller to watch until they are indexed.
        self.uploads: list[int] = []

    def tell(self, text: str) -> None:
        """A message for the asker only: the slash command's response, their direct
        message, or an ephemeral one in the channel."""
        incoming = self.incoming
        try:
            if incoming.response_url:
                self.adapter.respond(
                    response_url=incoming.response_url, part=self.adapter.render_text(text)
                )
            elif incoming.is_direct:
                self.adapter.post(
                    channel_id=incoming.channel_id,
                    thread_id=self.thread_id,
                    part=self.adapter.render_text(text),
                )
            else:
                self.adapter.post_private(
                    channel_id=incoming.channel_id,
                    user_id=incoming.user_id,
                    thread_id=self.thread_id,
                    text=text,
                )
        except PlatformError as exc:
            logger.warning("chat %s: could not reply: %s", self.platform.kind, exc)


def event_handle(*, platform_id: int, incoming: Incoming) -> list[int]:
    """Handle one event; returns the ids of the ``ChatUpload`` rows it made (to watch
    with ``upload_notify``). Raises ``DeliveryPostponed`` when an answer was rate
    limited and must be posted later."""
    platform = ChatPlatform.objects.filter(pk=platform_id, enabled=True).first()
    if platform is None:
        return []
    context = _Context(platform, services.adapter_for(platform), incoming)
    if incoming.kind == EventKind.FEEDBACK:
        _feedback(context)
    elif incoming.kind == EventKind.QUESTION:
        _question(context)
    return context.uploads


def _member(context: _Context) -> ChatIdentity | None:
    """The linked identity of the asker; else sends them their one-time link."""
    incoming = context.incoming
    identity = services.identity_get(
        platform=context.platform, external_id=incoming.user_id, name=incoming.user_name
    )
    if identity.user_id is not None and identity.user.is_active:
        return identity
    if identity.user_id is None:
        try:
            email = context.adapter.user_email(incoming.user_id)
        except PlatformError as exc:
            logger.warning("chat %s: user lookup failed: %s", context.platform.kind, exc)
            email = None
        identity = services.identity_by_email(identity=identity, email=email)
        if identity.user_id is not None:
            return identity
    token = services.link_token_issue(identity=identity)
    url = f"{context.platform.portal_url.rstrip('/')}/chat/link/{token}"
    context.tell(NOT_LINKED.format(url=url))
    return None


def _workspace(context: _Context, identity: ChatIdentity, role: str) -> Workspace | None:
    """The workspace the channel maps to (a direct message: the member's default), if the
    member holds ``role`` there; else tells them why not."""
    incoming = context.incoming
    mapping = (
        ChannelMapping.objects.filter(platform=context.platform, channel_id=incoming.channel_id)
        .select_related("workspace")
        .first()
    )
    if mapping is None and not incoming.is_direct:
        context.tell(NOT_MAPPED)
        return None
    slug = mapping.workspace.slug if mapping else None
    try:
        return workspace_for(identity.user, slug, role=role)
    except Http404:
        context.tell(NO_ACCESS if mapping else NO_WORKSPACE)
    except PermissionDenied:
        if role == Role.EDITOR and mapping is not None:
            context.tell(NO_UPLOAD.format(workspace=mapping.workspace.name))
        else:
            context.tell(NO_ACCESS)
    return None


def _audit(identity: ChatIdentity) -> AuditContext:
    return AuditContext(user_id=identity.user.pk, email=identity.user.email)


def _question(context: _Context) -> None:
    incoming = context.incoming
    if (
        incoming.only_if_thread_known
        and not ChatThread.objects.filter(
            platform=context.platform, channel_id=incoming.channel_id, thread_id=incoming.thread_id
        ).exists()
    ):
        return  # a thread the bot is not part of
    wanted = Command.UPLOAD if incoming.files else incoming.command
    if wanted not in context.platform.commands:
        context.tell(SWITCHED_OFF)
        return
    if not incoming.response_url:
        context.thread_id = context.adapter.thread_of(incoming)
    identity = _member(context)
    if identity is None:
        return
    if incoming.files:
        _upload(context, identity)
        return
    workspace = _workspace(context, identity, Role.VIEWER)
    if workspace is None:
        return
    if incoming.command == "search":
        _search(context, identity, workspace)
    elif incoming.command == "sources":
        _sources(context, identity, workspace)
    else:
        _ask(context, identity, workspace)


def _answer_start(context: _Context, workspace: Workspace) -> tuple[ChatAnswer, bool]:
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
                part=context.adapter.render_text(THINKING),
            )
            answer.save(update_fields=["placeholder_id"])
        except PlatformError as exc:
            logger.warning("chat %s: placeholder not posted: %s", context.platform.kind, exc)
    return answer, created


def _conversation(context: _Context, identity: ChatIdentity, workspace: Workspace, title: str):
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


def _ask(context: _Context, identity: ChatIdentity, workspace: Workspace) -> None:
    incoming = context.incoming
    answer, created = _answer_start(context, workspace)
    if created or answer.question_id is None:
        # No transaction around it: the LLM call may take seconds (search records the
        # question, its audit and metering in one statement sequence of its own).
        try:
            question = answer_question(
                user=identity.user,
                workspace=workspace,
                question=incoming.text,
                audit=_audit(identity),
                conversation=_conversation(context, identity, workspace, incoming.text),
            )
        except (ValidationError, ApplicationError) as exc:  # empty question, quota
            _answer_notice(context, answer, _message(exc))
            return
        # search records a caller without a token as "portal"; this one came by chat.
        Question.objects.filter(pk=question.pk).update(channel=Channel.CHAT)
        audit_record(
            action=services.AUDIT_QUESTION,
            context=_audit(identity),
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
                text=question.answer,
                citations=question.citations,
                portal_url=context.platform.portal_url,
                answer_id=answer.pk,
            )
        )
        answer.question = question
        answer.parts = parts
        answer.save(update_fields=["question", "parts"])
    answer_deliver(answer=answer, adapter=context.adapter)


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(getattr(exc, "message", "") or exc)


def _answer_notice(context: _Context, answer: ChatAnswer, text: str) -> None:
    answer.parts = [context.adapter.render_text(text)]
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
                adapter.respond(response_url=answer.response_url, part=part)
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
        answer.delivered_at = timezone.now()
        answer.save(update_fields=["delivered_at"])


def _search(context: _Context, identity: ChatIdentity, workspace: Workspace) -> None:
    incoming = context.incoming
    answer, created = _answer_start(context, workspace)
    if created or not answer.parts:
        try:
            query = question_validate(incoming.text)
        except ValidationError as exc:
            _answer_notice(context, answer, _message(exc))
            return
        passages = passages_search(
            query,
            workspace=workspace,
            readers=reader_scope(identity.user, [workspace]),
            k=SEARCH_RESULTS,
        )
        audit_record(
            action=AuditAction.SEARCH,
            context=_audit(identity),
            extra=question_extra(query, workspace=workspace.slug, results=len(passages)),
        )
        portal = context.platform.portal_url
        lines = [
            f"[{n}] {' '.join(p.text.split())[:SNIPPET_CHARS]}" for n, p in enumerate(passages, 1)
        ]
        view = AnswerView(
            text="\n\n".join(lines) if lines else "Nothing found.",
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


def _sources(context: _Context, identity: ChatIdentity, workspace: Workspace) -> None:
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
    if previous is None or previous.question.conversation is None:
        _answer_notice(context, answer, NO_SOURCES)
        return
    turns = conversations.conversation_turns(previous.question.conversation, viewer=identity.user)
    turn = next((t for t in turns if t.pk == previous.question_id), None)
    citations = turn.citations if turn is not None else []
    view = AnswerView(
        text=f"Sources of the answer to “{previous.question.text}”:",
        sources=sources_from_citations(citations, context.platform.portal_url),
    )
    answer.parts = context.adapter.render(view)
    answer.save(update_fields=["parts"])
    answer_deliver(answer=answer, adapter=context.adapter)


def _feedback(context: _Context) -> None:
    """👍/👎 (a reaction or a button) on an answer: the member's feedback on it. Anyone
    else's (unlinked, or not allowed to rate it) is ignored without a reply."""
    incoming = context.incoming
    answers = ChatAnswer.objects.filter(platform=context.platform, question__isnull=False)
    if incoming.answer_id is not None:
        answer = answers.filter(pk=incoming.answer_id).first()
    else:
        answer = answers.filter(
            channel_id=incoming.channel_id, message_ids__contains=[incoming.target_message_id]
        ).first()
    identity = (
        ChatIdentity.objects.filter(
            platform=context.platform, external_id=incoming.user_id, user__is_active=True
        )
        .select_related("user")
        .first()
    )
    if answer is None or identity is None:
        return
    try:
        question = question_for_feedback(identity.user, answer.question_id)
    except Http404:
        return
    conversations.feedback_submit(
        user=identity.user, question=question, helpful=bool(incoming.helpful)
    )


def _upload(context: _Context, identity: ChatIdentity) -> None:
    """Each attached file into the channel's workspace, when the member may upload
    there (editor); the bot replies now, and again once it is indexed or failed."""
    workspace = _workspace(context, identity, Role.EDITOR)
    if workspace is None:
        return
    for file in context.incoming.files:
        name = file.name or getattr(context.adapter, "file_name", lambda f: "upload")(file)
        try:
            if file.size and file.size > settings.MAX_UPLOAD_BYTES:
                raise UploadRejected(f"{name} is larger than the upload limit.", status_code=413)
            data = context.adapter.file_download(file)
            with transaction.atomic():
                received = upload_receive(
                    workspace=workspace,
                    user=identity.user,
                    file=SimpleUploadedFile(name, data),
                    audit=_audit(identity),
                )
                upload = ChatUpload.objects.create(
                    platform=context.platform,
                    workspace=workspace,
                    document=received.document,
                    channel_id=context.incoming.channel_id,
                    thread_id=context.thread_id,
                )
                audit_record(
                    action=services.AUDIT_UPLOAD,
                    context=_audit(identity),
                    target_type="document",
                    target_id=received.document.pk,
                    extra={
                        "kind": context.platform.kind,
                        "filename": name,
                        "workspace": workspace.slug,
                    },
                )
        except (ValidationError, ApplicationError, PlatformError) as exc:
            context.tell(f"{name} was not uploaded: {_message(exc)}")
            continue
        context.uploads.append(upload.pk)
        _post(context, f"Received {name} into {workspace.name}; I will reply when it is indexed.")


def _post(context: _Context, text: str) -> None:
    try:
        context.adapter.post(
            channel_id=context.incoming.channel_id,
            thread_id=context.thread_id,
            part=context.adapter.render_text(text),
        )
    except PlatformError as exc:
        logger.warning("chat %s: could not post: %s", context.platform.kind, exc)


def upload_notify(*, upload_id: int) -> bool:
    """Reply in the upload's thread once its document is indexed or failed (with the
    reason). Returns False while it is still waiting. Idempotent: replies once."""
    upload = ChatUpload.objects.select_related("document", "platform").filter(pk=upload_id).first()
    if upload is None or upload.notified_at is not None:
        return True
    document = upload.document
    if document.status == DocumentStatus.INDEXED:
        text = f"{document.original_filename} is indexed: you can ask about it now."
    elif document.status == DocumentStatus.FAILED:
        text = f"{document.original_filename} could not be indexed: {document.error_message}"
    else:
        return False
    adapter = services.adapter_for(upload.platform)
    adapter.post(
        channel_id=upload.channel_id, thread_id=upload.thread_id, part=adapter.render_text(text)
    )
    upload.notified_at = timezone.now()
    upload.save(update_fields=["notified_at"])
    return True
