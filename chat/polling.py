"""The chat bots OPAA polls (Matrix' ``/sync``, Mattermost's direct messages): beat
sends each organization that has one on its own short task, every few seconds.

Which organizations have a polled platform on is kept in the cache
(``polled_organizations``), computed with one query per organization at most once a
minute and forgotten whenever a platform is saved, so beat's five-second tick costs one
query of the public schema (which of them are active) instead of one per organization.
The list is rebuilt from the organizations' own tables, so an emptied cache only costs
one rebuild. (A table in the public schema would need the identity layer, below chat,
to know chat's platforms: the import contracts forbid it.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.cache import cache
from django.db import connection, transaction
from django_tenants.utils import get_public_schema_name, schema_context

from chat.adapters.base import PlatformError
from chat.models import ChatPlatform, PlatformKind
from tenants.suspension import organizations_schedulable

logger = logging.getLogger(__name__)

POLLED_KINDS = (PlatformKind.MATRIX.value, PlatformKind.MATTERMOST.value)
LIST_KEY = "chat:polled-organizations"
LIST_TTL_S = 60
# A poll task not started within this long is dropped (beat sends one every 5 s).
POLL_EXPIRES_S = 30


def polled_organizations() -> dict[str, list[str]]:
    """Schema name -> the polled platform kinds it has on (cached for a minute)."""
    found = cache.get(LIST_KEY)
    if isinstance(found, dict):
        return found
    found = {}
    schemas = organizations_schedulable().exclude(schema_name=get_public_schema_name())
    for schema in schemas.values_list("schema_name", flat=True):
        try:
            with schema_context(schema):
                kinds = sorted(
                    ChatPlatform.objects.filter(kind__in=POLLED_KINDS, enabled=True).values_list(
                        "kind", flat=True
                    )
                )
        except Exception:
            logger.exception("chat polling: platforms unreadable organization=%s", schema)
            continue
        if kinds:
            found[schema] = kinds
    cache.set(LIST_KEY, found, LIST_TTL_S)
    return found


def polled_organizations_forget() -> None:
    """A platform was saved: the next tick lists the organizations again (now, and
    again after the commit, so a list rebuilt meanwhile from what was not committed yet
    does not stay)."""
    cache.delete(LIST_KEY)
    transaction.on_commit(lambda: cache.delete(LIST_KEY))


def polls_dispatch() -> int:
    """Send each active organization's poll tasks; returns how many were sent."""
    from chat.matrix_sync import matrix_sync
    from chat.mattermost_poll import mattermost_poll

    tasks = {PlatformKind.MATRIX.value: matrix_sync, PlatformKind.MATTERMOST.value: mattermost_poll}
    listed = polled_organizations()
    if not listed:
        return 0
    active = set(
        organizations_schedulable()
        .filter(schema_name__in=list(listed))
        .values_list("schema_name", flat=True)
    )
    sent = 0
    for schema, kinds in listed.items():
        if schema not in active:  # suspended or deleted since the list was made
            continue
        with schema_context(schema):
            for kind in kinds:
                try:
                    # Dropped, not run late, when the workers are behind: the next tick
                    # sends a fresh one (the cursors keep what was missed).
                    tasks[kind].apply_async(expires=POLL_EXPIRES_S)
                    sent += 1
                except Exception:
                    logger.exception("chat poll dispatch failed organization=%s", schema)
    return sent


# Longer than one poll can take (the HTTP timeout, joins, queueing), so a crashed
# poll's lock frees itself.
POLL_LOCK_S = 60


def platform_poll_locked(
    kind: str, name: str, poll: Callable[[ChatPlatform], int], failure: str
) -> int:
    """Run ``poll`` once for this organization's enabled ``kind`` platform, unless a
    poll of the same ``name`` is running (a cache lock per organization); a platform
    refusal is logged as ``failure`` and counts 0. Returns what ``poll`` returned."""
    platform = ChatPlatform.objects.filter(kind=kind, enabled=True).first()
    if platform is None:
        return 0
    lock = f"chat:{name}:{connection.schema_name}"
    if not cache.add(lock, 1, POLL_LOCK_S):
        return 0
    try:
        return poll(platform)
    except PlatformError as exc:
        logger.warning("%s: %s", failure, exc)
        return 0
    finally:
        cache.delete(lock)
