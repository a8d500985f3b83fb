"""What an organization leaves outside its schema, and how deleting it removes that.

Redis holds per-organization keys (cached answers, index versions, sign-in throttles,
token counters, sync locks and slots) and the Celery queues hold tasks sent from the
organization's schema (their headers name it). Storage holds its objects under
``org/<schema>/`` (``infra.storage.objects_delete_under``).

Every per-organization Redis key has the schema name (or, for quota counters, the
organization's id) right after a fixed namespace; ``ORGANIZATION_KEY_PATTERNS`` lists
them. A new kind of per-organization key must be added here: ``tests/test_erasure.py``
scans all of Redis after a deletion.
"""

from __future__ import annotations

import json
import logging

import redis
from django.conf import settings
from django_redis import get_redis_connection

logger = logging.getLogger(__name__)

# Keys written through Django's cache carry its prefix and version ("opaa:1:").
_CACHE = "opaa:1:"
ORGANIZATION_KEY_PATTERNS = (
    _CACHE + "answer:{schema}:*",
    _CACHE + "index-version:{schema}:*",
    _CACHE + "sso:{schema}:*",
    _CACHE + "token-used:{schema}:*",
    "opaa:token-rate:{schema}:*",
    "opaa:org:{schema}:*",
    "opaa:indexing-slots:org:{schema}",
    # Indexing and embedding slots per worker, the parked indexing backlog, the
    # embedding queue and its interrupted batches (ingestion.fairness, embedding_queue).
    "opaa:*-slots:*:{schema}",
    "opaa:index-backlog:{schema}",
    "opaa:embed-queued:{schema}",
    "opaa:embed-interrupted:{schema}",
    # Queue markers of the documents sent, the organization's admitted messages, and an
    # embedding provider's last failure (ingestion.enqueue, ingestion.embedding_failure).
    "opaa:index-queued:{schema}:*",
    "opaa:index-queued-set:{schema}",
    "opaa:embed-failing:{schema}",
    # BM25's statistics and readable chunks of large scopes (ingestion.index._Statistics).
    _CACHE + "bm25:{schema}:*",
    # Quota counters (tenants.quotas) are keyed by the organization's id.
    "opaa:quota:{organization_id}:*",
)


def organization_keys(schema: str, organization_id: int | None = None) -> list[str]:
    """Every Redis key of the organization (SCAN, never KEYS: it does not block Redis)."""
    client = get_redis_connection("default")
    found: set[str] = set()
    for pattern in ORGANIZATION_KEY_PATTERNS:
        if "{organization_id}" in pattern and organization_id is None:
            continue
        glob = pattern.format(schema=_glob_escape(schema), organization_id=organization_id)
        found.update(k.decode() for k in client.scan_iter(match=glob, count=1000))
    return sorted(found)


def organization_keys_delete(schema: str, organization_id: int | None = None) -> int:
    """Delete every Redis key of the organization; returns how many. Idempotent."""
    keys = organization_keys(schema, organization_id)
    if keys:
        get_redis_connection("default").delete(*keys)
    return len(keys)


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


def queue_names() -> set[str]:
    """Every Celery queue the project routes a task to, and the default one."""
    routes = getattr(settings, "CELERY_TASK_ROUTES", {}) or {}
    names = {route["queue"] for route in routes.values() if "queue" in route}
    return names | {getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")}


def organization_tasks_purge(schema: str) -> int:
    """Remove queued Celery tasks sent from the organization's schema; returns how many.

    Works on the Redis broker's queue lists (with their priority variants). A task a
    worker has already taken finds the organization gone and fails once, harmlessly
    (tenant-schemas-celery cannot switch to a missing schema); beat schedules nothing
    more for it, because it dispatches per existing organization.
    """
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    removed = 0
    for queue in queue_names():
        for key in broker.scan_iter(match=f"{_glob_escape(queue)}*", count=1000):
            if broker.type(key) != b"list":
                continue
            for raw in broker.lrange(key, 0, -1):
                try:
                    headers = json.loads(raw).get("headers") or {}
                except (ValueError, AttributeError):
                    continue
                if headers.get("_schema_name") == schema:
                    removed += broker.lrem(key, 1, raw)
    if removed:
        logger.info("removed %s queued tasks of a deleted organization", removed)
    return removed
