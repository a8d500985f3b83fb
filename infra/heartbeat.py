"""The worker heartbeat: beat schedules it, a worker runs it, /readyz and /metrics read it."""

import time

from django.core.cache import cache

from infra.celery import app

HEARTBEAT_KEY = "worker:heartbeat"


# The name predates this module: beat's schedule (opaa/settings/workers.py) and messages
# already queued use it.
@app.task(name="opaa.health.worker_heartbeat", ignore_result=True)
def worker_heartbeat() -> None:
    """Scheduled by beat, run by a worker: proves a worker is consuming the queue."""
    cache.set(HEARTBEAT_KEY, time.time(), timeout=None)
