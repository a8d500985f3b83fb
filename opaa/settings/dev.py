"""Development: ``make run``. Embedded Postgres and Redis unless URLs are given."""

from .base import *  # noqa: F403

DEBUG = True
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
