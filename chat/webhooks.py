"""The URLs chat platforms call: verify, parse, remember the event, acknowledge at once.

Everything slow (identity lookups, answering, posting) happens in Celery
(``chat.tasks.chat_event_process``), so Slack's 3-second deadline is kept. A request
that is not the platform's (bad signature or token, expired timestamp, another team)
is refused with 401/403 and nothing is queued; a retry or replay of an event already
taken is acknowledged and dropped.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from chat import services
from chat.adapters.base import RequestRefused
from chat.models import ChatPlatform
from chat.tasks import chat_event_process

logger = logging.getLogger(__name__)


def _receive(request, kind: str, endpoint: str) -> HttpResponse:
    platform = ChatPlatform.objects.filter(kind=kind, enabled=True).first()
    if platform is None:
        return HttpResponse(status=404)
    adapter = services.adapter_for(platform)
    try:
        adapter.verify(request, endpoint)
        parsed = adapter.parse(request, endpoint)
    except RequestRefused as exc:
        logger.info("chat %s %s refused: %s", kind, endpoint, exc)
        return HttpResponse(status=exc.status)
    for event in parsed.events:
        # Sent inside the transaction that remembers the event, not after it: when the
        # broker is down the send fails, the event is forgotten again and the request
        # answers 503, so the platform's retry is taken. (The task reads nothing this
        # transaction writes; a duplicate after a failed commit resumes the same
        # ChatAnswer, keyed by the event id.)
        with transaction.atomic():
            first = services.event_first_seen(platform=platform, event_id=event.event_id)
            if first:
                chat_event_process.delay(platform.pk, event.as_dict())
        if not first:
            logger.info(
                "chat %s: event already taken (retry %s)",
                kind,
                request.headers.get("X-Slack-Retry-Num", "-"),
            )
    return parsed.response


def _endpoint(kind: str, endpoint: str):
    @csrf_exempt
    @require_POST
    def view(request):
        return _receive(request, kind, endpoint)

    view.__name__ = f"{kind}_{endpoint}"
    view.__doc__ = f"{kind}: the {endpoint} endpoint (verified by the adapter)."
    return view


slack_events = _endpoint("slack", "events")
slack_commands = _endpoint("slack", "commands")
slack_interactivity = _endpoint("slack", "interactivity")
mattermost_command = _endpoint("mattermost", "command")
mattermost_webhook = _endpoint("mattermost", "webhook")
mattermost_actions = _endpoint("mattermost", "actions")
teams_messages = _endpoint("teams", "messages")
