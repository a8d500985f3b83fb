"""The weekly email of new knowledge gaps, for the workspace admins who opted in."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import urlencode
from django.utils.translation import ngettext

from accounts.models import User
from analytics.groups import knowledge_gaps
from analytics.models import GapDigestSubscription
from analytics.period import Period
from analytics.scope import AnalyticsScope
from workspaces.access import role_in
from workspaces.models import Role, Workspace

logger = logging.getLogger(__name__)

# A gap is "new" when its first question was asked in the last week; earlier weeks are
# looked at too, so that a gap asked about for a month is not new again every week.
NEW_DAYS = 7
LOOKBACK_DAYS = 28
# Sent at most once in this time, however often the task runs (beat, a retry, by hand).
RESEND_AFTER = dt.timedelta(days=6)
GAPS_LISTED = 10


def digest_subscribe(*, workspace: Workspace, user: User, base_url: str, on: bool) -> None:
    """Turn the weekly gap email for ``user`` in ``workspace`` on or off (idempotent)."""
    if on:
        GapDigestSubscription.objects.update_or_create(
            workspace=workspace, user=user, defaults={"base_url": base_url[:300]}
        )
    else:
        GapDigestSubscription.objects.filter(workspace=workspace, user=user).delete()


def digest_subscribed(*, workspace: Workspace, user: User) -> bool:
    return GapDigestSubscription.objects.filter(workspace=workspace, user=user).exists()


def gaps_digest_send(*, now: dt.datetime | None = None) -> int:
    """Email each subscribed admin of this organization the new gaps of the past week;
    returns how many emails were sent. A subscriber who no longer administers the
    workspace gets none. Idempotent: a subscription emailed less than ``RESEND_AFTER``
    ago is skipped, so a second run (or a retry) sends nothing twice."""
    now = now or timezone.now()
    utc = ZoneInfo("UTC")
    today = now.astimezone(utc).date()
    period = Period(first=today - dt.timedelta(days=LOOKBACK_DAYS - 1), last=today, tz=utc)
    since = now - dt.timedelta(days=NEW_DAYS)
    sent = 0
    subscriptions = GapDigestSubscription.objects.select_related("workspace", "user").order_by("pk")
    gaps_of: dict[int, list] = {}
    for subscription in subscriptions:
        if subscription.last_sent_at and now - subscription.last_sent_at < RESEND_AFTER:
            continue
        user, workspace = subscription.user, subscription.workspace
        if not user.is_active or role_in(user, workspace) != Role.ADMIN:
            continue
        if workspace.pk not in gaps_of:
            scope = AnalyticsScope([workspace], False, settings.AUDIT_RECORD_QUESTION_TEXT)
            grouping = knowledge_gaps(scope=scope, period=period)
            gaps_of[workspace.pk] = [
                g for g in grouping.groups if g.status != "resolved" and g.first_asked >= since
            ][:GAPS_LISTED]
        gaps = gaps_of[workspace.pk]
        if gaps:
            link = subscription.base_url.rstrip("/") + reverse("analytics:gaps")
            link += "?" + urlencode({"workspace": workspace.slug, "days": 7})
            # In the recipient's language (their setting; else the installation's).
            with translation.override(user.language or settings.LANGUAGE_CODE):
                subject = ngettext(
                    "OPAA: %(count)s new knowledge gap in %(workspace)s",
                    "OPAA: %(count)s new knowledge gaps in %(workspace)s",
                    len(gaps),
                ) % {"count": len(gaps), "workspace": workspace.name}
                message = render_to_string(
                    "analytics/digest_email.txt",
                    {"gaps": gaps, "workspace": workspace, "link": link},
                )
            send_mail(
                subject=subject, message=message, from_email=None, recipient_list=[user.email]
            )
            sent += 1
        # Also when there was nothing new: the week is done for this subscriber.
        subscription.last_sent_at = now
        subscription.save(update_fields=["last_sent_at"])
    logger.info("gap digests sent: %d", sent)
    return sent
