"""Prometheus metrics: the series OPAA exposes, the functions that record them, /metrics.

Services call the small ``*_observe`` functions below; nothing else touches the metric
objects. Labels are bounded: routes are URL pattern names, statuses are classes
(``2xx``), modes and outcomes are short fixed lists. No label carries an organization,
a user or a document (their number grows with the customers).

Several processes (gunicorn workers, Celery's prefork children) each count their own
share. With ``PROMETHEUS_MULTIPROC_DIR`` set to an empty, writable directory shared by
the processes of one container, prometheus-client keeps the values in files there and
``/metrics`` adds them up; without it, each process reports only itself (fine for one
process, as in development and tests). The directory must be emptied when the
container starts (``docker/entrypoint.sh`` does).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from infra.heartbeat import HEARTBEAT_KEY

logger = logging.getLogger(__name__)

# Web requests are expected well under a second; the 2 s alert threshold is a bucket edge.
_REQUEST_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
# An LLM answer takes seconds; the timeout (LLM_TIMEOUT_S) defaults to 30 s.
_LLM_BUCKETS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)
# Indexing one document: embedding dominates; a large PDF takes minutes on 2 cores.
_INDEX_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 180.0, 600.0)

HTTP_REQUEST_DURATION = Histogram(
    "opaa_http_request_duration_seconds",
    "Time to answer an HTTP request, by URL pattern name, method and status class.",
    ["route", "method", "status"],
    buckets=_REQUEST_BUCKETS,
)
QUESTIONS_ANSWERED = Counter(
    "opaa_questions_answered",
    "Questions answered, by mode (llm, extractive, no_answer).",
    ["mode"],
)
RETRIEVAL_DURATION = Histogram(
    "opaa_retrieval_duration_seconds",
    "Time of the hybrid search behind one question.",
    buckets=_REQUEST_BUCKETS,
)
ANSWER_DURATION = Histogram(
    "opaa_answer_duration_seconds",
    "Time to answer one question, retrieval and writing the answer included.",
    buckets=_LLM_BUCKETS,
)
LLM_REQUEST_DURATION = Histogram(
    "opaa_llm_request_duration_seconds",
    "Time of one call to the LLM endpoint, by outcome (ok, error).",
    ["outcome"],
    buckets=_LLM_BUCKETS,
)
LLM_TOKENS = Counter(
    "opaa_llm_tokens",
    "Tokens used by LLM answers, by kind (prompt, completion).",
    ["kind"],
)
DOCUMENTS_INDEXED = Counter(
    "opaa_documents_indexed",
    "Documents whose indexing finished, by outcome (indexed, failed).",
    ["outcome"],
)
DOCUMENT_INDEX_DURATION = Histogram(
    "opaa_document_index_duration_seconds",
    "Time to parse, chunk, embed and write one document.",
    buckets=_INDEX_BUCKETS,
)
SYNC_RUNS = Counter(
    "opaa_sync_runs",
    "Connector sync runs, by outcome (succeeded, failed).",
    ["outcome"],
)

# Celery queues whose length /metrics reports (see CELERY_TASK_ROUTES).
QUEUES = ("default", "ingest", "embed", "fetch")


def status_class(status_code: int) -> str:
    return f"{status_code // 100}xx"


# Any other method a client invents is counted as "other": labels stay bounded.
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def http_request_observe(*, route: str, method: str, status_code: int, seconds: float) -> None:
    method = method if method in _METHODS else "other"
    HTTP_REQUEST_DURATION.labels(route, method, status_class(status_code)).observe(seconds)


def question_observe(*, mode: str, retrieval_seconds: float, total_seconds: float) -> None:
    """One answered question."""
    QUESTIONS_ANSWERED.labels(mode).inc()
    RETRIEVAL_DURATION.observe(retrieval_seconds)
    ANSWER_DURATION.observe(total_seconds)


def llm_call_observe(
    *, seconds: float, ok: bool, prompt_tokens: int = 0, completion_tokens: int = 0
) -> None:
    LLM_REQUEST_DURATION.labels("ok" if ok else "error").observe(seconds)
    if prompt_tokens:
        LLM_TOKENS.labels("prompt").inc(prompt_tokens)
    if completion_tokens:
        LLM_TOKENS.labels("completion").inc(completion_tokens)


def document_indexed_observe(*, outcome: str, seconds: float) -> None:
    """One document finished indexing; ``outcome`` is its final status."""
    DOCUMENTS_INDEXED.labels(outcome).inc()
    DOCUMENT_INDEX_DURATION.observe(seconds)


def sync_run_observe(*, outcome: str) -> None:
    """One connector sync finished: ``succeeded`` or ``failed``."""
    SYNC_RUNS.labels(outcome).inc()


class _LiveStateCollector:
    """Gauges read when scraped: Celery queue lengths and the worker heartbeat's age.

    Read from Redis at scrape time rather than counted, so every web process reports
    the same truth and nothing needs multiprocess bookkeeping.
    """

    def collect(self):
        queues = GaugeMetricFamily(
            "opaa_celery_queue_length", "Tasks waiting in a Celery queue.", labels=["queue"]
        )
        try:
            import redis

            client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2)
            for queue in QUEUES:
                queues.add_metric([queue], client.llen(queue))
        except Exception as exc:
            logger.warning("queue lengths unavailable: %s", type(exc).__name__)
        yield queues

        from django.core.cache import cache

        age = GaugeMetricFamily(
            "opaa_worker_heartbeat_age_seconds",
            "Seconds since a worker last ran the heartbeat task (absent: never seen).",
        )
        try:
            beat = cache.get(HEARTBEAT_KEY)
        except Exception as exc:
            logger.warning("worker heartbeat unavailable: %s", type(exc).__name__)
            beat = None
        if beat is not None:
            age.add_metric([], max(0.0, time.time() - float(beat)))
        yield age


def registry_for_scrape() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_RegistryProxy())
    registry.register(_LiveStateCollector())
    return registry


class _RegistryProxy:
    """The process's own metrics (the default registry) inside a scrape registry."""

    def collect(self):
        yield from REGISTRY.collect()


def metrics_allowed(request: HttpRequest) -> bool:
    """A valid ``Authorization: Bearer <METRICS_TOKEN>``, or a client in an allowed network.

    With neither ``METRICS_TOKEN`` nor ``METRICS_ALLOWED_NETWORKS`` set, nobody is allowed.
    """
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if (
        token
        and header.startswith("Bearer ")
        and hmac.compare_digest(header.removeprefix("Bearer ").encode(), token.encode())
    ):
        return True
    networks = settings.METRICS_ALLOWED_NETWORKS
    if networks:
        try:
            address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(net, strict=False) for net in networks)
    return False


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        response = HttpResponse("Not allowed.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    response = HttpResponse(
        generate_latest(registry_for_scrape()), content_type=CONTENT_TYPE_LATEST
    )
    response["Cache-Control"] = "no-store"
    return response


def worker_metrics_server_start(port: int, *, addr: str = "0.0.0.0") -> None:  # noqa: S104
    """Serve the Celery worker's own counters (documents indexed, syncs) on ``port``.

    Called once in the worker's main process; its prefork children count into
    ``PROMETHEUS_MULTIPROC_DIR``, which this server adds up.
    """
    from prometheus_client import start_http_server

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    # All interfaces: the scraper reaches the container by its address.
    start_http_server(port, addr=addr, registry=registry)
    logger.info("worker metrics served on port %s", port)
