"""The Celery application lives in ``infra.celery``; ``celery -A opaa`` finds it here.

A worker started this way tells its processes how many they are
(``OPAA_WORKER_PROCESSES``, its concurrency), so the local embedding model gives each
its share of the cores (``ingestion.embedding.embedding_threads``), and torch's OpenMP
threads wait passively (``OMP_WAIT_POLICY=PASSIVE``, unless set otherwise): spinning
threads take the cores from the worker's other processes and from Postgres; on 2 busy
cores the local model ran about 1.6 times faster so (bench/RESULTS.md, issue 17 item 4).
"""

import os

from celery.signals import celeryd_after_setup

from infra.celery import app

__all__ = ["app"]

# Read by OpenMP when torch loads it (the model is loaded lazily, in the pool's processes).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@celeryd_after_setup.connect
def _worker_processes(sender, instance, **kwargs) -> None:
    # Before the pool forks: every child inherits it. No --concurrency: Celery starts
    # a process per core.
    # A thread pool (threads, solo, gevent) is one process.
    pool = str(getattr(instance, "pool_cls", "prefork"))
    prefork = "prefork" in pool or "processes" in pool
    concurrency = (getattr(instance, "concurrency", None) or os.cpu_count() or 1) if prefork else 1
    os.environ["OPAA_WORKER_PROCESSES"] = str(concurrency)
