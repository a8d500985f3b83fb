"""The organization schema the current database connection works in.

django-tenants sets ``connection.schema_name`` for each request and task; Django's own
types do not know the attribute, so typed code reads it here.
"""

from __future__ import annotations

from django.db import connection


def schema_current() -> str:
    """The current connection's schema: an organization's, or ``public``."""
    return connection.schema_name  # type: ignore[attr-defined]  # set by django-tenants
