"""Chat configuration and identities: saving a platform (secrets encrypted), mapping
channels to workspaces, linking chat users to members, the test message.

Secrets are encrypted with ``infra.crypto`` and never returned, shown or logged; the
audit log records which secrets changed, never their values.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import AuditAction, AuditContext, audit_record
from accounts.models import User
from chat.adapters import SECRETS, adapter_class
from chat.adapters.base import ChatAdapter, PlatformError
from chat.adapters.slack import slack_url_check
from chat.models import (
    ChannelMapping,
    ChatEventSeen,
    ChatIdentity,
    ChatPlatform,
    Command,
    PlatformKind,
)
from chat.polling import polled_organizations_forget
from infra.crypto import SecretUnreadable, decrypt, encrypt
from infra.outbound import OutboundRefused, url_check
from workspaces.models import Workspace

logger = logging.getLogger(__name__)

# Audit actions of the chat app (named in accounts.audit.AuditAction: the audit log lists them).
AUDIT_SETTINGS_CHANGED = AuditAction.CHAT_SETTINGS_CHANGED
AUDIT_CHANNEL_MAPPED = AuditAction.CHAT_CHANNEL_MAPPED
AUDIT_CHANNEL_UNMAPPED = AuditAction.CHAT_CHANNEL_UNMAPPED
AUDIT_LINKED = AuditAction.CHAT_IDENTITY_LINKED
AUDIT_QUESTION = AuditAction.CHAT_QUESTION
AUDIT_UPLOAD = AuditAction.CHAT_UPLOAD

# How long a one-time link works: long enough to sign in first, short enough that an
# old message in someone's history is useless.
LINK_TTL = timedelta(minutes=30)
# Slack retries for about an hour at most; remembering event ids for a day is plenty.
EVENTS_REMEMBERED = timedelta(days=1)
DEFAULT_API_URL: dict[str, str] = {
    PlatformKind.SLACK.value: "https://slack.com/api/",
    PlatformKind.TEAMS.value: "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token",
}


# --- platforms -------------------------------------------------------------------------


def platform_secrets(platform: ChatPlatform) -> dict[str, str]:
    """The platform's secrets, decrypted (empty when none or unreadable: the owner
    enters them again)."""
    if not platform.secrets_encrypted:
        return {}
    try:
        return json.loads(decrypt(platform.secrets_encrypted))
    except (SecretUnreadable, ValueError):
        logger.warning("chat platform %s: stored secrets unreadable", platform.kind)
        return {}


def secrets_stored(platform: ChatPlatform) -> set[str]:
    """The names of the secrets that are set (for the form: "stored", never the value)."""
    return {name for name, value in platform_secrets(platform).items() if value}


def adapter_for(platform: ChatPlatform) -> ChatAdapter:
    return adapter_class(platform.kind)(platform, platform_secrets(platform))


def platform_save(
    *,
    kind: str,
    enabled: bool,
    team_id: str,
    api_url: str,
    commands: list[str],
    new_secrets: dict[str, str],
    portal_url: str,
    audit: AuditContext,
) -> ChatPlatform:
    """Create or change the organization's ``kind`` platform. A secret left empty in
    ``new_secrets`` keeps its stored value. Audited with the names of what changed."""
    if kind not in PlatformKind.values:
        raise ValidationError({"kind": _("Unknown chat platform.")})
    unknown = set(commands) - set(Command.values)
    if unknown:
        raise ValidationError(
            {"commands": _("Unknown commands: %(names)s.") % {"names": ", ".join(sorted(unknown))}}
        )
    api_url = (api_url or DEFAULT_API_URL.get(kind, "")).strip()
    if not api_url.startswith(("https://", "http://")):
        raise ValidationError({"api_url": _("Enter the server's address (https://…).")})
    try:
        if kind == PlatformKind.SLACK:
            slack_url_check(api_url)
        else:
            url_check(api_url)
    except (OutboundRefused, PlatformError) as exc:
        raise ValidationError({"api_url": str(exc)}) from exc
    platform = ChatPlatform.objects.filter(kind=kind).first() or ChatPlatform(kind=kind)
    stored = platform_secrets(platform) if platform.pk else {}
    changed = sorted(name for name, value in new_secrets.items() if value and name in SECRETS[kind])
    merged = {**stored, **{name: new_secrets[name].strip() for name in changed}}
    if kind == PlatformKind.MATTERMOST and not merged.get("action_secret"):
        # Signs the feedback buttons' context (Mattermost signs nothing itself).
        merged["action_secret"] = secrets.token_urlsafe(32)
    platform.enabled = enabled
    platform.team_id = team_id.strip()
    platform.api_url = api_url
    platform.commands = sorted(set(commands))
    platform.portal_url = portal_url
    platform.secrets_encrypted = encrypt(json.dumps(merged))
    with transaction.atomic():
        platform.save()
        polled_organizations_forget()  # Matrix or Mattermost on/off: beat lists again
        audit_record(
            action=AUDIT_SETTINGS_CHANGED,
            context=audit,
            target_type="chat_platform",
            target_id=platform.pk,
            extra={"kind": kind, "enabled": enabled, "secrets_changed": changed},
        )
    return platform


def platform_get(kind: str) -> ChatPlatform | None:
    return ChatPlatform.objects.filter(kind=kind).first()


def test_message_send(*, platform: ChatPlatform, channel_id: str) -> str:
    """Post a test message to ``channel_id``; returns what to tell the admin. Learns the
    bot's own user id on the way (so its messages are never taken as questions)."""
    channel_id = channel_id.strip()
    if not channel_id:
        raise ValidationError({"channel": _("Enter a channel id.")})
    adapter = adapter_for(platform)
    try:
        bot = adapter.bot_identity()
        adapter.post(
            channel_id=channel_id,
            thread_id="",
            part=adapter.render_text(_("OPAA is connected. Mention me with a question.")),
        )
    except PlatformError as exc:
        raise ValidationError(
            {"channel": _("The test message failed: %(error)s") % {"error": exc}}
        ) from exc
    if bot and platform.bot_user_id != bot:
        platform.bot_user_id = bot
        platform.save(update_fields=["bot_user_id", "updated_at"])
    return _("Test message sent to %(channel)s.") % {"channel": channel_id}


