"""Reads of people, tokens and the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from accounts.audit import AuditAction
from accounts.models import ApiToken, AuditEvent, User


def members_count() -> int:
    """People of the current organization: active accounts, not counting service accounts
    (a service account belongs to an API token, not to a person). Accounts are not under
    row-level security: this is the whole organization."""
    return User.objects.filter(is_active=True, is_service_account=False).count()


def token_by_digest(digest: str) -> ApiToken | None:
    """The token with this digest and its user, in one query."""
    return ApiToken.objects.select_related("user").filter(digest=digest).first()


def tokens_manageable(*, user: User) -> QuerySet[ApiToken]:
    """Tokens ``user`` may see and revoke: their own and the service-account tokens they
    created; the owner sees every token of the organization."""
    tokens = ApiToken.objects.select_related("user")
    if user.is_owner:
        return tokens.all()
    return tokens.filter(Q(user=user) | Q(kind="sat", created_by=user))


@dataclass(frozen=True)
class AuditFilters:
    action: str = ""
    user: str = ""  # an email (exact, case-insensitive) or a user id
    since: datetime | None = None
    until: datetime | None = None


def audit_events(*, filters: AuditFilters) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.all()
    if filters.action:
        events = events.filter(action=filters.action)
    if filters.user:
        if filters.user.isdigit():
            events = events.filter(actor_user_id=int(filters.user))
        else:
            events = events.filter(actor_email__iexact=filters.user)
    if filters.since:
        events = events.filter(created_at__gte=filters.since)
    if filters.until:
        events = events.filter(created_at__lt=filters.until)
    return events


def _moment(value: str, *, name: str, end_of_day: bool) -> datetime | None:
    """An ISO date or date-time; a date alone means the start (or end) of that UTC day."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        moment = parse_datetime(value)
        day = None if moment else parse_date(value)
    except ValueError:
        moment = day = None
    if moment is None:
        if day is None:
            raise ValidationError({name: _("Use an ISO date (2026-11-23) or date-time.")})
        moment = datetime.combine(day, time.min) + (
            timedelta(days=1) if end_of_day else timedelta()
        )
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    return moment


def audit_filters_parse(params) -> AuditFilters:
    """Filters from query parameters ``action``, ``user``, ``since``, ``until``.

    ``until`` given as a date includes that whole day. Raises ValidationError (400).
    """
    action = (params.get("action") or "").strip()
    if action and action not in AuditAction.values:
        raise ValidationError({"action": _("Unknown action.")})
    return AuditFilters(
        action=action,
        user=(params.get("user") or "").strip()[:254],
        since=_moment(params.get("since"), name="since", end_of_day=False),
        until=_moment(params.get("until"), name="until", end_of_day=True),
    )


def tokens_with_workspaces(tokens) -> list[ApiToken]:
    """The tokens, each with ``workspace_slugs`` set (one query for all workspaces)."""
    from workspaces.models import Workspace

    tokens = list(tokens)
    ids = {pk for token in tokens for pk in token.workspace_ids}
    slugs = dict(Workspace.objects.filter(pk__in=ids).values_list("pk", "slug")) if ids else {}
    for token in tokens:
        token.workspace_slugs = sorted(slugs[pk] for pk in token.workspace_ids if pk in slugs)
    return tokens
