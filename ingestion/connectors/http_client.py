"""HTTP for connectors: bounded retries on 429/503 honouring Retry-After, capped downloads.

Connectors that speak HTTP (Confluence, web directories) share this so a throttling
server is waited for politely but never forever, and an error becomes a reason a person
can read, without the URL's query string or any credential in it.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from infra.outbound import OutboundRefused, httpx_request_check

logger = logging.getLogger(__name__)

# A throttled request is tried this many times in all before the run gives up.
MAX_ATTEMPTS = 5
# Retry-After beyond this is not waited for: the run fails and the next one resumes.
MAX_RETRY_WAIT_S = 60.0
# Without Retry-After: 1 s, 2 s, 4 s, ... plus up to a quarter of jitter.
BACKOFF_BASE_S = 1.0
RETRYABLE = {429, 502, 503, 504}
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def _outbound_allowed(request: httpx.Request) -> None:
    try:
        httpx_request_check(request)
    except OutboundRefused as exc:
        raise HTTPProblem(0, str(exc)) from None


# Event hooks of every connector's client: each request, redirects included, goes only
# where this installation may connect (infra.outbound).
OUTBOUND_HOOKS = {"request": [_outbound_allowed]}


class HTTPProblem(Exception):
    """A request that did not succeed: ``status`` (0 when unreachable) and a ``reason``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Fetched:
    """A successful response, its body read (up to the size asked for)."""

    url: httpx.URL
    headers: httpx.Headers
    content: bytes

    def json(self):
        try:
            return json.loads(self.content)
        except ValueError as exc:
            raise HTTPProblem(200, f"{_where(self.url)} did not answer with JSON.") from exc


def retry_wait(response: httpx.Response, attempt: int) -> float:
    """Seconds to wait before retrying ``response`` (attempt counts from 1)."""
    header = response.headers.get("Retry-After", "").strip()
    if header.isdigit():
        return float(header)
    if header:
        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
    base = BACKOFF_BASE_S * 2 ** (attempt - 1)
    return base + random.uniform(0, base / 4)  # noqa: S311 - jitter, not security


def request(
    client: httpx.Client,
    url: str,
    *,
    params: dict | None = None,
    max_bytes: int | None = None,
    sleep=time.sleep,
) -> Fetched:
    """GET ``url``; retries throttling and brief outages, raises HTTPProblem otherwise.

    With ``max_bytes`` the body is streamed and reading stops past that size (the
    result then holds ``max_bytes`` + 1 bytes: the caller refuses it).
    """
    target = client.base_url.join(url)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with client.stream("GET", target, params=params) as response:
                status = response.status_code
                if status in RETRYABLE and attempt < MAX_ATTEMPTS:
                    wait = retry_wait(response, attempt)
                    if wait <= MAX_RETRY_WAIT_S:
                        logger.info(
                            "http %s from %s, retry in %.1f s", status, _where(target), wait
                        )
                        sleep(wait)
                        continue
                if status >= 400:
                    raise HTTPProblem(status, f"{_where(target)} answered HTTP {status}.")
                if 300 <= status < 400:  # only clients that do not follow redirects see one
                    raise HTTPProblem(
                        status, f"{_where(target)} redirects elsewhere (HTTP {status})."
                    )
                body = bytearray()
                for block in response.iter_bytes():
                    body += block
                    if max_bytes is not None and len(body) > max_bytes:
                        break
                return Fetched(url=response.url, headers=response.headers, content=bytes(body))
        except httpx.HTTPError as exc:
            problem = f"{_where(target)} could not be reached ({type(exc).__name__})."
            raise HTTPProblem(0, problem) from exc
    raise AssertionError("unreachable")  # the last attempt returns or raises


def _where(url: httpx.URL) -> str:
    """The URL without credentials or query string: safe to show and to log."""
    return f"{url.scheme}://{url.host}{f':{url.port}' if url.port else ''}{url.path}"