# --- channels --------------------------------------------------------------------------


def mapping_add(
    *,
    platform: ChatPlatform,
    channel_id: str,
    name: str,
    workspace: Workspace,
    audit: AuditContext,
) -> ChannelMapping:
    """Answer ``channel_id``'s questions from ``workspace`` (a channel maps to one)."""
    channel_id = channel_id.strip()
    if not channel_id or len(channel_id) > 64:
        raise ValidationError({"channel_id": _("Enter the channel's id (up to 64 characters).")})
    try:
        with transaction.atomic():
            mapping = ChannelMapping.objects.create(
                platform=platform,
                channel_id=channel_id,
                name=name.strip()[:200],
                workspace=workspace,
            )
            audit_record(
                action=AUDIT_CHANNEL_MAPPED,
                context=audit,
                target_type="chat_channel",
                target_id=mapping.pk,
                extra={"kind": platform.kind, "channel": channel_id, "workspace": workspace.slug},
            )
    except IntegrityError as exc:
        raise ValidationError(
            {"channel_id": _("This channel is already connected to a workspace.")}
        ) from exc
    return mapping


def mapping_delete(*, mapping: ChannelMapping, audit: AuditContext) -> None:
    with transaction.atomic():
        audit_record(
            action=AUDIT_CHANNEL_UNMAPPED,
            context=audit,
            target_type="chat_channel",
            target_id=mapping.pk,
            extra={"channel": mapping.channel_id, "workspace": mapping.workspace.slug},
        )
        mapping.delete()


# --- events ----------------------------------------------------------------------------


def event_first_seen(*, platform: ChatPlatform, event_id: str) -> bool:
    """True the first time ``event_id`` arrives; False for a retry or a replay."""
    ChatEventSeen.objects.filter(
        platform=platform, received_at__lt=timezone.now() - EVENTS_REMEMBERED
    ).delete()
    try:
        with transaction.atomic():
            ChatEventSeen.objects.create(platform=platform, event_id=event_id[:128])
    except IntegrityError:
        return False
    return True


# --- identities ------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def identity_get(*, platform: ChatPlatform, external_id: str, name: str = "") -> ChatIdentity:
    identity, _created = ChatIdentity.objects.get_or_create(
        platform=platform, external_id=external_id, defaults={"display_name": name[:200]}
    )
    return identity


def identity_link(
    *, identity: ChatIdentity, user: User, linked_by: str, audit: AuditContext
) -> ChatIdentity:
    """Link the chat user to ``user``; audited. A pending one-time link stops working."""
    with transaction.atomic():
        identity.user = user
        identity.linked_by = linked_by
        identity.linked_at = timezone.now()
        identity.link_token_hash = ""
        identity.link_expires_at = None
        identity.save(
            update_fields=["user", "linked_by", "linked_at", "link_token_hash", "link_expires_at"]
        )
        audit_record(
            action=AUDIT_LINKED,
            context=audit,
            target_type="chat_identity",
            target_id=identity.pk,
            extra={
                "kind": identity.platform.kind,
                "chat_user": identity.external_id,
                "by": linked_by,
            },
        )
    return identity


def identity_by_email(*, identity: ChatIdentity, email: str | None) -> ChatIdentity:
    """Link by an email the platform vouches for, when it is an active member's."""
    if not email:
        return identity
    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is None:
        return identity
    return identity_link(
        identity=identity,
        user=user,
        linked_by="email",
        audit=AuditContext(user_id=user.pk, email=user.email),
    )


def link_token_issue(*, identity: ChatIdentity) -> str:
    """A new one-time link token for ``identity`` (the previous one stops working)."""
    token = secrets.token_urlsafe(32)
    identity.link_token_hash = _token_hash(token)
    identity.link_expires_at = timezone.now() + LINK_TTL
    identity.save(update_fields=["link_token_hash", "link_expires_at"])
    return token


def identity_for_link(token: str) -> ChatIdentity | None:
    """The identity a one-time link token is for, while it is valid."""
    if not token:
        return None
    return (
        ChatIdentity.objects.filter(
            link_token_hash=_token_hash(token), link_expires_at__gt=timezone.now()
        )
        .select_related("platform")
        .first()
    )


def link_complete(*, token: str, user: User, audit: AuditContext) -> ChatIdentity | None:
    """Link the chat user of ``token`` to the signed-in ``user``; None when the link is
    unknown, used or expired."""
    with transaction.atomic():
        identity = identity_for_link(token)
        if identity is None:
            return None
        identity = ChatIdentity.objects.select_for_update().get(pk=identity.pk)
        if identity.link_token_hash != _token_hash(token):
            return None
        return identity_link(identity=identity, user=user, linked_by="link", audit=audit)
