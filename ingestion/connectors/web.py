"""Web directory: the files an HTTP server lists (Apache/nginx autoindex, any index page).

``paths`` are folder URLs (``https://files.acme.example/policies/``); connector config
may add ``username`` and, as a secret, ``password`` for basic auth. Every link of a
listing is resolved against it and followed only if it stays **inside the folder URL
it was found under**: same scheme, host and port, and a path below the root's (after
resolving ``..`` and percent-escapes). Links ending in ``/`` are folders (crawled,
breadth-first, at most ``MAX_DEPTH`` deep); others are files. Sort links (``?C=M;O=A``),
fragments and other hosts are ignored; redirects are not followed.

The change marker is the file's ETag, Last-Modified and size from a ``HEAD`` request,
so an unchanged file is never downloaded. A root or folder that cannot be listed fails
the run (listing it as empty would delete its documents).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import httpx
from bs4 import BeautifulSoup
from django.conf import settings
from django.utils.translation import gettext

from ingestion.connectors import http_client
from ingestion.connectors.base import (
    ConnectorError,
    Item,
    ItemError,
    SourceSpec,
    outbound_check,
)

KIND = "web"

# Folder levels below a root: deeper trees are almost always generated or looping.
MAX_DEPTH = 20
# Files and folders listed per source: bounds a run against a server that invents links.
MAX_ENTRIES = 50_000
# A listing page bigger than this is not a directory listing.
MAX_LISTING_BYTES = 5 * 1024 * 1024


class WebDirectoryConnector:
    KIND = KIND

    def validate(self, spec: SourceSpec) -> None:
        for root in _roots(spec):
            outbound_check(root)

    def items(self, spec: SourceSpec, *, after: str = "") -> Iterator[Item]:
        roots = _roots(spec)
        with _client(spec) as client:
            found: dict[str, str] = {}
            for root in roots:
                for url in _crawl(client, root):
                    relative = unquote(url[len(root) :])
                    if spec.wanted(relative):
                        found.setdefault(url, relative)
            for url in sorted(found):
                if url > after:
                    yield _item(client, spec, url, found[url])


def _roots(spec: SourceSpec) -> list[str]:
    """The folder URLs to sync; ConnectorError (in the active language: the portal's or
    API caller's when setting up, the worker's on a sync) naming one that cannot work."""
    if not spec.paths:
        raise ConnectorError(gettext("The source names no folder URL to sync."))
    roots = []
    for raw in spec.paths:
        parts = urlsplit(raw.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConnectorError(
                gettext("%(url)s is not an http(s) folder URL.") % {"url": repr(raw)}
            )
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ConnectorError(
                gettext("The folder URL %(url)s must not carry a query, fragment or credentials.")
                % {"url": repr(raw)}
            )
        path = parts.path or "/"
        if ".." in unquote(path).split("/"):
            raise ConnectorError(
                gettext("The folder URL %(url)s must not contain '..'.") % {"url": repr(raw)}
            )
        if not path.endswith("/"):
            path += "/"
        roots.append(f"{parts.scheme}://{parts.netloc}{path}")
    return sorted(set(roots))


def _client(spec: SourceSpec) -> httpx.Client:
    username = str(spec.config.get("username") or "")
    password = str(spec.secrets.get("password") or "")
    return httpx.Client(
        auth=httpx.BasicAuth(username, password) if username else None,
        timeout=http_client.TIMEOUT,
        follow_redirects=False,
        event_hooks=http_client.OUTBOUND_HOOKS,
    )


def inside(url: str, root: str) -> bool:
    """True when ``url`` names something below ``root`` (same origin, path under it)."""
    target, base = urlsplit(url), urlsplit(root)
    if (target.scheme, target.netloc.lower()) != (base.scheme, base.netloc.lower()):
        return False
    path = unquote(target.path)
    if target.query or "\\" in path or any(ord(c) < 32 for c in path):
        return False
    segments = path.split("/")
    if ".." in segments or "." in segments:
        return False
    decoded = posixpath.normpath(path) + ("/" if path.endswith("/") else "")
    return decoded.startswith(unquote(base.path)) and decoded != unquote(base.path)


def _crawl(client: httpx.Client, root: str) -> Iterator[str]:
    """Every file URL under ``root``; raises ConnectorError when a folder cannot be listed."""
    queue = [(root, 0)]
    seen = {root}
    while queue:
        folder, depth = queue.pop(0)
        for link in _links(client, folder):
            url = urldefrag(urljoin(folder, link))[0]
            if url in seen or not inside(url, root):
                continue
            seen.add(url)
            if len(seen) > MAX_ENTRIES:
                raise ConnectorError(f"More than {MAX_ENTRIES:,} entries under {root}.")
            if url.endswith("/"):
                if depth + 1 <= MAX_DEPTH:
                    queue.append((url, depth + 1))
            else:
                yield url


def _links(client: httpx.Client, folder: str) -> list[str]:
    try:
        page = http_client.request(client, folder, max_bytes=MAX_LISTING_BYTES)
    except http_client.HTTPProblem as exc:
        raise ConnectorError(f"The folder {folder} could not be listed: {exc.reason}") from exc
    if len(page.content) > MAX_LISTING_BYTES:
        raise ConnectorError(f"The listing of {folder} is too large to be a directory listing.")
    soup = BeautifulSoup(page.content, "lxml")
    return [str(a["href"]) for a in soup.find_all("a", href=True)]


def _item(client: httpx.Client, spec: SourceSpec, url: str, relative: str) -> Item:
    name = relative.rsplit("/", 1)[-1]
    version, size, refused = "", None, ""
    try:
        response = client.head(url)
    except httpx.HTTPError as exc:
        refused = f"The file could not be reached ({type(exc).__name__})."
    else:
        if response.is_redirect:
            refused = "The file's URL redirects elsewhere; it was not followed."
        elif response.status_code >= 400:
            refused = f"The server answered HTTP {response.status_code} for this file."
        else:
            headers = response.headers
            length = headers.get("Content-Length", "")
            size = int(length) if length.isdigit() else None
            marker = [headers.get("ETag", ""), headers.get("Last-Modified", ""), length]
            version = "|".join(marker) if any(marker) else ""
    return Item(
        external_id=url,
        name=name,
        version=version,
        size=size,
        fetch=lambda: _read(client, url),
        readers=spec.readers,
        refused=refused,
        metadata={"url": url, "path": relative},
    )


def _read(client: httpx.Client, url: str) -> bytes:
    try:
        fetched = http_client.request(client, url, max_bytes=settings.MAX_UPLOAD_BYTES)
    except http_client.HTTPProblem as exc:
        raise ItemError(f"The file could not be downloaded: {exc.reason}") from exc
    return fetched.content
