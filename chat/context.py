"""One chat event being handled, and what every command needs first: who is asking
(a linked member, else their one-time link, privately) and from which workspace (the
channel's mapping, a direct message's default), refusals told to the asker only."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from accounts.audit import AuditContext
from chat import services
from chat.adapters.base import ChatAdapter, Incoming, PlatformError
from chat.models import ChannelMapping, ChatIdentity, ChatPlatform
from workspaces.access import workspace_for
from workspaces.models import Role, Workspace

logger = logging.getLogger(__name__)

# Lazy: read in the language of the person being answered (``chat.language``).
NOT_LINKED = _(
    "To ask OPAA here, link your chat account to your OPAA account first (once): %(url)s\n"
    "The link works for 30 minutes; open it while signed in to OPAA."
)
NOT_MAPPED = _("This channel is not connected to OPAA. An admin can connect it in the portal.")
NO_ACCESS = _("You have no access to the OPAA workspace of this channel.")
NO_WORKSPACE = _("You have no workspace in OPAA yet.")
SWITCHED_OFF = _("This command is switched off here.")
NO_UPLOAD = _("You may not upload documents to %(workspace)s.")
NO_SOURCES = _("There is no answer of mine to you here yet.")


class Context:
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
        text = str(text)  # a lazy string, in the language active now
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

    def post_public(self, text: str) -> None:
        """A notice in the thread, for everyone in it (upload receipts)."""
        text = str(text)
        try:
            self.adapter.post(
                channel_id=self.incoming.channel_id,
                thread_id=self.thread_id,
                part=self.adapter.render_text(text),
            )
        except PlatformError as exc:
            logger.warning("chat %s: could not post: %s", self.platform.kind, exc)


def member(context: Context) -> ChatIdentity | None:
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
    context.tell(NOT_LINKED % {"url": url})
    return None


def workspace_resolve(context: Context, identity: ChatIdentity, role: str) -> Workspace | None:
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
            context.tell(NO_UPLOAD % {"workspace": mapping.workspace.name})
        else:
            context.tell(NO_ACCESS)
    return None


def audit_of(identity: ChatIdentity) -> AuditContext:
    return AuditContext(user_id=identity.user.pk, email=identity.user.email)


def message_of(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(getattr(exc, "message", "") or exc)
