"""Redis (cache, limits, broker) unavailable: a 503 with Retry-After, never a 500.

Requests need Redis for the plan's limits and the API-token rate limit (counters that
must hold across processes, so they fail closed), and for queueing work (the Celery
broker). When Redis cannot be reached, or the broker refuses a message, the request is
answered 503 with ``Retry-After`` and a message saying what is down: JSON (``detail``,
``code``) for the API and scripts, a page for a browser. The answer cache is not among
them: it is skipped while Redis is away (``search.cache``).

Work is not lost meanwhile: rows are written before their task is queued, and a
document whose task could not be queued stays ``pending``, which ``/readyz`` and the
Sources page show and *Retry* (or the next sync) queues again.
"""

from __future__ import annotations

import logging

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from kombu.exceptions import OperationalError as BrokerUnavailable
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from infra.storage_errors import StorageUnavailable

logger = logging.getLogger(__name__)

# Redis restarts in seconds (a pod rescheduled, a failover): a client waits that long.
RETRY_AFTER_S = 10
DETAIL = (
    "OPAA's queue and cache server (Redis) is unavailable at the moment. "
    f"Try again in {RETRY_AFTER_S} seconds."
)
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, BrokerUnavailable)


def _unavailable_response(
    request, *, title: str, detail: str, code: str, retry_after: int
) -> HttpResponse:
    """503 with Retry-After: JSON (``detail``, ``code``) for the API and scripts, a page
    for a browser."""
    if request.path.startswith("/api/") or "text/html" not in request.headers.get("Accept", ""):
        response = JsonResponse({"detail": detail, "code": code}, status=503)
    else:
        response = render(
            request, "unavailable.html", {"title": title, "detail": detail}, status=503
        )
    response["Retry-After"] = str(retry_after)
    return response


class ServiceUnavailableMiddleware:
    """Answer a view that met an unavailable service with 503 and Retry-After: Redis or
    the broker (any view, the API's too: DRF passes these errors on), and the storage of
    originals (``StorageUnavailable``; raised in an API view, DRF answers it itself)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, StorageUnavailable):
            return _unavailable_response(
                request,
                title=_("Storage unavailable"),
                detail=str(exception.detail),
                code=exception.default_code,
                retry_after=exception.wait,
            )
        if not isinstance(exception, UNAVAILABLE):
            return None
        # The error's class and message name the socket, never a password.
        logger.warning(
            "redis unavailable during %s %s: %s: %s",
            request.method,
            request.path,
            type(exception).__name__,
            exception,
        )
        return _unavailable_response(
            request,
            title=_("Temporarily unavailable"),
            detail=_(
                "OPAA's queue and cache server (Redis) is unavailable at the moment. "
                "Try again in %(seconds)s seconds."
            )
            % {"seconds": RETRY_AFTER_S},
            code="redis_unavailable",
            retry_after=RETRY_AFTER_S,
        )
