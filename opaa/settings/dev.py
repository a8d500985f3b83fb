"""Development: ``make run``. Embedded Postgres and Redis unless URLs are given."""

import os

from .base import *  # noqa: F403

DEBUG = True
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# No persistent database connections: the development server serves each request in a
# thread of its own, and a persistent connection stays with its thread. With
# CONN_MAX_AGE > 0 every request left one open until garbage collection, until Postgres
# refused new ones and every organization got 500s (issue 11). Django's own advice:
# persistent connections are for servers with a fixed set of threads, not runserver.
# A process with a fixed set of threads (a Celery worker of `make run`, a benchmark's
# workers) may keep them: an explicit DATABASE_CONN_MAX_AGE is honoured.
if "DATABASE_CONN_MAX_AGE" not in os.environ:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
