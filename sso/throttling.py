"""Counting failed password sign-ins per IP address + email (Redis counters).

Password-reset requests are counted the same way (``password_reset_allowed``).
A fixed window starts at the first failure; after ``PASSWORD_SIGNIN_MAX_FAILURES``
failures, sign-in for that pair is refused until the window ends. A success clears the
count. Keys hold a hash, not the email, and are prefixed by the organization.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.db import connection


def client_ip(request) -> str:
    """The address counted: REMOTE_ADDR (the proxy in front rewrites it; see deployment)."""
    meta = getattr(request, "META", None) or {}
    return str(meta.get("REMOTE_ADDR", ""))


def _key(ip: str, email: str, kind: str = "password-failures") -> str:
    digest = hashlib.sha256(f"{ip}\x00{email.strip().lower()}".encode()).hexdigest()[:32]
    return f"sso:{connection.schema_name}:{kind}:{digest}"


def _count(key: str) -> int:
    # add() sets the window only for the first event; incr() is atomic in Redis.
    cache.add(key, 0, settings.PASSWORD_SIGNIN_WINDOW_S)
    try:
        return cache.incr(key)
    except ValueError:  # the window ended between add() and incr()
        cache.set(key, 1, settings.PASSWORD_SIGNIN_WINDOW_S)
        return 1


def password_sign_in_blocked(*, ip: str, email: str) -> bool:
    return (cache.get(_key(ip, email)) or 0) >= settings.PASSWORD_SIGNIN_MAX_FAILURES


def password_sign_in_failed(*, ip: str, email: str) -> None:
    _count(_key(ip, email))


def password_sign_in_succeeded(*, ip: str, email: str) -> None:
    cache.delete(_key(ip, email))


def password_reset_allowed(*, ip: str, email: str) -> bool:
    """Count a password-reset request; False past ``PASSWORD_RESET_MAX_PER_WINDOW``.

    Keeps the reset form from being used to flood someone's mailbox.
    """
    count = _count(_key(ip, email, "password-resets"))
    return count <= settings.PASSWORD_RESET_MAX_PER_WINDOW
