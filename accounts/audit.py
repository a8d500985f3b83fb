"""Recording the audit log: the one function every part of OPAA calls to append an event.

Events are written in the current organization's schema (the public schema for the
platform operators' admin), inside the caller's transaction: an action whose event
cannot be written fails with it, and an action rolled back leaves no event.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, models, transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import ApiToken, AuditEvent, User

logger = logging.getLogger(__name__)


class AuditAction(models.TextChoices):
    SIGNIN_SUCCEEDED = "signin.succeeded", _("Signed in")
    SIGNIN_FAILED = "signin.failed", _("Sign-in failed")
    TOKEN_CREATED = "token.created", _("Token created")
    TOKEN_USED = "token.used", _("Token used")
    TOKEN_REVOKED = "token.revoked", _("Token revoked")
    MEMBERSHIP_CREATED = "membership.created", _("Membership created")
    MEMBERSHIP_CHANGED = "membership.changed", _("Membership role changed")
    MEMBERSHIP_DELETED = "membership.deleted", _("Membership deleted")
    MEMBER_INVITED = "member.invited", _("Member invited")
    MEMBER_INVITATION_RESENT = "member.invitation_resent", _("Invitation sent again")
    MEMBER_INVITATION_WITHDRAWN = "member.invitation_withdrawn", _("Invitation withdrawn")
    ACCESS_SETTINGS_CHANGED = "access_settings.changed", _("Access settings changed")
    SSO_SETTINGS_CHANGED = "sso_settings.changed", _("SSO settings changed")
    SOURCE_CREATED = "source.created", _("Source created")
    SOURCE_CHANGED = "source.changed", _("Source changed")
    SOURCE_SYNC_REQUESTED = "source.sync_requested", _("Source sync requested")
    WORKSPACE_REINDEX_REQUESTED = "workspace.reindex_requested", _("Workspace re-index requested")
    WORKSPACE_CREATED = "workspace.created", _("Workspace created")
    WORKSPACE_RENAMED = "workspace.renamed", _("Workspace renamed")
    WORKSPACE_ARCHIVED = "workspace.archived", _("Workspace archived")
    WORKSPACE_RESTORED = "workspace.restored", _("Workspace restored")
    WORKSPACE_DELETED = "workspace.deleted", _("Workspace deleted")
    DOCUMENT_REINDEX_REQUESTED = "document.reindex_requested", _("Document re-index requested")
    ADMIN_ACTION = "admin.action", _("Admin: action run")
    DOCUMENT_UPLOADED = "document.uploaded", _("Document uploaded")
    DOCUMENT_DELETED = "document.deleted", _("Document deleted")
    DOCUMENT_READERS_CHANGED = "document.readers_changed", _("Document readers changed")
    DOCUMENT_SHARED = "document.shared", _("Document shared into a workspace")
    DOCUMENT_UNSHARED = "document.unshared", _("Document unshared")
    DOCUMENT_SHARE_REMOVED = "document.share_removed", _("Shared document removed by the target")
    DOCUMENT_SHARE_ENDED = "document.share_ended", _("Share ended (sharer no longer editor)")
    GROUP_CREATED = "group.created", _("Group created")
    GROUP_CHANGED = "group.changed", _("Group changed")
    GROUP_DELETED = "group.deleted", _("Group deleted")
    GROUP_MEMBER_ADDED = "group.member_added", _("Group member added")
    GROUP_MEMBER_REMOVED = "group.member_removed", _("Group member removed")
    GROUP_ROLE_CHANGED = "group.role_changed", _("Group role in a workspace changed")
    DOCUMENT_OPENED = "document.opened", _("Document opened")
    DOCUMENT_EMBEDDING_GIVEN_UP = (
        "document.embedding_given_up",
        _("Document's embedding given up (searchable by keyword)"),
    )
    DOCUMENT_DOWNLOADED = "document.downloaded", _("Original downloaded")
    SEARCH = "search.performed", _("Searched")
    QUESTION = "question.asked", _("Asked a question")
    ADMIN_ADDED = "admin.added", _("Admin: object added")
    ADMIN_CHANGED = "admin.changed", _("Admin: object changed")
    ADMIN_DELETED = "admin.deleted", _("Admin: object deleted")
    SOURCE_DELETED = "source.deleted", _("Source deleted")
    USER_ERASED = "user.erased", _("User erased")
    ORGANIZATION_DELETED = "organization.deleted", _("Organization deleted")
    ORGANIZATION_RESTORED = "organization.restored", _("Organization restored from a backup")
    CHAT_SETTINGS_CHANGED = "chat.settings_changed", _("Chat platform settings changed")
    CHAT_CHANNEL_MAPPED = "chat.channel_mapped", _("Chat channel connected to a workspace")
    CHAT_CHANNEL_UNMAPPED = "chat.channel_unmapped", _("Chat channel disconnected")
    CHAT_IDENTITY_LINKED = "chat.identity_linked", _("Chat account linked")
    CHAT_QUESTION = "chat.question", _("Asked in a chat")
    CHAT_UPLOAD = "chat.upload", _("Uploaded from a chat")
    ANSWER_QUALITY_DROPPED = "answer_quality.dropped", _("Answer quality dropped")


USER_AGENT_MAX = 500


@dataclass(frozen=True)
class AuditContext:
    """Who did it and from where; built once per request by ``audit_context``."""

    user_id: int | None = None
    email: str = ""
    token_id: int | None = None
    ip: str | None = None
    user_agent: str = ""


def _client_ip(meta) -> str | None:
    # REMOTE_ADDR only: a forwarded header is trustworthy only behind a known proxy,
    # which the deployment configures (it rewrites REMOTE_ADDR).
    value = (meta.get("REMOTE_ADDR") or "").strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def audit_context(
    request, *, user: User | None = None, token: ApiToken | None = None
) -> AuditContext:
    """The actor of ``request`` (a Django or DRF request); ``user``/``token`` override it
    (the token authentication passes both: the request is not authenticated yet)."""
    meta = getattr(request, "META", {}) if request is not None else {}
    actor = user or getattr(request, "user", None)
    if token is None and user is None and request is not None:
        token = getattr(request, "auth", None)
    signed_in = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditContext(
        user_id=actor.pk if signed_in else None,
        email=actor.email if signed_in else "",
        token_id=token.pk if isinstance(token, ApiToken) else None,
        ip=_client_ip(meta),
        user_agent=(meta.get("HTTP_USER_AGENT") or "")[:USER_AGENT_MAX],
    )


def audit_record(
    *,
    action: str,
    context: AuditContext | None,
    target_type: str = "",
    target_id: object = "",
    extra: dict | None = None,
) -> AuditEvent:
    """Append one event to the current organization's audit log."""
    context = context or AuditContext()
    return AuditEvent.objects.create(
        action=action,
        actor_user_id=context.user_id,
        actor_email=context.email,
        actor_token_id=context.token_id,
        target_type=target_type,
        target_id=str(target_id if target_id is not None else "")[:64],
        ip=context.ip,
        user_agent=context.user_agent,
        organization=connection.schema_name,
        extra=extra or {},
    )


