"""Type checking (``make lint``'s mypy): the settings the django-stubs plugin imports.

No server is started or reached: the URLs below are never connected to; they only keep
the settings from starting the embedded Postgres and Redis.
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://typecheck@localhost:1/typecheck")
os.environ.setdefault("REDIS_URL", "redis://localhost:1/0")
os.environ["OPAA_EMBEDDED_SERVICES"] = "false"

from .base import *  # noqa: F403
