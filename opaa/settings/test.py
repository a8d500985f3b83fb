"""Tests: the same embedded Postgres + pgvector and Redis as development, own data dir."""

import os
import tempfile
from pathlib import Path

# Keep test data apart from a developer's demo data; set before opaa.settings.env reads it.
os.environ.setdefault("OPAA_DATA_DIR", str(Path(__file__).resolve().parents[2] / ".opaa" / "test"))
# Under pytest-xdist every test process has its own data directory, so its own Postgres,
# Redis (and so Celery queues), worker log and uploads: ``<OPAA_DATA_DIR>-gw0``, ``-gw1``.
# Done once per test process: the processes it starts (a Celery worker, a server) inherit
# both variables and keep the directory they are given.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _xdist_worker and os.environ.get("OPAA_TEST_PROCESS") != _xdist_worker:
    os.environ["OPAA_DATA_DIR"] = f"{os.environ['OPAA_DATA_DIR']}-{_xdist_worker}"
    os.environ["OPAA_TEST_PROCESS"] = _xdist_worker

from .base import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)  # noqa: F405
CELERY_TASK_EAGER_PROPAGATES = True
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
# File-system sources in tests live under pytest's temporary folders.
CONNECTOR_FILESYSTEM_ROOTS = [tempfile.gettempdir()]
# Short, so a test that kills a worker mid-sync sees the source freed quickly.
SYNC_LOCK_TTL_S = 8
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