def audit_source(*, action: str, request, source, **extra) -> AuditEvent:
    """A source (connector) was created, changed or asked to sync, by ``request``'s caller.

    Records the workspace and name with ``extra``; never the connector's secrets.
    """
    return audit_record(
        action=action,
        context=audit_context(request),
        target_type="source",
        target_id=source.pk,
        extra={"workspace": source.workspace.slug, "name": source.name, **extra},
    )


def question_extra(text: str, **more) -> dict:
    """What the log keeps of a question or search: its text only if policy allows."""
    if settings.AUDIT_RECORD_QUESTION_TEXT:
        return {"text": text, **more}
    return {"text_chars": len(text), **more}


def audit_signin_succeeded(*, request, user: User) -> None:
    audit_record(
        action=AuditAction.SIGNIN_SUCCEEDED,
        context=audit_context(request, user=user),
        target_type="user",
        target_id=user.pk,
    )


def audit_signin_failed(*, request, email: str) -> None:
    """A failed sign-in; only the email tried is kept (Django cleanses the password).

    Reads only the request's headers: during a DRF authentication ``request.user``
    would authenticate again (and fail again, recursively).
    """
    meta = getattr(request, "META", {}) if request is not None else {}
    audit_record(
        action=AuditAction.SIGNIN_FAILED,
        context=AuditContext(
            ip=_client_ip(meta),
            user_agent=(meta.get("HTTP_USER_AGENT") or "")[:USER_AGENT_MAX],
            email=email[:254],
        ),
        extra={"email": email[:254]},
    )


def audit_pseudonym(*, user_id: int) -> str:
    """The stable stand-in for an erased user in their organization's audit log.

    A keyed hash (SECRET_KEY) of the organization and the user's id: every event of one
    erased person still reads as the same actor, but nobody without the key can tell
    who it was, and the key never leaves the installation.
    """
    message = f"{connection.schema_name}:{user_id}".encode()
    digest = hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()
    return f"erased-{digest[:16]}"


# The log's trigger (search migration 0008) lets an UPDATE through only while this
# transaction-local setting is on, and only if action, time, target and organization
# stay as they were: erasure may blank who and what, never rewrite what happened.
_ERASURE_ON = "SELECT set_config('opaa.audit_erasure', 'on', true)"
_ERASURE_OFF = "SELECT set_config('opaa.audit_erasure', 'off', true)"


def audit_pseudonymize_user(*, user_id: int, email: str) -> str:
    """Replace a person's identity in the audit log with ``audit_pseudonym``; returns it.

    Their events keep action, time and targets; the email (as actor and anywhere in the
    details), IP address, user agent and any recorded question text go. Runs in the
    caller's transaction.
    """
    pseudonym = audit_pseudonym(user_id=user_id)
    email = email.strip().lower()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_ERASURE_ON)
        cursor.execute(
            """
            UPDATE accounts_auditevent
               SET actor_email = %(pseudonym)s, ip = NULL, user_agent = '',
                   extra = extra - 'text'
             WHERE actor_user_id = %(user_id)s OR lower(actor_email) = %(email)s
            """,
            {"pseudonym": pseudonym, "user_id": user_id, "email": email},
        )
        cursor.execute(
            """
            UPDATE accounts_auditevent
               SET extra = regexp_replace(extra::text, %(pattern)s, %(pseudonym)s, 'gi')::jsonb
             WHERE extra::text ~* %(pattern)s
            """,
            {"pseudonym": pseudonym, "pattern": re.escape(email)},
        )
        cursor.execute(_ERASURE_OFF)
    return pseudonym


def audit_pseudonymize_target(*, target_type: str, target_id: object, fields: list[str]) -> None:
    """Drop ``fields`` (e.g. a document's title) from the details of events about a target."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_ERASURE_ON)
        cursor.execute(
            """
            UPDATE accounts_auditevent SET extra = extra - %(fields)s::text[]
             WHERE target_type = %(type)s AND target_id = %(id)s AND extra ?| %(fields)s::text[]
            """,
            {"type": target_type, "id": str(target_id), "fields": fields},
        )
        cursor.execute(_ERASURE_OFF)
