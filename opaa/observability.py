"""Request context for logs and metrics, and its hand-over to Celery tasks.

Each request gets a request id (the caller's ``X-Request-ID`` when it is a sane
token, otherwise a new one), returned in the ``X-Request-ID`` response header and
bound to every log line written while the request runs, with the organization
(schema) and the route. When the request has been answered, one ``request`` line
records method, path (no query string), route, status, latency and user id, and the
latency goes to the ``opaa_http_request_duration_seconds`` histogram.

A task enqueued while a request runs carries the request id in its message headers;
the worker binds it (with the task's organization, name and id) for the task's log
lines, so one id follows a document from upload to index.
"""

from __future__ import annotations

import os
import re
import time
import uuid

import structlog
from celery.signals import (
    before_task_publish,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_shutdown,
)
from django.http import HttpRequest, HttpResponse
from django.utils.functional import empty

from infra import metrics
from opaa import health

logger = structlog.get_logger("opaa.request")

REQUEST_ID_HEADER = "X-Request-ID"
# What we accept from a caller: long enough for a UUID or a trace id, nothing that
# could break a log line or a header.
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id_from(value: str | None) -> str:
    if value and _REQUEST_ID_RE.match(value):
        return value
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return structlog.contextvars.get_contextvars().get("request_id")


def _route(request: HttpRequest) -> str:
    """The URL pattern's name ("api:document"), never the raw path: bounded cardinality."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name or match.route or "unnamed"


def _organization(request: HttpRequest) -> str | None:
    tenant = getattr(request, "tenant", None)
    return getattr(tenant, "schema_name", None)


def _user_id(request: HttpRequest) -> int | None:
    """The signed-in user's id, without loading a user the request never looked at."""
    user = request.__dict__.get("user")
    if user is None:
        return None
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is empty or not getattr(wrapped, "is_authenticated", False):
        return None
    return wrapped.pk


class OperationalEndpointsMiddleware:
    """Answers ``/healthz``, ``/readyz`` and ``/metrics`` before the host is looked at.

    Probes and scrapers address a pod or container by IP, a host that no organization
    (and no ``ALLOWED_HOSTS`` entry) has. These endpoints belong to the process, not to
    an organization; ``/metrics`` is protected by ``metrics.metrics_allowed``. They are
    neither logged nor timed: a probe every few seconds would drown both.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.endpoints = {
            "/healthz": health.healthz,
            "/readyz": health.readyz,
            "/metrics": metrics.metrics_view,
        }

    def __call__(self, request: HttpRequest) -> HttpResponse:
        endpoint = self.endpoints.get(request.path)
        if endpoint is not None and request.method in ("GET", "HEAD"):
            return endpoint(request)
        return self.get_response(request)


class RequestContextMiddleware:
    """Request id, log context, the request log line and the latency histogram."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            response = self.get_response(request)
            seconds = time.perf_counter() - started
            route = _route(request)
            metrics.http_request_observe(
                route=route,
                method=request.method or "",
                status_code=response.status_code,
                seconds=seconds,
            )
            logger.info(
                "request",
                method=request.method,
                path=request.path,
                route=route,
                status=response.status_code,
                latency_ms=round(seconds * 1000, 1),
                organization=_organization(request),
                user_id=_user_id(request),
            )
            response[REQUEST_ID_HEADER] = request_id
            return response
        finally:
            structlog.contextvars.clear_contextvars()

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        # The organization is known once the tenant middleware ran, the route once
        # the URL resolved: log lines from the view on carry both.
        structlog.contextvars.bind_contextvars(
            organization=_organization(request), route=_route(request)
        )


# --- Celery ----------------------------------------------------------------------------


@before_task_publish.connect
def _request_id_into_headers(headers=None, **_kwargs) -> None:
    request_id = current_request_id()
    if headers is not None and request_id and "request_id" not in headers:
        headers["request_id"] = request_id


def _task_header(task, name: str) -> str | None:
    headers = getattr(task.request, "headers", None) or {}
    return headers.get(name) or task.request.get(name)


@task_prerun.connect
def _bind_task_context(task_id=None, task=None, **_kwargs) -> None:
    """Bind the enqueuing request's id (or keep the current one, for eager tasks)."""
    request_id = request_id_from(_task_header(task, "request_id") or current_request_id())
    tokens = structlog.contextvars.bind_contextvars(
        request_id=request_id,
        organization=_task_header(task, "_schema_name"),
        task=task.name,
        task_id=task_id,
    )
    task.request.log_context_tokens = tokens


@task_postrun.connect
def _unbind_task_context(task=None, **_kwargs) -> None:
    tokens = getattr(task.request, "log_context_tokens", None)
    if tokens:
        structlog.contextvars.reset_contextvars(**tokens)


@worker_init.connect
def _worker_metrics_server(**_kwargs) -> None:
    from django.conf import settings

    if settings.WORKER_METRICS_PORT:
        metrics.worker_metrics_server_start(settings.WORKER_METRICS_PORT)


@worker_process_shutdown.connect
def _worker_process_gone(pid=None, **_kwargs) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") and pid:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
