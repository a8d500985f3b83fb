"""API tokens: creation (personal and service-account), use, rate limits, revocation."""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_redis import get_redis_connection

from accounts.audit import (
    AuditAction,
    AuditContext,
    audit_pseudonym,
    audit_pseudonymize_user,
    audit_record,
)
from accounts.models import (
    TOKEN_MAX_DAYS_CEILING,
    AccessSettings,
    ApiToken,
    TokenKind,
    User,
)
from accounts.scopes import SERVICE_ACCOUNT_ROLE_FOR_SCOPE, Scope
from accounts.tokens import token_digest, token_display_prefix, token_generate
from infra.schema import schema_current
from workspaces.access import role_in, workspaces_readable
from workspaces.models import ROLE_ORDER, Membership, Role, Workspace

# last-used time and IP are written at most once per this many seconds per token.
LAST_USED_INTERVAL_S = 60
RATE_WINDOW_S = 60
SERVICE_ACCOUNT_DOMAIN = "service-accounts.invalid"


def token_max_days() -> int:
    """The longest lifetime, in days, a new token of this organization may have."""
    return AccessSettings.current().token_max_days or settings.TOKEN_MAX_DAYS


def access_settings_update(*, token_max_days: int | None, audit: AuditContext) -> AccessSettings:
    """Set the organization's maximum token lifetime (None: the installation's default).

    Raises ValidationError (400) outside 1 to ``TOKEN_MAX_DAYS_CEILING`` days. A change is
    recorded in the audit log with the old and new value; a save changing nothing is not.
    Lowering it shortens the tokens that would outlive the new maximum (counted from
    now): they expire at now + the new maximum, like a token made now.
    """
    if token_max_days is not None and not (1 <= token_max_days <= TOKEN_MAX_DAYS_CEILING):
        raise ValidationError(
            {
                "token_max_days": _("Choose 1 to %(count)s days, or leave it empty.")
                % {"count": TOKEN_MAX_DAYS_CEILING}
            }
        )
    with transaction.atomic():
        current = AccessSettings.objects.select_for_update().first() or AccessSettings()
        previous = current.token_max_days
        if current.pk is not None and previous == token_max_days:
            return current
        current.token_max_days = token_max_days
        current.save()
        latest = timezone.now() + timedelta(days=token_max_days or settings.TOKEN_MAX_DAYS)
        shortened = ApiToken.objects.filter(revoked_at__isnull=True, expires_at__gt=latest).update(
            expires_at=latest
        )
        audit_record(
            action=AuditAction.ACCESS_SETTINGS_CHANGED,
            context=audit,
            target_type="access_settings",
            target_id=current.pk,
            extra={"token_max_days": [previous, token_max_days], "tokens_shortened": shortened},
        )
    return current


@dataclass(frozen=True)
class TokenCreated:
    token: ApiToken
    # The token itself: shown to its creator once, never stored.
    secret: str = field(repr=False)


def _validated(
    *,
    creator: User,
    kind: str,
    name: str,
    scopes: list[str],
    workspace_slugs: list[str],
    expires_in_days: int,
) -> tuple[str, list[str], list[Workspace]]:
    errors: dict[str, str] = {}
    name = " ".join((name or "").split())
    if not name or len(name) > 200:
        errors["name"] = _("Give the token a name of 1 to 200 characters.")
    if kind not in TokenKind.values:
        errors["kind"] = _("The kind is 'pat' (personal) or 'sat' (service account).")
    unknown = sorted(set(scopes) - set(Scope.values))
    if not scopes or unknown:
        errors["scopes"] = _("Choose one or more of: %(scopes)s.") % {
            "scopes": ", ".join(Scope.values)
        }
    if kind == TokenKind.SERVICE and Scope.AUDIT_READ in scopes:
        errors["scopes"] = _("Service-account tokens cannot read the audit log.")
    slugs = sorted(set(workspace_slugs))
    workspaces = list(workspaces_readable(creator).filter(slug__in=slugs))
    if not slugs or len(workspaces) != len(slugs):
        missing = sorted(set(slugs) - {w.slug for w in workspaces})
        errors["workspaces"] = (
            _("Choose at least one workspace.")
            if not slugs
            else _("No such workspace: %(slug)s.") % {"slug": missing[0]}
        )
    max_days = token_max_days()
    if not isinstance(expires_in_days, int) or not (1 <= expires_in_days <= max_days):
        errors["expires_in_days"] = _(
            "A token expires after 1 to %(count)s days (required): "
            "this organization allows at most %(count)s."
        ) % {"count": max_days}
    if errors:
        raise ValidationError(errors)
    return name, sorted(set(scopes)), workspaces


