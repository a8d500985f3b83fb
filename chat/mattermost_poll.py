"""The Mattermost bot's direct messages: Mattermost sends outgoing webhooks from public
channels only, so what people write to the bot directly reaches OPAA by no webhook.
The bot reads them itself, every few seconds (beat, ``chat.polling``), through the REST
API: its direct channels with their ``last_post_at`` (``GET /users/me/channels``), then
the new posts of each channel that changed (``GET /channels/{id}/posts?since=``).

Why not the WebSocket API (``/api/v4/websocket``), which Mattermost documents for bots:
it delivers only what happens while a connection is open. Held open, it would hold a
worker slot per organization for good; opened for a moment per tick, it misses every
post made in between, and Mattermost's resumption (``connection_id`` and
``sequence_number``) replays only the last 128 events the server still keeps for a
dropped connection, for about five minutes, counting typing and status events of every
channel the bot is in. The REST reading loses nothing: each channel is read from where
the last reading got to (with a minute's overlap for posts committed late; the event
ids de-duplicate), and it holds a worker for one or two short calls.

Each run is one task per organization under that organization's lock, like Matrix'
``/sync``. The first run only records where each channel is: what was written before
the bot was set up is not answered.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from chat import services
from chat.adapters.mattermost import MattermostAdapter
from chat.models import ChatPlatform, MattermostSync, PlatformKind
from chat.polling import platform_poll_locked
from chat.tasks import chat_event_process
from infra.celery import app
from workspaces.rls.tasks import OrganizationTask

logger = logging.getLogger(__name__)

# Posts are read from this long before where the last reading got to: a post whose
# create_at was taken just before that reading but committed after it is still found.
OVERLAP_MS = 60_000
# At most this many direct channels are read in one run (the others, next run).
CHANNELS_A_RUN = 50


def poll_once(platform: ChatPlatform) -> int:
    """One reading of ``platform``'s direct messages; returns how many were queued."""
    adapter = services.adapter_for(platform)
    if not isinstance(adapter, MattermostAdapter):
        return 0
    state, _ = MattermostSync.objects.get_or_create(platform=platform)
    if not platform.bot_user_id:
        platform.bot_user_id = adapter.bot_identity()[:64]
        platform.save(update_fields=["bot_user_id", "updated_at"])
    channels = adapter.direct_channels()
    if state.baseline_ms is None:  # the first reading: history is not answered
        state.baseline_ms = max(channels.values(), default=0)
        state.channels = channels
        state.synced_at = timezone.now()
        state.save(update_fields=["baseline_ms", "channels", "synced_at"])
        return 0
    read = dict(state.channels)
    changed = [c for c, last in channels.items() if last > read.get(c, state.baseline_ms)]
    queued = 0
    for channel_id in changed[:CHANNELS_A_RUN]:
        # Never before the first reading's newest post: that is history.
        since = max(read.get(channel_id, state.baseline_ms) - OVERLAP_MS, state.baseline_ms + 1)
        for event in adapter.direct_events(channel_id, since, platform.bot_user_id):
            with transaction.atomic():
                if services.event_first_seen(platform=platform, event_id=event.event_id):
                    chat_event_process.delay(platform.pk, event.as_dict())
                    queued += 1
        read[channel_id] = channels[channel_id]
    # Channels the bot left are forgotten.
    state.channels = {c: last for c, last in read.items() if c in channels}
    state.synced_at = timezone.now()
    state.save(update_fields=["channels", "synced_at"])
    return queued


@app.task(base=OrganizationTask, ignore_result=True)
def mattermost_poll() -> int:
    """One reading of this organization's Mattermost direct messages, unless one is
    running."""
    return platform_poll_locked(
        PlatformKind.MATTERMOST,
        "mattermost-poll",
        poll_once,
        "mattermost direct messages not read",
    )
