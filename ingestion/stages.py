"""Seconds per stage of indexing and embedding, for the ingestion benchmarks.

``index_stage_timings`` collects them in this process (``bench/ingestion.py``, which
indexes in-process). ``stage_seconds_shared`` collects one task's and adds them to the
Redis hash ``STAGE_SECONDS_KEY`` when that is set (``bench/ingestion_workers.py``, whose
workers are other processes); unset, as in production, it costs nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings

_stage_seconds: ContextVar[dict[str, float] | None] = ContextVar("stage_seconds", default=None)


@contextmanager
def index_stage_timings() -> Iterator[dict[str, float]]:
    """Collect seconds per stage (fetch, parse, chunk, embed, language, write, and the
    embedding queue's ``queue_*`` stages) while inside."""
    totals: dict[str, float] = {}
    token = _stage_seconds.set(totals)
    try:
        yield totals
    finally:
        _stage_seconds.reset(token)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Add the seconds inside to stage ``name`` (when someone collects them), and this
    thread's CPU seconds inside to ``name + "_cpu"`` (less than the seconds when the
    process waited: for Postgres, or for a core another process held)."""
    totals = _stage_seconds.get()
    if totals is None:
        yield
        return
    started, cpu_started = time.perf_counter(), time.thread_time()
    try:
        yield
    finally:
        totals[name] = totals.get(name, 0.0) + time.perf_counter() - started
        cpu = f"{name}_cpu"
        totals[cpu] = totals.get(cpu, 0.0) + time.thread_time() - cpu_started


@contextmanager
def stage_seconds_shared() -> Iterator[None]:
    """Inside a task: its stages' seconds go to Redis (``STAGE_SECONDS_KEY``), unless
    an in-process collector is already there or the key is unset."""
    key = settings.STAGE_SECONDS_KEY
    if not key or _stage_seconds.get() is not None:
        yield
        return
    with index_stage_timings() as totals:
        try:
            yield
        finally:
            if totals:
                from django_redis import get_redis_connection

                with get_redis_connection("default").pipeline() as pipe:
                    for name, seconds in totals.items():
                        pipe.hincrbyfloat(key, name, seconds)
                    pipe.execute()
