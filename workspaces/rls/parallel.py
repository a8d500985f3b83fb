"""A read on a second database connection, beside the current thread's work.

``read_beside(function, ...)`` starts ``function`` on one of a few threads of this
process, each with a database connection of its own, in the caller's organization
(schema) and row-level security scope, and returns at once; ``.result()`` waits for it.
A question's keyword search runs so beside its embedding and vector search
(``search.retrieval``): BM25 reads and scores on one core while Postgres walks the HNSW
graph on another. ``run_beside`` starts one that nobody waits for (a large scope's
chunks read again for the next questions, ``ingestion.index``), or nothing.

It runs in the calling thread instead, when ``.result()`` is asked for, whenever the
other connection could not see what this one sees or no thread is free:

- inside a transaction (``transaction.atomic``): another connection does not see its
  uncommitted rows (nor the tests' rows, which live in one);
- in the public schema, with no organization set, or as the schema owner
  (``workspaces.rls.roles``);
- with ``DATABASE_PARALLEL_READS`` = 0, or all of them busy.

Each thread's connection lives like a request thread's: checked before each read, kept
while younger than ``CONN_MAX_AGE`` (closed after each read in development, where that
is 0). So a web or worker process holds up to ``DATABASE_PARALLEL_READS`` connections
more than its threads (docs/deployment.md, "Database connections").
"""

from __future__ import annotations

import atexit
import contextvars
import functools
import logging
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

from django.conf import settings
from django.db import connection
from django_tenants.utils import get_public_schema_name

T = TypeVar("T")
logger = logging.getLogger(__name__)


class Pending(Generic[T]):
    """A read started by ``read_beside``; ``result()`` returns what it returned or raises
    what it raised."""

    def __init__(self, future: Future | None, call: Callable[[], T] | None) -> None:
        self._future = future
        self._call = call

    def result(self) -> T:
        if self._future is not None:
            return self._future.result()
        assert self._call is not None
        call, self._call = self._call, None
        return call()


class _Readers:
    """The threads of one process (a forked child starts its own)."""

    def __init__(self, size: int) -> None:
        self.pid = os.getpid()
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.free = threading.Semaphore(size)
        self.threads = [
            threading.Thread(target=self._serve, name=f"opaa-read-beside-{n}", daemon=True)
            for n in range(size)
        ]
        for thread in self.threads:
            thread.start()

    def _serve(self) -> None:
        from django.db import connection as own  # this thread's

        try:
            while True:
                job = self.jobs.get()
                if job is None:
                    return
                future, tenant, include_public, context, call = job
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    own.close_if_unusable_or_obsolete()
                    if own.schema_name != tenant.schema_name:
                        own.set_tenant(tenant, include_public=include_public)
                    future.set_result(context.run(call))
                except BaseException as error:  # handed to the caller, raised there
                    future.set_exception(error)
                finally:
                    try:
                        own.close_if_unusable_or_obsolete()
                    except Exception:  # a broken connection: the next read opens one
                        logger.warning("closing a parallel read's connection failed")
                    self.free.release()
        finally:
            own.close()

    def stop(self) -> None:
        for _ in self.threads:
            self.jobs.put(None)
        for thread in self.threads:
            thread.join(timeout=10)


_readers: _Readers | None = None
_lock = threading.Lock()


def _pool() -> _Readers | None:
    global _readers
    size = settings.DATABASE_PARALLEL_READS
    if size <= 0:
        return None
    with _lock:
        if _readers is None or _readers.pid != os.getpid():
            _readers = _Readers(size)
    return _readers


def _start(call: Callable[[], T]) -> Future | None:
    """``call`` started on one of the threads, or None when it cannot be (see above)."""
    schema = getattr(connection, "schema_name", None)
    if (
        connection.in_atomic_block
        or schema in (None, get_public_schema_name())
        or getattr(connection, "rls_is_owner", False)  # the schema owner's, for a block
    ):
        return None
    readers = _pool()
    if readers is None or not readers.free.acquire(blocking=False):
        return None
    future: Future = Future()
    readers.jobs.put(
        (
            future,
            connection.tenant,
            connection.include_public_schema,
            contextvars.copy_context(),
            call,
        )
    )
    return future


def read_beside(function: Callable[..., T], /, *args, **kwargs) -> Pending[T]:
    """``function(*args, **kwargs)`` started on another connection of this process, in
    this thread's organization and row-level security scope; or, when that connection
    could not see what this one sees or none is free, run here by ``result()``."""
    call = functools.partial(function, *args, **kwargs)
    return Pending(_start(call), call)


def run_beside(function: Callable[..., object], /, *args, **kwargs) -> bool:
    """``function(*args, **kwargs)`` started on another connection as ``read_beside``
    does, nobody waiting for it (an error is logged); False, and nothing run, when it
    cannot be started."""
    future = _start(functools.partial(function, *args, **kwargs))
    if future is None:
        return False
    future.add_done_callback(_log_failure)
    return True


def _log_failure(future: Future) -> None:
    error = future.exception()
    if error is not None:
        logger.warning("a read run beside failed: %r", error, exc_info=error)


def read_beside_stop() -> None:
    """Close the threads and their connections (before a test database is dropped; at exit)."""
    global _readers
    with _lock:
        readers, _readers = _readers, None
    if readers is not None and readers.pid == os.getpid():
        readers.stop()


atexit.register(read_beside_stop)
