"""Real HTTP servers on loopback that speak the Slack Web API and the Mattermost REST API.

Implemented from the platforms' documented request and response shapes, for what the
chat adapters call:

- **Slack** (``FakeSlackServer``, base ``http://127.0.0.1:PORT/api/``): ``auth.test``,
  ``chat.postMessage``, ``chat.update``, ``chat.postEphemeral``, ``users.info`` (the
  bot token as ``Authorization: Bearer``; ``{"ok": false, "error": "invalid_auth"}``
  otherwise), files at ``/files/<id>`` (``url_private_download``, bot token
  required) and response URLs at ``/response/<id>``. A rate limit answers HTTP 429
  with ``Retry-After`` and ``{"ok": false, "error": "ratelimited"}``.
- **Mattermost** (``FakeMattermostServer``, base ``http://127.0.0.1:PORT``):
  ``POST /api/v4/posts``, ``PUT /api/v4/posts/<id>/patch``, ``GET /api/v4/posts/<id>``,
  ``POST /api/v4/posts/ephemeral``, ``GET /api/v4/users/<id>``, ``GET /api/v4/users/me``,
  ``GET /api/v4/files/<id>[/info]``, response URLs at ``/hooks/commands/<id>``. Errors
  are Mattermost's ``{"id", "message", "status_code"}``; a rate limit answers 429 with
  ``Retry-After`` and ``X-Ratelimit-*``.

Tests script them through attributes (``users``, ``files``, ``rate_limit_next``,
``retry_after``) and read ``requests`` (every request, in order) and ``messages``.
Helpers build signed Slack requests (``slack_sign``).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON or form (a dict), else the raw text


def slack_sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack sends with a request: ``X-Slack-Request-Timestamp`` and
    ``X-Slack-Signature`` (``v0=`` HMAC-SHA256 of ``v0:<timestamp>:<body>``)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    base = f"v0:{timestamp}:".encode() + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "HTTP_X_SLACK_REQUEST_TIMESTAMP": str(timestamp),
        "HTTP_X_SLACK_SIGNATURE": signature,
    }


class _FakeServer:
    """A threaded HTTP server on 127.0.0.1 with a free port; subclasses route requests."""

    def __init__(self, *, token: str) -> None:
        self.token = token
        self.users: dict[str, dict] = {}
        self.files: dict[str, tuple[str, bytes]] = {}
        self.requests: list[Recorded] = []
        # The next ``rate_limit_next`` calls that post or update get 429.
        self.rate_limit_next = 0
        self.retry_after = 1
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                body: Any = raw.decode(errors="replace")
                kind = self.headers.get("Content-Type", "")
                if "json" in kind and raw:
                    body = json.loads(raw)
                elif "x-www-form-urlencoded" in kind or (not raw and parts.query):
                    source = raw.decode() if raw else parts.query
                    body = {k: v[0] for k, v in parse_qs(source).items()}
                record = Recorded(
                    self.command,
                    parts.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with fake._lock:
                    fake.requests.append(record)
                status, headers, payload = fake.route(record)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                ctype = (
                    "application/octet-stream" if isinstance(payload, bytes) else "application/json"
                )
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _limited(self) -> bool:
        with self._lock:
            if self.rate_limit_next > 0:
                self.rate_limit_next -= 1
                return True
        return False

    def _next_id(self) -> int:
        return next(self._ids)

    def wait_for(self, predicate, timeout: float = 60.0):
        """Poll ``predicate(self)`` until it returns something truthy (returned)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = predicate(self)
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError(f"timed out; requests: {[(r.method, r.path) for r in self.requests]}")

    def route(self, request: Recorded) -> tuple[int, dict, Any]:
        raise NotImplementedError


class FakeSlackServer(_FakeServer):
    """Slack's Web API (see the module docstring)."""

    def __init__(self, *, token: str = "xoxb-test-token", team_id: str = "T0ACME") -> None:  # noqa: S107 - a fake
        super().__init__(token=token)
        self.team_id = team_id
        self.bot_user_id = "UBOT"
        # channel -> {ts: message}
        self.messages: dict[str, dict[str, dict]] = {}
        self.ephemeral: list[dict] = []
        self.responses: list[dict] = []

    @property
    def api_url(self) -> str:
        return f"{self.origin}/api/"

    def response_url(self, name: str = "1") -> str:
        return f"{self.origin}/response/{name}"

    def file_url(self, file_id: str) -> str:
        return f"{self.origin}/files/{file_id}"

    def posted(self, channel: str) -> list[dict]:
        """The channel's messages (updates applied), oldest first."""
        return [
            m for _, m in sorted(self.messages.get(channel, {}).items(), key=lambda i: float(i[0]))
        ]

    def route(self, request: Recorded) -> tuple[int, dict, Any]:
        path = request.path
        if path.startswith("/response/"):
            if self._limited():
                return 429, {"Retry-After": str(self.retry_after)}, b"rate_limited"
            self.responses.append(request.body)
            return 200, {}, b"ok"
        authorized = request.headers.get("authorization") == f"Bearer {self.token}"
        if path.startswith("/files/"):
            if not authorized:
                return 403, {}, b"forbidden"
            return 200, {}, self.files[path.rsplit("/", 1)[1]][1]
        if not path.startswith("/api/"):
            return 404, {}, {"ok": False, "error": "unknown_method"}
        method = path[len("/api/") :]
        if not authorized:
            return 200, {}, {"ok": False, "error": "invalid_auth"}
        body = request.body if isinstance(request.body, dict) else {}
        if method == "auth.test":
            return 200, {}, {"ok": True, "user_id": self.bot_user_id, "team_id": self.team_id}
        if method == "users.info":
            user = self.users.get(body.get("user", ""))
            if user is None:
                return 200, {}, {"ok": False, "error": "user_not_found"}
            return 200, {}, {"ok": True, "user": user}
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral") and self._limited():
            return (
                429,
                {"Retry-After": str(self.retry_after)},
                {"ok": False, "error": "ratelimited"},
            )
        channel = body.get("channel", "")
        if method == "chat.postMessage":
            ts = f"{int(time.time())}.{self._next_id():06d}"
            message = {"ts": ts, "text": body.get("text", ""), "blocks": body.get("blocks") or []}
            if body.get("thread_ts"):
                message["thread_ts"] = body["thread_ts"]
            self.messages.setdefault(channel, {})[ts] = message
            return 200, {}, {"ok": True, "channel": channel, "ts": ts, "message": message}
        if method == "chat.update":
            message = self.messages.get(channel, {}).get(body.get("ts", ""))
            if message is None:
                return 200, {}, {"ok": False, "error": "message_not_found"}
            message.update(text=body.get("text", ""), blocks=body.get("blocks") or [], edited=True)
            return (
                200,
                {},
                {"ok": True, "channel": channel, "ts": body["ts"], "text": message["text"]},
            )
        if method == "chat.postEphemeral":
            self.ephemeral.append(body)
            return 200, {}, {"ok": True, "message_ts": f"{int(time.time())}.{self._next_id():06d}"}
        return 200, {}, {"ok": False, "error": "unknown_method"}


