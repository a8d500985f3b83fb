"""Liveness (/healthz) and readiness (/readyz) endpoints, and the worker heartbeat."""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from opaa.celery import app

HEARTBEAT_KEY = "worker:heartbeat"


@app.task(name="opaa.health.worker_heartbeat", ignore_result=True)
def worker_heartbeat() -> None:
    """Scheduled by beat, run by a worker: proves a worker is consuming the queue."""
    cache.set(HEARTBEAT_KEY, time.time(), timeout=None)


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _check_redis() -> str:
    probe = f"readyz:{uuid.uuid4().hex}"
    cache.set(probe, "1", timeout=5)
    if cache.get(probe) != "1":
        raise RuntimeError("value written was not read back")
    cache.delete(probe)
    return "ok"


def _check_storage() -> str:
    key = default_storage.save(f"health/{uuid.uuid4().hex}", ContentFile(b"ok"))
    default_storage.delete(key)
    return "ok"


def _check_worker() -> str:
    beat = cache.get(HEARTBEAT_KEY)
    if beat is None:
        raise RuntimeError("no worker heartbeat seen yet")
    age = time.time() - float(beat)
    if age > settings.WORKER_HEARTBEAT_MAX_AGE_S:
        raise RuntimeError(f"last worker heartbeat {age:.0f}s ago")
    return "ok"


CHECKS = {
    "database": _check_database,
    "redis": _check_redis,
    "storage": _check_storage,
    "worker": _check_worker,
}


@never_cache
def healthz(request):
    """The process is up and serving requests."""
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request):
    """Each dependency's state; 503 when any is down. Error texts carry no secrets.

    ``?checks=database,redis`` runs only those: a web pod's readiness probe asks for
    what the web tier itself needs, so a missing worker does not take the site down.
    """
    wanted = set(filter(None, request.GET.get("checks", "").split(","))) or set(CHECKS)
    checks: dict[str, dict[str, str]] = {}
    for name, check in CHECKS.items():
        if name not in wanted:
            continue
        try:
            checks[name] = {"status": check()}
        except Exception as exc:
            checks[name] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:200]}
    ready = all(c["status"] == "ok" for c in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )
