"""The Matrix bot's ``/sync``: Matrix calls nobody, so OPAA asks each organization's
homeserver for new events, every few seconds (beat: ``matrix_sync_all``).

Fairness: ``matrix_sync_all`` only sends one ``matrix_sync`` task per organization with
Matrix on; each runs one short ``/sync`` (no long poll: ``timeout=0``, a 10-second HTTP
timeout) under a lock of its own organization, so a slow or dead homeserver holds one
worker slot for at most that long and never delays another organization's sync, and two
runs of the same organization never overlap (the second returns at once). The events
found go the way every platform's go: remembered once (``event_first_seen``) and
handed to ``chat_event_process``. The first sync only records where to go on from:
what was said before the bot was set up is not answered. An encrypted room (or one
that becomes encrypted) gets one message saying the bot cannot read it, and the bot
leaves it: it holds no encryption keys.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from chat import services
from chat.adapters.base import PlatformError
from chat.adapters.matrix import MatrixAdapter
from chat.models import ChatPlatform, MatrixSync, PlatformKind
from chat.polling import platform_poll_locked
from chat.tasks import chat_event_process
from infra.celery import app
from workspaces.rls.tasks import OrganizationTask

logger = logging.getLogger(__name__)

ENCRYPTED = gettext_lazy(
    "I cannot read encrypted rooms, so I am leaving this one. Ask me in a room without "
    "encryption, or in a direct chat with encryption turned off."
)


def sync_once(platform: ChatPlatform) -> int:
    """One ``/sync`` of ``platform``'s bot: joins the rooms it is invited to, queues the
    questions and feedback; returns how many events were queued."""
    adapter = services.adapter_for(platform)
    if not isinstance(adapter, MatrixAdapter):
        return 0
    state, _ = MatrixSync.objects.get_or_create(platform=platform)
    if not platform.bot_user_id:
        platform.bot_user_id = adapter.bot_identity()[:64]
        platform.save(update_fields=["bot_user_id", "updated_at"])
    sync = adapter.sync(state.next_batch)
    for room_id, room in ((sync.get("rooms") or {}).get("invite") or {}).items():
        try:
            adapter.join(room_id)
            inviter = _direct_inviter(room, platform.bot_user_id)
            if inviter:
                adapter.direct_add(inviter, room_id)
        except PlatformError as exc:
            logger.info("matrix: could not join %s: %s", room_id, exc)
    queued = 0
    joined = (sync.get("rooms") or {}).get("join") or {}
    for room_id in adapter.encrypted_rooms(sync):
        joined.pop(room_id, None)
        _encrypted_leave(adapter, room_id)
    if state.next_batch and joined:
        direct = {r for rooms in adapter.direct_rooms().values() for r in rooms}
        for event in adapter.events_of(sync, platform.bot_user_id, direct):
            with transaction.atomic():
                if services.event_first_seen(platform=platform, event_id=event.event_id):
                    chat_event_process.delay(platform.pk, event.as_dict())
                    queued += 1
    state.next_batch = str(sync.get("next_batch") or state.next_batch)
    state.synced_at = timezone.now()
    state.save(update_fields=["next_batch", "synced_at"])
    return queued


def _encrypted_leave(adapter: MatrixAdapter, room_id: str) -> None:
    """Say once that the bot cannot read an encrypted room, and leave it (so it says it
    once: it sees nothing of the room afterwards)."""
    try:
        adapter.post(channel_id=room_id, thread_id="", part=adapter.render_text(str(ENCRYPTED)))
    except PlatformError as exc:
        logger.info("matrix: could not explain leaving %s: %s", room_id, exc)
    try:
        adapter.leave(room_id)
    except PlatformError as exc:
        logger.warning("matrix: could not leave encrypted room %s: %s", room_id, exc)


def _direct_inviter(room: dict, bot_user_id: str) -> str:
    """Who invited the bot to a direct chat (the invite's ``is_direct``), else ""."""
    for event in (room.get("invite_state") or {}).get("events") or []:
        if (
            event.get("type") == "m.room.member"
            and event.get("state_key") == bot_user_id
            and (event.get("content") or {}).get("is_direct")
        ):
            return str(event.get("sender") or "")
    return ""


@app.task(base=OrganizationTask, ignore_result=True)
def matrix_sync() -> int:
    """One ``/sync`` of this organization's Matrix bot, unless one is running."""
    return platform_poll_locked(PlatformKind.MATRIX, "matrix-sync", sync_once, "matrix sync failed")


@app.task(ignore_result=True)
def matrix_sync_all() -> int:
    """Beat, every few seconds (the schedule names this task): each organization with a
    polled chat platform on gets its own short task, Matrix' ``matrix_sync`` and
    Mattermost's ``mattermost_poll`` (``chat.polling``), so one slow server delays only
    its own organization."""
    from chat.polling import polls_dispatch

    return polls_dispatch()