def _service_account_create(*, name: str, scopes: list[str], workspaces: list[Workspace]) -> User:
    account = User.objects.create_user(
        f"sa-{secrets.token_hex(6)}@{SERVICE_ACCOUNT_DOMAIN}",
        None,  # an unusable password: it never signs in
        full_name=name,
        is_service_account=True,
    )
    needed = [SERVICE_ACCOUNT_ROLE_FOR_SCOPE.get(Scope(s), Role.VIEWER) for s in scopes]
    role = max(needed, key=lambda r: ROLE_ORDER.index(Role(r)))
    Membership.objects.bulk_create(
        Membership(workspace=w, user=account, role=role) for w in workspaces
    )
    return account


def token_create(
    *,
    creator: User,
    kind: str,
    name: str,
    scopes: list[str],
    workspace_slugs: list[str],
    expires_in_days: int,
    audit: AuditContext,
) -> TokenCreated:
    """Create a token bound to workspaces of the creator's; the secret is returned once.

    A personal token acts as its creator. A service-account token acts as a new service
    account holding, in each bound workspace, the role its scopes need; only an admin of
    every bound workspace (or the owner) may create one. Raises ValidationError (400) for
    bad input and PermissionDenied (403) for a creator who may not.
    """
    if creator.is_service_account:
        raise PermissionDenied(_("Service accounts cannot create tokens."))
    name, scopes, workspaces = _validated(
        creator=creator,
        kind=kind,
        name=name,
        scopes=scopes,
        workspace_slugs=workspace_slugs,
        expires_in_days=expires_in_days,
    )
    if kind == TokenKind.SERVICE and any(role_in(creator, w) != Role.ADMIN for w in workspaces):
        raise PermissionDenied(_("Service-account tokens need the admin role in every workspace."))
    secret = token_generate(kind)
    with transaction.atomic():
        owner = (
            _service_account_create(name=name, scopes=scopes, workspaces=workspaces)
            if kind == TokenKind.SERVICE
            else creator
        )
        token = ApiToken.objects.create(
            user=owner,
            created_by=creator,
            kind=kind,
            name=name,
            prefix=token_display_prefix(secret),
            digest=token_digest(secret),
            scopes=scopes,
            workspace_ids=[w.pk for w in workspaces],
            expires_at=timezone.now() + timedelta(days=expires_in_days),
        )
        audit_record(
            action=AuditAction.TOKEN_CREATED,
            context=audit,
            target_type="token",
            target_id=token.pk,
            extra={
                "kind": kind,
                "name": name,
                "scopes": scopes,
                "workspaces": [w.slug for w in workspaces],
                "expires_at": token.expires_at.isoformat(),
            },
        )
    return TokenCreated(token=token, secret=secret)


def token_revoke(*, token: ApiToken, audit: AuditContext) -> None:
    """Revoke ``token``; it fails from the next request on. Idempotent."""
    with transaction.atomic():
        changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if changed:
            audit_record(
                action=AuditAction.TOKEN_REVOKED,
                context=audit,
                target_type="token",
                target_id=token.pk,
                extra={"name": token.name},
            )


