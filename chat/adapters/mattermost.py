"""Mattermost: a slash command and an outgoing webhook (each verified by its token),
message buttons for feedback, and a bot account posting through the REST API
(``/api/v4/posts``), threads by ``root_id``. Direct messages to the bot reach no
webhook: the bot reads them itself (``chat.mattermost_poll``, every few seconds).

Mattermost signs nothing: the slash command and the outgoing webhook carry the token
Mattermost generated for them (compared in constant time), and a button's request
carries an HMAC of its context made with a secret OPAA generated (``action_secret``).
Every call to the server goes through the outbound guard (an httpx request hook).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from urllib.parse import parse_qs

import httpx
from django.http import HttpRequest, JsonResponse
from django.utils import translation
from django.utils.translation import gettext

from chat.adapters.base import (
    SUBCOMMANDS,
    AnswerView,
    EventKind,
    Incoming,
    IncomingFile,
    Parsed,
    PlatformError,
    PlatformRateLimited,
    RequestRefused,
    platform_request,
    raw_body,
)
from chat.language import chat_user_language, command_replies
from chat.rendering import HELP, text_split

logger = logging.getLogger(__name__)

TIMEOUT_S = 10
# Mattermost takes 16383 characters a post since 5.0; older servers and many clients
# cope badly past 4000, so answers are split there.
POST_CHARS = 4000
_MENTION = re.compile(r"(^|\s)@[\w.\-]+")


def action_signature(secret: str, answer_id: int, helpful: bool) -> str:
    message = f"{answer_id}:{'up' if helpful else 'down'}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _retry_after(response: httpx.Response) -> float:
    """Seconds to wait: ``Retry-After``, else ``X-Ratelimit-Reset`` (seconds), else 1."""
    for header in ("Retry-After", "X-Ratelimit-Reset"):
        try:
            return max(float(response.headers[header]), 0.0)
        except (KeyError, ValueError):
            continue
    return 1.0


class MattermostAdapter:
    kind = "mattermost"
    max_message_chars = POST_CHARS
    help_text = HELP

    def __init__(self, platform, secrets: dict) -> None:
        self.platform = platform
        self.bot_token = secrets.get("bot_token", "")
        self.command_token = secrets.get("command_token", "")
        self.webhook_token = secrets.get("webhook_token", "")
        self.action_secret = secrets.get("action_secret", "")
        self._body: dict | None = None

    # --- inbound ----------------------------------------------------------------------

    def _parsed_body(self, request: HttpRequest) -> dict:
        if self._body is None:
            try:
                if request.content_type == "application/json":
                    body = json.loads(raw_body(request) or b"{}")
                    if not isinstance(body, dict):
                        raise ValueError("not an object")
                else:
                    body = {k: v[0] for k, v in parse_qs(raw_body(request).decode()).items()}
            except (ValueError, UnicodeDecodeError) as exc:
                raise RequestRefused(f"malformed Mattermost request: {exc}", status=400) from exc
            self._body = body
        return self._body

    def verify(self, request: HttpRequest, endpoint: str) -> None:
        body = self._parsed_body(request)
        if endpoint == "actions":
            context = body.get("context") or {}
            try:
                expected = action_signature(
                    self.action_secret, int(context.get("answer")), context.get("vote") == "up"
                )
            except (TypeError, ValueError) as exc:
                raise RequestRefused("malformed button request", status=400) from exc
            if not self.action_secret or not hmac.compare_digest(
                expected, str(context.get("sig", ""))
            ):
                raise RequestRefused("bad button signature")
            return
        expected = {"command": self.command_token, "webhook": self.webhook_token}.get(endpoint)
        if expected is None:
            raise RequestRefused("no such endpoint", status=404)
        if not expected:
            raise RequestRefused(f"no {endpoint} token configured", status=404)
        if not hmac.compare_digest(expected.encode(), str(body.get("token", "")).encode()):
            raise RequestRefused(f"bad Mattermost {endpoint} token")
        if self.platform.team_id and body.get("team_id") != self.platform.team_id:
            raise RequestRefused("request for another Mattermost team", status=403)

    def parse(self, request: HttpRequest, endpoint: str) -> Parsed:
        body = self._parsed_body(request)
        try:
            if endpoint == "command":
                return self._command(body)
            if endpoint == "webhook":
                return self._webhook(body)
            return self._action(body)
        except (KeyError, TypeError, ValueError) as exc:
            raise RequestRefused(f"malformed Mattermost request: {exc}", status=400) from exc

    def _command(self, form: dict) -> Parsed:
        words = (form.get("text") or "").strip()
        sub, _, rest = words.partition(" ")
        if sub.lower() in SUBCOMMANDS:
            command, text = sub.lower(), rest.strip()
        else:
            command, text = "ask", words
        help_text, thinking = command_replies(self.platform, form.get("user_id", ""))
        if command == "help" or (command in ("ask", "search") and not text):
            return Parsed([], JsonResponse({"response_type": "ephemeral", "text": help_text}))
        incoming = Incoming(
            kind=EventKind.QUESTION,
            event_id=f"command:{form.get('trigger_id') or time.time_ns()}",
            user_id=form["user_id"],
            user_name=form.get("user_name", ""),
            channel_id=form["channel_id"],
            text=text,
            command=command,
            thread_id=form.get("root_id", ""),
            is_direct=form.get("channel_name", "").count("__") == 1,
            response_url=form.get("response_url", ""),
        )
        return Parsed([incoming], JsonResponse({"response_type": "ephemeral", "text": thinking}))

    def _webhook(self, body: dict) -> Parsed:
        ok = JsonResponse({})
        if self.platform.bot_user_id and body.get("user_id") == self.platform.bot_user_id:
            return Parsed([], ok)
        file_ids = body.get("file_ids") or ""
        if isinstance(file_ids, str):
            file_ids = [f for f in file_ids.split(",") if f]
        text = _MENTION.sub(" ", body.get("text") or "")
        trigger = body.get("trigger_word") or ""
        if trigger and text.strip().startswith(trigger):
            text = text.strip()[len(trigger) :]
        incoming = Incoming(
            kind=EventKind.QUESTION,
            event_id=f"post:{body['post_id']}",
            user_id=body["user_id"],
            user_name=body.get("user_name", ""),
            channel_id=body["channel_id"],
            text=" ".join(text.split()),
            message_id=body["post_id"],
            files=tuple(IncomingFile(id=f, name="") for f in file_ids),
        )
        return Parsed([incoming], ok)

    def _action(self, body: dict) -> Parsed:
        context = body["context"]
        incoming = Incoming(
            kind=EventKind.FEEDBACK,
            event_id=f"action:{body.get('post_id')}:{body['user_id']}:{context['vote']}",
            user_id=body["user_id"],
            channel_id=body.get("channel_id", ""),
            helpful=context["vote"] == "up",
            answer_id=int(context["answer"]),
            target_message_id=body.get("post_id", ""),
        )
        with translation.override(chat_user_language(self.platform, body["user_id"])):
            thanks = gettext("Thanks for your feedback.")
        return Parsed([incoming], JsonResponse({"ephemeral_text": thanks}))

    # --- outbound ---------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs) -> httpx.Response:
        response = platform_request(
            f"Mattermost {method} {path}",
            method,
            self.platform.api_url.rstrip("/") + "/api/v4/" + path,
            timeout=TIMEOUT_S,
            headers={"Authorization": f"Bearer {self.bot_token}"},
            **kwargs,
        )
        if response.status_code == 429:
            raise PlatformRateLimited(_retry_after(response))
        if response.status_code >= 400:
            try:
                detail = response.json().get("message", "")
            except ValueError:
                detail = ""
            raise PlatformError(
                f"Mattermost {method} {path}: {response.status_code} {detail}".strip(),
                status=response.status_code,
            )
        return response

    def post(self, *, channel_id: str, thread_id: str, part: dict) -> str:
        body = {"channel_id": channel_id, "root_id": thread_id or "", **part}
        return self._call("POST", "posts", json=body).json()["id"]

    def update(self, *, channel_id: str, message_id: str, part: dict) -> None:
        self._call("PUT", f"posts/{message_id}/patch", json=part)

    def respond(self, *, response_url: str, part: dict, first: bool = True) -> None:
        response = platform_request(
            "Mattermost response_url",
            "POST",
            response_url,
            timeout=TIMEOUT_S,
            json={"response_type": "ephemeral", "text": part.get("message", "")},
        )
        if response.status_code == 429:
            raise PlatformRateLimited(_retry_after(response))
        if response.status_code >= 400:
            raise PlatformError(f"Mattermost response_url answered {response.status_code}")

    def post_private(self, *, channel_id: str, user_id: str, thread_id: str, text: str) -> None:
        """An ephemeral post in the channel (``POST /api/v4/posts/ephemeral``), which
        only ``user_id`` sees. It needs the ``create_post_ephemeral`` permission; a bot
        without it (Mattermost answers 403) tells the person in a direct message instead."""
        try:
            self._call(
                "POST",
                "posts/ephemeral",
                json={
                    "user_id": user_id,
                    "post": {
                        "channel_id": channel_id,
                        "root_id": thread_id or "",
                        "message": text,
                    },
                },
            )
            return
        except PlatformError as exc:
            if exc.status != 403:
                raise
        bot = self.platform.bot_user_id or self.bot_identity()
        direct = self._call("POST", "channels/direct", json=[bot, user_id]).json()
        self._call("POST", "posts", json={"channel_id": direct["id"], "message": text})

    # --- direct messages (polled: outgoing webhooks never fire in them) ----------------

    def direct_channels(self) -> dict[str, int]:
        """The bot's direct-message channels and when each last had a post (ms):
        ``GET /api/v4/users/me/channels`` (Mattermost 6.1+), type ``D``."""
        channels = self._call("GET", "users/me/channels").json()
        if not isinstance(channels, list):
            raise PlatformError("Mattermost listed no channels")
        return {
            str(c["id"]): int(c.get("last_post_at") or 0)
            for c in channels
            if isinstance(c, dict) and c.get("type") == "D" and c.get("id")
        }

    def direct_events(self, channel_id: str, since_ms: int, bot_user_id: str) -> list[Incoming]:
        """The questions in a direct channel posted at ``since_ms`` or later
        (``GET /api/v4/channels/{id}/posts?since=``), oldest first: every post of the
        other person is for the bot (no mention needed); a reply in a thread continues
        it. System messages, edits of older posts, deleted posts and bots' posts are
        skipped."""
        found = self._call(
            "GET", f"channels/{channel_id}/posts", params={"since": str(since_ms)}
        ).json()
        posts = [p for p in (found.get("posts") or {}).values() if isinstance(p, dict)]
        events: list[Incoming] = []
        for post in sorted(posts, key=lambda p: int(p.get("create_at") or 0)):
            try:
                incoming = self._direct_post(post, channel_id, since_ms, bot_user_id)
            except (KeyError, TypeError, ValueError):
                logger.info("mattermost: malformed post skipped in %s", channel_id)
                continue
            if incoming is not None:
                events.append(incoming)
        return events

    def _direct_post(
        self, post: dict, channel_id: str, since_ms: int, bot_user_id: str
    ) -> Incoming | None:
        if (
            int(post.get("create_at") or 0) < since_ms
            or post.get("delete_at")
            or post.get("type")  # system messages (joins, header changes, ...)
            or post["user_id"] == bot_user_id
            or (post.get("props") or {}).get("from_bot") in ("true", True)
            or len(str(post["user_id"])) > 64
        ):
            return None
        words = " ".join(_MENTION.sub(" ", str(post.get("message") or "")).split())
        sub, _, rest = words.partition(" ")
        command = "ask"
        if sub.lower() in SUBCOMMANDS:
            command, words = sub.lower(), rest.strip()
        file_ids = [str(f) for f in post.get("file_ids") or [] if f]
        if not words and command == "ask" and not file_ids:
            return None
        return Incoming(
            kind=EventKind.QUESTION,
            event_id=f"post:{post['id']}",
            user_id=str(post["user_id"]),
            channel_id=channel_id,
            text=words,
            command=command,
            thread_id=str(post.get("root_id") or post["id"]),
            message_id=str(post["id"]),
            is_direct=True,
            files=tuple(IncomingFile(id=f, name="") for f in file_ids),
        )

    def thread_of(self, incoming: Incoming) -> str:
        if incoming.thread_id or not incoming.message_id:
            return incoming.thread_id
        post = self._call("GET", f"posts/{incoming.message_id}").json()
        return post.get("root_id") or incoming.message_id

    def user_email(self, user_id: str) -> str | None:
        """Mattermost vouches for an email it marks ``email_verified``."""
        user = self._call("GET", f"users/{user_id}").json()
        email = user.get("email")
        if email and user.get("email_verified") and not user.get("delete_at"):
            return email
        return None

    def file_download(self, file: IncomingFile) -> bytes:
        return self._call("GET", f"files/{file.id}").content

    def file_name(self, file: IncomingFile) -> str:
        return self._call("GET", f"files/{file.id}/info").json().get("name") or "upload"

    def bot_identity(self) -> str:
        return self._call("GET", "users/me").json()["id"]

    # --- rendering --------------------------------------------------------------------

    def render_text(self, text: str) -> dict:
        return {"message": text}

    def render(self, answer: AnswerView) -> list[dict]:
        """Markdown; the sources and the feedback buttons go with the last part."""
        sources = "\n".join(
            f"{s.number}. [{s.title}]({s.url})" + (f" ({s.where})" if s.where else "")
            for s in answer.sources
        )
        tail = "\n\n".join(
            t for t in (f"**{gettext('Sources')}**\n{sources}" if sources else "", answer.note) if t
        )
        pieces = text_split(answer.text, POST_CHARS)
        if tail:
            if pieces and len(pieces[-1]) + len(tail) + 2 <= POST_CHARS:
                pieces[-1] = f"{pieces[-1]}\n\n{tail}"
            else:
                pieces += text_split(tail, POST_CHARS)
        parts: list[dict] = [{"message": piece} for piece in pieces] or [{"message": ""}]
        if answer.answer_id is not None and self.action_secret:
            url = self.platform.portal_url.rstrip("/") + "/chat/mattermost/actions"
            up, down = "👍 " + gettext("Helpful"), "👎 " + gettext("Not helpful")
            parts[-1]["props"] = {
                "attachments": [
                    {
                        "actions": [
                            self._button(url, up, answer.answer_id, True),
                            self._button(url, down, answer.answer_id, False),
                        ]
                    }
                ]
            }
        return parts

    def _button(self, url: str, label: str, answer_id: int, helpful: bool) -> dict:
        vote = "up" if helpful else "down"
        return {
            "id": f"opaa{vote}",
            "name": label,
            "integration": {
                "url": url,
                "context": {
                    "answer": answer_id,
                    "vote": vote,
                    "sig": action_signature(self.action_secret, answer_id, helpful),
                },
            },
        }
