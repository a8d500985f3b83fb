"""Production: every secret must be given; no embedded servers."""

import os

from django.core.exceptions import ImproperlyConfigured

for _name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL"):
    if not (os.environ.get(_name) or os.environ.get(f"{_name}_FILE")):
        raise ImproperlyConfigured(f"The environment variable {_name} is required in production.")

from .base import *  # noqa: E402, F403

DEBUG = False
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)  # noqa: F405
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