def _key(token: ApiToken, what: str) -> str:
    # Per organization and per token (the digest, unlike the id, is never reused).
    return f"{what}:{schema_current()}:{token.digest[:32]}"


def token_rate_limit(*, token: ApiToken) -> int | None:
    """Count one request of ``token``; the seconds to wait when over the limit, else None.

    A fixed one-minute window counted with an atomic Redis INCR (shared by every web
    process); the key expires on its own after the window.
    """
    now = time.time()
    window = int(now // RATE_WINDOW_S)
    key = f"opaa:{_key(token, 'token-rate')}:{window}"
    pipe = get_redis_connection("default").pipeline()
    pipe.incr(key)
    pipe.expire(key, RATE_WINDOW_S * 2)
    count, _expiry = pipe.execute()
    if count > settings.TOKEN_RATE_LIMIT_PER_MINUTE:
        return max(1, math.ceil((window + 1) * RATE_WINDOW_S - now))
    return None


def token_used(*, token: ApiToken, audit: AuditContext) -> None:
    """Note that ``token`` was used: last-used time and IP, and a ``token.used`` event.

    At most once a minute per token: an atomic Redis SET NX gates the write, so busy
    tokens do not write a row per request.
    """
    if not cache.add(_key(token, "token-used"), 1, timeout=LAST_USED_INTERVAL_S):
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now(), last_used_ip=audit.ip)
    audit_record(
        action=AuditAction.TOKEN_USED, context=audit, target_type="token", target_id=token.pk
    )


def _sessions_delete(user_id: int) -> int:
    """Delete the user's sessions in this organization (signs them out everywhere)."""
    from django.contrib.sessions.models import Session

    doomed = [
        session.pk
        for session in Session.objects.iterator()
        if str(session.get_decoded().get("_auth_user_id")) == str(user_id)
    ]
    Session.objects.filter(pk__in=doomed).delete()
    return len(doomed)


def _token_keys_delete(tokens: list[ApiToken]) -> None:
    """Delete the Redis counters of ``tokens`` (last-used gate and rate windows)."""
    redis = get_redis_connection("default")
    for token in tokens:
        cache.delete(_key(token, "token-used"))
        for key in redis.scan_iter(match=f"opaa:{_key(token, 'token-rate')}:*", count=500):
            redis.delete(key)


def user_erasable_check(*, user: User) -> None:
    """Raise ValidationError if ``user`` may not be erased: the organization's only owner
    (delete the organization instead)."""
    if (
        user.is_owner
        and not User.objects.filter(is_owner=True, is_active=True).exclude(pk=user.pk).exists()
    ):
        raise ValidationError(
            {"user": _("The organization's only owner cannot be erased; delete the organization.")}
        )


def user_delete(*, user: User, audit: AuditContext | None = None) -> str:
    """Delete a person's account, sessions, memberships, sign-in identities, API tokens
    (and their Redis counters once committed) and feedback; returns their audit pseudonym.

    The accounts half of erasing a person (``opaa.actions.erasure.user_erase`` runs the
    whole of it in one transaction): the audit log keeps its events with the person
    replaced by a keyed pseudonym (``accounts.audit.audit_pseudonymize_user``), and a
    ``user.erased`` event records the erasure itself. Call inside a transaction.
    """
    user_erasable_check(user=user)
    tokens = list(ApiToken.objects.filter(user=user))
    user_id, email = user.pk, user.email
    _sessions_delete(user_id)
    user.delete()  # memberships, tokens, identities, feedback: ON DELETE CASCADE
    # Recorded first, so a self-erasure's own event is pseudonymized with the rest.
    audit_record(
        action=AuditAction.USER_ERASED,
        context=audit,
        target_type="user",
        target_id=user_id,
        extra={"pseudonym": audit_pseudonym(user_id=user_id)},
    )
    pseudonym = audit_pseudonymize_user(user_id=user_id, email=email)
    transaction.on_commit(lambda: _token_keys_delete(tokens))
    return pseudonym