class FakeMattermostServer(_FakeServer):
    """Mattermost's REST API v4 (see the module docstring)."""

    def __init__(self, *, token: str = "mm-bot-token") -> None:  # noqa: S107 - a fake
        super().__init__(token=token)
        self.bot_user_id = "botuserid0000000000000000a"
        self.posts: dict[str, dict] = {}
        self.ephemeral: list[dict] = []
        self.responses: list[dict] = []

    @property
    def api_url(self) -> str:
        return self.origin

    def response_url(self, name: str = "1") -> str:
        return f"{self.origin}/hooks/commands/{name}"

    def add_post(self, *, channel_id: str, user_id: str, message: str, root_id: str = "") -> str:
        post_id = f"post{self._next_id():022d}"
        self.posts[post_id] = {
            "id": post_id,
            "channel_id": channel_id,
            "user_id": user_id,
            "root_id": root_id,
            "message": message,
        }
        return post_id

    def in_channel(self, channel_id: str) -> list[dict]:
        return [p for p in self.posts.values() if p["channel_id"] == channel_id]

    @staticmethod
    def _error(status: int, message: str) -> tuple[int, dict, Any]:
        return status, {}, {"id": "api.error", "message": message, "status_code": status}

    def route(self, request: Recorded) -> tuple[int, dict, Any]:
        path, method = request.path, request.method
        if path.startswith("/hooks/commands/"):
            if self._limited():
                return self._limit()
            self.responses.append(request.body)
            return 200, {}, {}
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return self._error(401, "Invalid or expired session, please login again.")
        if not path.startswith("/api/v4/"):
            return self._error(404, "Not found")
        rest = path[len("/api/v4/") :].strip("/").split("/")
        body = request.body if isinstance(request.body, dict) else {}
        if rest == ["users", "me"]:
            return 200, {}, {"id": self.bot_user_id, "username": "opaa", "is_bot": True}
        if rest[0] == "users" and len(rest) == 2:
            user = self.users.get(rest[1])
            return (200, {}, user) if user else self._error(404, "Unable to find the user.")
        if rest[0] == "files":
            name, data = self.files.get(rest[1], ("", b""))
            if not name:
                return self._error(404, "Unable to find the file.")
            if len(rest) == 3 and rest[2] == "info":
                return 200, {}, {"id": rest[1], "name": name, "size": len(data)}
            return 200, {}, data
        if rest == ["posts", "ephemeral"] and method == "POST":
            self.ephemeral.append(body)
            return 201, {}, {**body.get("post", {}), "id": f"eph{self._next_id()}"}
        if rest == ["posts"] and method == "POST":
            if self._limited():
                return self._limit()
            post_id = self.add_post(
                channel_id=body["channel_id"],
                user_id=self.bot_user_id,
                message=body.get("message", ""),
                root_id=body.get("root_id", ""),
            )
            self.posts[post_id]["props"] = body.get("props") or {}
            return 201, {}, self.posts[post_id]
        if rest[0] == "posts" and len(rest) == 3 and rest[2] == "patch" and method == "PUT":
            if self._limited():
                return self._limit()
            post = self.posts.get(rest[1])
            if post is None:
                return self._error(404, "Unable to find the post.")
            post.update({k: v for k, v in body.items() if k in ("message", "props")}, edited=True)
            return 200, {}, post
        if rest[0] == "posts" and len(rest) == 2 and method == "GET":
            post = self.posts.get(rest[1])
            return (200, {}, post) if post else self._error(404, "Unable to find the post.")
        return self._error(404, "Not found")

    def _limit(self) -> tuple[int, dict, Any]:
        return (
            429,
            {
                "Retry-After": str(self.retry_after),
                "X-Ratelimit-Limit": "10",
                "X-Ratelimit-Remaining": "0",
                "X-Ratelimit-Reset": str(self.retry_after),
            },
            {"id": "api.context.rate_limited", "message": "Too many requests", "status_code": 429},
        )
