"""Confluence's REST APIs as the connector needs them: list spaces' pages, restrictions
and attachments, fetch a page's storage format and an attachment's bytes.

Cloud: REST v2 with cursor pagination (``_links.next``), plus v1's read-restriction
endpoint, which v2 lacks; basic auth with the account's email and an API token. Data
Center: ``/rest/api`` with ``start``/``limit`` pagination and restrictions expanded in
the listing; a personal access token as bearer token. Errors while listing raise
ConnectorError (the run fails, nothing is deleted); errors fetching one item raise
ItemError. Neither names a credential.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
from django.conf import settings
from django.utils.text import slugify
from django.utils.translation import gettext

from ingestion.connectors import http_client
from ingestion.connectors.base import ConnectorError, ItemError, SourceSpec

CLOUD = "cloud"
DATA_CENTER = "datacenter"
FLAVOURS = (CLOUD, DATA_CENTER)

# The largest pages the APIs hand out (v2: 250; Data Center's default maximum: 100).
CLOUD_LIMIT = 250
DC_LIMIT = 100
# More pages of results than this means a server returning the same cursor forever.
MAX_RESULT_PAGES = 10_000
# Personal spaces' keys start with "~".
_SPACE_KEY = re.compile(r"~?[A-Za-z0-9_.-]{1,255}")
_RESTRICTION_EXPAND = "restrictions.read.restrictions.user,restrictions.read.restrictions.group"


@dataclass
class Page:
    id: str
    title: str
    version: int
    url: str
    # Cloud gives the parent; Data Center the ancestors (outermost first).
    parent_id: str | None = None
    ancestor_ids: list[str] = field(default_factory=list)
    # Data Center's restrictions come with the listing; Cloud's are fetched when needed.
    restriction: frozenset[str] | None = None


class Site:
    """One Confluence site: its client, flavour and the answers it gave during a listing."""

    def __init__(self, spec: SourceSpec) -> None:
        self.base_url, self.flavour, auth = self.settings(spec)
        self.email_domain = str(spec.config.get("email_domain") or "").strip().lstrip("@")
        self.client = httpx.Client(
            base_url=self.base_url,
            auth=auth if isinstance(auth, httpx.Auth) else None,
            headers={"Accept": "application/json"}
            | ({"Authorization": f"Bearer {auth}"} if isinstance(auth, str) else {}),
            timeout=http_client.TIMEOUT,
            follow_redirects=True,  # Cloud downloads redirect to its media store
            event_hooks=http_client.OUTBOUND_HOOKS,
        )
        self._restrictions: dict[str, frozenset[str]] = {}

    def __enter__(self) -> Site:
        return self

    def __exit__(self, *exc) -> None:
        self.client.close()

    @staticmethod
    def settings(spec: SourceSpec) -> tuple[str, str, httpx.Auth | str]:
        config, secrets = spec.config, spec.secrets
        base_url = str(config.get("base_url") or "").strip().rstrip("/")
        flavour = str(config.get("flavour") or "").strip().lower()
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", base_url):
            raise ConnectorError(
                gettext("The Confluence connector needs a base URL (https://...).")
            )
        if flavour not in FLAVOURS:
            raise ConnectorError(gettext("The Confluence flavour must be 'cloud' or 'datacenter'."))
        if not spec.paths:
            raise ConnectorError(gettext("The source names no Confluence space key."))
        for key in spec.paths:
            if not _SPACE_KEY.fullmatch(key):
                raise ConnectorError(
                    gettext("%(key)s is not a Confluence space key.") % {"key": repr(key)}
                )
        if flavour == CLOUD:
            email, token = str(config.get("email") or ""), str(secrets.get("api_token") or "")
            if not email or not token:
                raise ConnectorError(gettext("Confluence Cloud needs an email and an API token."))
            return base_url.removesuffix("/wiki"), flavour, httpx.BasicAuth(email, token)
        token = str(secrets.get("personal_access_token") or "")
        if not token:
            raise ConnectorError(gettext("Confluence Data Center needs a personal access token."))
        return base_url, flavour, token

    # --- requests -------------------------------------------------------------------

    def on_site(self, url: str) -> bool:
        """True for a URL on the configured site: credentials are sent nowhere else.

        Links come from the server's answers (next pages, downloads); one naming another
        host would otherwise receive the token with the request.
        """
        target, base = self.client.base_url.join(url), self.client.base_url
        return (target.scheme, target.host, target.port) == (base.scheme, base.host, base.port)

    def get(self, url: str, params: dict | None = None, *, what: str) -> dict:
        if not self.on_site(url):
            raise ConnectorError(f"Confluence pointed at another site while listing {what}.")
        try:
            return http_client.request(self.client, url, params=params).json()
        except http_client.HTTPProblem as exc:
            raise ConnectorError(_problem(exc, what)) from exc

    def _cursor_results(self, url: str, params: dict, *, what: str) -> Iterator[dict]:
        """Cloud v2: follow ``_links.next`` (relative to the site) until there is none."""
        next_url: str | None = url
        seen = set()
        while next_url and len(seen) < MAX_RESULT_PAGES:
            seen.add(next_url)
            data = self.get(next_url, params if next_url == url else None, what=what)
            yield from data.get("results", [])
            next_url = (data.get("_links") or {}).get("next")
            if next_url in seen:
                raise ConnectorError(
                    f"Confluence returned the same page twice while listing {what}."
                )

    def _offset_results(self, url: str, params: dict, *, what: str) -> Iterator[dict]:
        """Data Center: ``start``/``limit`` until a result page has no ``next`` link."""
        start = 0
        for _ in range(MAX_RESULT_PAGES):
            data = self.get(url, {**params, "start": start, "limit": DC_LIMIT}, what=what)
            results = data.get("results", [])
            yield from results
            if not results or "next" not in (data.get("_links") or {}):
                return
            start += len(results)

    # --- listing --------------------------------------------------------------------

    def pages(self, key: str) -> list[Page]:
        if self.flavour == CLOUD:
            return self._cloud_pages(key)
        return self._dc_pages(key)

    def _cloud_pages(self, key: str) -> list[Page]:
        spaces = self.get("/wiki/api/v2/spaces", {"keys": key}, what=f"space {key}")
        match = [s for s in spaces.get("results", []) if s.get("key") == key]
        if not match:
            raise ConnectorError(
                f"The Confluence space {key} does not exist or the account cannot see it."
            )
        listing = self._cursor_results(
            f"/wiki/api/v2/spaces/{match[0]['id']}/pages",
            {"limit": CLOUD_LIMIT, "status": "current", "sort": "id"},
            what=f"the pages of space {key}",
        )
        return [
            Page(
                id=str(raw["id"]),
                title=str(raw.get("title") or ""),
                version=int((raw.get("version") or {}).get("number") or 0),
                url=self._web_url((raw.get("_links") or {}).get("webui", "")),
                parent_id=str(raw["parentId"]) if raw.get("parentId") else None,
            )
            for raw in listing
        ]

    def _dc_pages(self, key: str) -> list[Page]:
        self.get(f"/rest/api/space/{key}", what=f"space {key}")  # 404 here: no such space
        listing = self._offset_results(
            "/rest/api/content",
            {
                "spaceKey": key,
                "type": "page",
                "status": "current",
                "expand": f"version,ancestors,{_RESTRICTION_EXPAND}",
            },
            what=f"the pages of space {key}",
        )
        pages = []
        for raw in listing:
            read = ((raw.get("restrictions") or {}).get("read") or {}).get("restrictions") or {}
            pages.append(
                Page(
                    id=str(raw["id"]),
                    title=str(raw.get("title") or ""),
                    version=int((raw.get("version") or {}).get("number") or 0),
                    url=self._web_url((raw.get("_links") or {}).get("webui", "")),
                    ancestor_ids=[str(a["id"]) for a in raw.get("ancestors") or []],
                    restriction=self._principals(read),
                )
            )
        return pages

    def restriction(self, page: Page) -> frozenset[str]:
        """Who the page's own read restriction admits (empty: it has none)."""
        if page.restriction is not None:
            return page.restriction
        if page.id not in self._restrictions:
            data = self.get(
                f"/wiki/rest/api/content/{page.id}/restriction/byOperation/read",
                {"expand": "restrictions.user,restrictions.group"},
                what=f"the restrictions of page {page.title!r}",
            )
            self._restrictions[page.id] = self._principals(data.get("restrictions") or {})
        return self._restrictions[page.id]

    def _principals(self, restrictions: dict) -> frozenset[str]:
        principals = set()
        for user in (restrictions.get("user") or {}).get("results") or []:
            principals.add(self._user(user))
        for group in (restrictions.get("group") or {}).get("results") or []:
            name = str(group.get("name") or "")
            slug = slugify(name)
            principals.add(f"group:{slug}" if slug else f"confluence-group:{name}")
        return frozenset(principals)

    def _user(self, user: dict) -> str:
        email = str(user.get("email") or "").strip().lower()
        if email:
            return f"user:{email}"
        username = str(user.get("username") or "").strip().lower()
        if username and self.email_domain:
            return f"user:{username}@{self.email_domain.lower()}"
        return f"confluence-user:{user.get('accountId') or username or user.get('userKey')}"

    def attachments(self, page: Page) -> Iterator[dict]:
        what = f"the attachments of page {page.title!r}"
        if self.flavour == CLOUD:
            listing = self._cursor_results(
                f"/wiki/api/v2/pages/{page.id}/attachments", {"limit": CLOUD_LIMIT}, what=what
            )
        else:
            listing = self._offset_results(
                f"/rest/api/content/{page.id}/child/attachment", {"expand": "version"}, what=what
            )
        for raw in listing:
            links = raw.get("_links") or {}
            extensions = raw.get("extensions") or {}
            download = raw.get("downloadLink") or links.get("download") or ""
            yield {
                "id": str(raw["id"]),
                "title": str(raw.get("title") or ""),
                "version": int((raw.get("version") or {}).get("number") or 0),
                "size": raw.get("fileSize") or extensions.get("fileSize"),
                "download": self._web_url(download),
                "url": self._web_url(raw.get("webuiLink") or links.get("webui") or ""),
            }

    # --- fetching -------------------------------------------------------------------

    def page_storage(self, page: Page) -> str:
        """The page's body in Confluence's storage format (XHTML with macros)."""
        if self.flavour == CLOUD:
            url, params = f"/wiki/api/v2/pages/{page.id}", {"body-format": "storage"}
        else:
            url, params = f"/rest/api/content/{page.id}", {"expand": "body.storage,version"}
        try:
            data = http_client.request(self.client, url, params=params).json()
        except http_client.HTTPProblem as exc:
            raise ItemError(_item_problem(exc)) from exc
        return ((data.get("body") or {}).get("storage") or {}).get("value") or ""

    def download(self, url: str) -> bytes:
        if not self.on_site(url):
            raise ItemError("The attachment's download link points at another site.")
        try:
            fetched = http_client.request(self.client, url, max_bytes=settings.MAX_UPLOAD_BYTES)
        except http_client.HTTPProblem as exc:
            raise ItemError(_item_problem(exc)) from exc
        return fetched.content

    def _web_url(self, link: str) -> str:
        """An absolute URL for a link the API gives relative to the wiki."""
        if not link or link.startswith(("http://", "https://")):
            return link
        root = f"{self.base_url}/wiki" if self.flavour == CLOUD else self.base_url
        return root + (link if link.startswith("/") else f"/{link}")


def _problem(exc: http_client.HTTPProblem, what: str) -> str:
    """A reason for the run's failure, naming what could not be read, never a credential."""
    if exc.status == 401:
        return "Confluence refused the credentials (HTTP 401): check the email and token."
    if exc.status == 403:
        return f"The Confluence account may not read {what} (HTTP 403)."
    if exc.status == 404:
        return f"Confluence found no {what} (HTTP 404): check the base URL and space key."
    if exc.status == 429:
        return (
            f"Confluence kept throttling requests (HTTP 429) after "
            f"{http_client.MAX_ATTEMPTS} attempts; the next run resumes."
        )
    return f"Could not read {what} from Confluence: {exc.reason}"


def _item_problem(exc: http_client.HTTPProblem) -> str:
    if exc.status == 404:
        return "The page or attachment was deleted or hidden after it was listed."
    if exc.status in (401, 403):
        return f"Confluence refused to hand out this item (HTTP {exc.status})."
    return f"Confluence could not hand out this item: {exc.reason}"
