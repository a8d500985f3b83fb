"""A Confluence site on loopback that answers like Atlassian's REST APIs, from recorded responses.

The responses in ``tests/data/confluence/<flavour>/`` follow the documented shapes of
Confluence Cloud REST v2 (plus v1's restriction endpoint) and of Data Center's
``/rest/api``. The server paginates them the way the real APIs do (Cloud: opaque
``cursor`` and ``_links.next``; Data Center: ``start``/``limit`` with ``_links.next``),
honours ``expand``/``body-format`` (what is not asked for is not sent), checks the
``Authorization`` header, answers 404 for unknown paths and deleted pages, and can be
told to throttle (429 with ``Retry-After``). Tests change the site between syncs.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

DATA = Path(__file__).resolve().parents[2] / "data" / "confluence"
CLOUD_EMAIL = "robot@acme.example"
CLOUD_TOKEN = "cloud-api-token-never-logged"
DC_TOKEN = "dc-personal-access-token-never-logged"


def _load(path: str):
    return json.loads((DATA / path).read_text())


@dataclass
class Throttle:
    path_part: str
    retry_after: str
    times: int = 1


@dataclass
class ConfluenceSite:
    flavour: str
    # Results per page of a listing, whatever the client's ``limit``: the real APIs also
    # return fewer than asked for, so clients must follow the next link.
    page_size: int = 2
    pages: dict[str, dict] = field(default_factory=dict)
    bodies: dict[str, dict] = field(default_factory=dict)
    attachments: dict[str, list[dict]] = field(default_factory=dict)
    restrictions: dict[str, dict] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    throttles: list[Throttle] = field(default_factory=list)
    requests: list[tuple[str, dict]] = field(default_factory=list)
    space: dict = field(default_factory=dict)
    url: str = ""

    @classmethod
    def recorded(cls, flavour: str) -> ConfluenceSite:
        site = cls(flavour=flavour)
        folder = DATA / flavour
        listing = _load(
            f"{flavour}/pages.json" if flavour == "cloud" else f"{flavour}/content.json"
        )
        for page in listing["results"]:
            site.pages[page["id"]] = page
            site.bodies[page["id"]] = _load(f"{flavour}/page-{page['id']}.json")
        for path in folder.glob("attachments-*.json"):
            page_id = path.stem.removeprefix("attachments-")
            site.attachments[page_id] = json.loads(path.read_text())["results"]
        for path in folder.glob("restrictions-*.json"):
            site.restrictions[path.stem.removeprefix("restrictions-")] = json.loads(
                path.read_text()
            )
        site.space = _load(
            "cloud/spaces.json" if flavour == "cloud" else "datacenter/space-ENG.json"
        )
        pdf = (DATA / "leave-policy.pdf").read_bytes()
        site.files["/download/attachments/1003/leave-policy.pdf"] = pdf
        return site

    # --- what tests change between syncs ------------------------------------------------

    def page_update(self, page_id: str, storage: str) -> None:
        """Edit a page: new body, version + 1 (in the listing and the page itself)."""
        for record in (self.pages[page_id], self.bodies[page_id]):
            record["version"]["number"] += 1
        self.bodies[page_id]["body"]["storage"]["value"] = storage

    def page_delete(self, page_id: str) -> None:
        del self.pages[page_id]
        del self.bodies[page_id]

    def throttle(self, path_part: str, retry_after: str = "1", times: int = 1) -> None:
        self.throttles.append(Throttle(path_part, retry_after, times))

    def asked(self, path: str) -> list[dict]:
        """The query of every request for exactly ``path``."""
        return [query for asked, query in self.requests if asked == path]


class _Handler(BaseHTTPRequestHandler):
    site: ConfluenceSite

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    # --- plumbing -----------------------------------------------------------------------

    def _send(self, status: int, body, headers: dict | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        content_type = "application/octet-stream" if isinstance(body, bytes) else "application/json"
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        if self.site.flavour == "cloud":
            self._send(status, {"errors": [{"status": status, "code": "ERROR", "title": message}]})
        else:
            self._send(status, {"statusCode": status, "message": message, "reason": message})

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        if self.site.flavour == "cloud":
            expected = base64.b64encode(f"{CLOUD_EMAIL}:{CLOUD_TOKEN}".encode()).decode()
            return header == f"Basic {expected}"
        return header == f"Bearer {DC_TOKEN}"

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        self.site.requests.append((path, query))
        if not self._authorized():
            self._error(401, "Unauthorized; scope does not match")
            return
        for throttle in self.site.throttles:
            if throttle.times > 0 and throttle.path_part in path:
                throttle.times -= 1
                headers = {"Retry-After": throttle.retry_after}
                self._send(429, {"message": "Rate limit exceeded"}, headers)
                return
        route = self._cloud if self.site.flavour == "cloud" else self._datacenter
        if not route(path.split("/"), query):
            self._error(404, f"No resource at {path}")

    def _window(self, results: list[dict], offset: int, limit: str | None) -> tuple[list, int]:
        try:
            asked = int(limit or 25)
        except ValueError:
            asked = 0
        if not 1 <= asked <= (250 if self.site.flavour == "cloud" else 1000):
            self._error(400, "limit must be between 1 and 250")
            return [], -1
        size = min(asked, self.site.page_size)
        return results[offset : offset + size], size

    # --- Confluence Cloud ---------------------------------------------------------------

    def _cursor_listing(self, path: str, results: list[dict], query: dict) -> None:
        offset = int(base64.b64decode(query["cursor"]).decode()) if "cursor" in query else 0
        window, size = self._window(results, offset, query.get("limit"))
        if size < 0:
            return
        links = {"base": f"{self.site.url}/wiki"}
        headers = {}
        if offset + size < len(results):
            cursor = base64.b64encode(str(offset + size).encode()).decode()
            rest = {k: v for k, v in query.items() if k != "cursor"} | {"cursor": cursor}
            links["next"] = f"{path}?{urlencode(rest)}"
            headers["Link"] = f'<{links["next"]}>; rel="next"'
        self._send(200, {"results": window, "_links": links}, headers)

    def _cloud(self, segments: list[str], query: dict) -> bool:
        site = self.site
        match segments:
            case ["", "wiki", "api", "v2", "spaces"]:
                keys = set(query.get("keys", "").split(","))
                results = [s for s in site.space["results"] if s["key"] in keys]
                self._send(200, {"results": results, "_links": site.space["_links"]})
            case ["", "wiki", "api", "v2", "spaces", space_id, "pages"]:
                if space_id not in {s["id"] for s in site.space["results"]}:
                    return False
                if query.get("status", "current") != "current":
                    self._error(400, "only current pages are recorded")
                    return True
                listed = [copy.deepcopy(p) for p in sorted(site.pages.values(), key=_id_order)]
                path = f"/wiki/api/v2/spaces/{space_id}/pages"
                self._cursor_listing(path, listed, query)
            case ["", "wiki", "api", "v2", "pages", page_id]:
                if page_id not in site.bodies:
                    return False
                page = copy.deepcopy(site.bodies[page_id])
                if query.get("body-format") != "storage":
                    page["body"] = {}
                self._send(200, page)
            case ["", "wiki", "api", "v2", "pages", page_id, "attachments"]:
                if page_id not in site.pages:
                    return False
                path = f"/wiki/api/v2/pages/{page_id}/attachments"
                self._cursor_listing(path, site.attachments.get(page_id, []), query)
            case [
                "",
                "wiki",
                "rest",
                "api",
                "content",
                page_id,
                "restriction",
                "byOperation",
                "read",
            ]:
                if page_id not in site.pages:
                    return False
                none = json.loads(json.dumps(site.restrictions["none"]).replace("{id}", page_id))
                answer = copy.deepcopy(site.restrictions.get(page_id, none))
                expand = set(query.get("expand", "").split(","))
                for kind in ("user", "group"):
                    if f"restrictions.{kind}" not in expand:
                        del answer["restrictions"][kind]
                self._send(200, answer)
            case ["", "wiki", "download", "attachments", page_id, name]:
                return self._download(page_id, name)
            case _:
                return False
        return True

    def _download(self, page_id: str, name: str) -> bool:
        if page_id not in self.site.pages:
            return False
        data = self.site.files.get(f"/download/attachments/{page_id}/{name}")
        if data is None:
            return False
        self._send(200, data)
        return True

    # --- Confluence Data Center ---------------------------------------------------------

    def _offset_listing(self, path: str, results: list[dict], query: dict) -> None:
        start = int(query.get("start", 0))
        window, size = self._window(results, start, query.get("limit"))
        if size < 0:
            return
        links = {"base": self.site.url, "context": "", "self": f"{self.site.url}{path}"}
        if start + size < len(results):
            rest = query | {"start": str(start + size), "limit": str(size)}
            links["next"] = f"{path}?{urlencode(rest)}"
        body = {"results": window, "start": start, "limit": size, "size": len(window)}
        self._send(200, body | {"_links": links})

    def _datacenter(self, segments: list[str], query: dict) -> bool:
        site = self.site
        expand = set(query.get("expand", "").split(","))
        match segments:
            case ["", "rest", "api", "space", key]:
                if key != site.space["key"]:
                    self._error(404, f"No space found with key : {key}")
                    return True
                self._send(200, site.space)
            case ["", "rest", "api", "content"]:
                if query.get("spaceKey") != site.space["key"] or query.get("type") != "page":
                    self._send(200, {"results": [], "start": 0, "limit": 25, "size": 0,
                                     "_links": {}})  # fmt: skip
                    return True
                listed = [_expanded(p, expand) for p in sorted(site.pages.values(), key=_id_order)]
                self._offset_listing("/rest/api/content", listed, query)
            case ["", "rest", "api", "content", page_id]:
                if page_id not in site.bodies:
                    return False
                self._send(200, _expanded(site.bodies[page_id], expand))
            case ["", "rest", "api", "content", page_id, "child", "attachment"]:
                if page_id not in site.pages:
                    return False
                listed = [_expanded(a, expand) for a in site.attachments.get(page_id, [])]
                self._offset_listing(f"/rest/api/content/{page_id}/child/attachment", listed, query)
            case ["", "download", "attachments", page_id, name]:
                return self._download(page_id, name)
            case _:
                return False
        return True


def _id_order(page: dict) -> int:
    return int(page["id"])


def _expanded(record: dict, expand: set[str]) -> dict:
    """``record`` with only the expansions asked for, the way Data Center answers."""
    record = copy.deepcopy(record)
    wanted = {
        "version": "version" in expand,
        "ancestors": "ancestors" in expand,
        "body": "body.storage" in expand,
    }
    for key, keep in wanted.items():
        if not keep:
            record.pop(key, None)
    read = record.get("restrictions", {}).get("read", {}).get("restrictions", {})
    for kind in ("user", "group"):
        if f"restrictions.read.restrictions.{kind}" not in expand:
            read.pop(kind, None)
    if not any(item.startswith("restrictions") for item in expand):
        record.pop("restrictions", None)
    return record


class ConfluenceServer:
    """``ConfluenceSite`` served on 127.0.0.1 in a background thread."""

    def __init__(self, site: ConfluenceSite) -> None:
        handler = type("Handler", (_Handler,), {"site": site})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.site = site
        site.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return self.site.url

    def __enter__(self) -> ConfluenceServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


__all__ = ["CLOUD_EMAIL", "CLOUD_TOKEN", "DC_TOKEN", "ConfluenceServer", "ConfluenceSite"]
