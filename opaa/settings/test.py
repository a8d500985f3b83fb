"""Tests: the same embedded Postgres + pgvector and Redis as development, own data dir."""

import os
import tempfile
from pathlib import Path

# Keep test data apart from a developer's demo data; set before opaa.settings.env reads it.
os.environ.setdefault("OPAA_DATA_DIR", str(Path(__file__).resolve().parents[2] / ".opaa" / "test"))

from .base import *  # noqa: F403

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
