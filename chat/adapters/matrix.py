"""Matrix: a bot user on the organization's homeserver, through the client-server API
(``/_matrix/client/v3``) with the bot's access token.

Matrix calls nobody: the bot pulls its events with ``/sync`` (``chat.matrix_sync``, one
task per organization), so ``verify``/``parse`` refuse every request (404). A message
mentioning the bot (``m.mentions.user_ids``, or its user id or name in the body) is a
question, answered in a thread (an ``m.thread`` relation to the question, or to the
thread it was asked in); a reply in a thread the bot answers in continues it without a
mention; an ``m.reaction`` 👍/👎 on an answer is feedback; an ``m.file`` attached so
(mentioning the bot in its caption, in a thread with it, or in a direct chat) is
uploaded. Encrypted rooms cannot be read (the bot holds no keys): it says so once
and leaves them (``chat.matrix_sync``). Matrix vouches for no email:
people link their account with the one-time link, which the bot sends in a direct
room it opens with them (Matrix has no private messages in a room). Every call goes
through the outbound guard.
"""

from __future__ import annotations

import html
import logging
import re
import uuid
from urllib.parse import quote

import httpx
from django.http import HttpRequest
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
)
from chat.rendering import MENTION_HELP, text_split

logger = logging.getLogger(__name__)

TIMEOUT_S = 10
# An event may hold 64 KiB of JSON; the text and its HTML both travel in it.
MESSAGE_CHARS = 12000
ID_CHARS = 64
# A question (text) or a document to upload (a file attached to a mention, in a
# thread with the bot, or in a direct chat with it).
MESSAGES = {"m.text", "m.file"}
HELPFUL = {"👍", "👍️", "+1", "❤️"}
UNHELPFUL = {"👎", "👎️", "-1"}


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(float(response.headers["Retry-After"]), 0.0)
    except (KeyError, ValueError):
        pass
    try:
        return max(float(response.json().get("retry_after_ms", 1000)) / 1000, 0.0)
    except (ValueError, AttributeError, TypeError):
        return 1.0


class MatrixAdapter:
    kind = "matrix"
    max_message_chars = MESSAGE_CHARS
    help_text = MENTION_HELP

    def __init__(self, platform, secrets: dict) -> None:
        self.platform = platform
        self.access_token = secrets.get("access_token", "")

    # --- inbound: none over HTTP (see chat.matrix_sync) -------------------------------

    def verify(self, request: HttpRequest, endpoint: str) -> None:
        raise RequestRefused("Matrix is pulled by /sync", status=404)

    def parse(self, request: HttpRequest, endpoint: str) -> Parsed:
        raise RequestRefused("Matrix is pulled by /sync", status=404)

    def events_of(
        self, sync: dict, bot_user_id: str, direct: set[str] | frozenset[str] = frozenset()
    ) -> list[Incoming]:
        """The questions and feedback in one ``/sync`` response's joined rooms; in the
        ``direct`` rooms (the bot's direct chats) every message is for the bot."""
        found: list[Incoming] = []
        for room_id, room in ((sync.get("rooms") or {}).get("join") or {}).items():
            if len(room_id) > ID_CHARS:  # OPAA keeps channel ids of up to 64 characters
                logger.warning("matrix: room id too long, skipped: %s", room_id[:80])
                continue
            for event in (room.get("timeline") or {}).get("events") or []:
                try:
                    incoming = self._event(room_id, event, bot_user_id, room_id in direct)
                except (KeyError, TypeError, AttributeError, ValueError):
                    logger.info("matrix: malformed event skipped in %s", room_id)
                    continue
                if incoming is not None:
                    found.append(incoming)
        return found

    def _event(
        self, room_id: str, event: dict, bot_user_id: str, is_direct: bool
    ) -> Incoming | None:
        sender = event["sender"]
        if sender == bot_user_id or len(sender) > ID_CHARS:
            return None
        content = event.get("content") or {}
        relates = content.get("m.relates_to") or {}
        if event.get("type") == "m.reaction":
            key = str(relates.get("key", "")).strip()
            if relates.get("rel_type") != "m.annotation" or key not in HELPFUL | UNHELPFUL:
                return None
            return Incoming(
                kind=EventKind.FEEDBACK,
                event_id=event["event_id"],
                user_id=sender,
                channel_id=room_id,
                helpful=key in HELPFUL,
                target_message_id=str(relates["event_id"]),
            )
        if event.get("type") != "m.room.message" or content.get("msgtype") not in MESSAGES:
            return None
        if relates.get("rel_type") == "m.replace":
            return None  # an edit
        files: tuple[IncomingFile, ...] = ()
        body = str(content.get("body") or "")
        if content["msgtype"] == "m.file":
            url = str(content.get("url") or "")
            if not url.startswith("mxc://"):
                return None  # an encrypted file ("file" instead of "url"): not readable
            name = str(content.get("filename") or body or "upload")
            size = (content.get("info") or {}).get("size")
            files = (IncomingFile(id=url, name=name[:200], size=int(size or 0), url=url),)
            # A caption is a body that differs from the file's name (Matrix 1.10).
            body = body if content.get("filename") and body != content["filename"] else ""
        localpart = bot_user_id[1:].split(":", 1)[0] if bot_user_id else ""
        mentioned = bot_user_id in ((content.get("m.mentions") or {}).get("user_ids") or [])
        mentioned = mentioned or bool(bot_user_id and bot_user_id in body)
        if localpart and re.match(rf"@?{re.escape(localpart)}\b:?", body, re.I):
            mentioned = True
        in_thread = relates.get("rel_type") == "m.thread"
        mentioned = mentioned or is_direct
        if not mentioned and not in_thread:
            return None
        text = body.replace(bot_user_id, " ") if bot_user_id else body
        if localpart:
            text = re.sub(rf"^\s*@?{re.escape(localpart)}\b:?", " ", text, flags=re.I)
        words = " ".join(text.split())
        sub, _, rest = words.partition(" ")
        command = "ask"
        if sub.lower() in SUBCOMMANDS:
            command, words = sub.lower(), rest.strip()
        if not words and command == "ask" and not files:
            return None
        return Incoming(
            kind=EventKind.QUESTION,
            event_id=event["event_id"],
            user_id=sender,
            channel_id=room_id,
            text=words,
            command=command,
            thread_id=str(relates["event_id"]) if in_thread else event["event_id"],
            message_id=event["event_id"],
            only_if_thread_known=in_thread and not mentioned,
            is_direct=is_direct,
            files=files,
        )

    # --- outbound ---------------------------------------------------------------------

    def _call(self, method: str, path: str, *, timeout: float = TIMEOUT_S, **kwargs) -> dict:
        response = platform_request(
            f"Matrix {method}",
            method,
            self.platform.api_url.rstrip("/") + "/_matrix/client/v3/" + path,
            timeout=timeout,
            headers={"Authorization": f"Bearer {self.access_token}"},
            **kwargs,
        )
        if response.status_code == 429:
            raise PlatformRateLimited(_retry_after(response))
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code >= 400:
            raise PlatformError(
                f"Matrix {method}: {response.status_code} {data.get('errcode', '')}".strip()
            )
        return data if isinstance(data, dict) else {}

    def sync(self, since: str, *, timeout_ms: int = 0) -> dict:
        params = {"timeout": str(timeout_ms)}
        if since:
            params["since"] = since
        else:  # the first sync: where to go on from, without the rooms' history
            params["filter"] = '{"room":{"timeline":{"limit":0}}}'
        return self._call("GET", "sync", params=params, timeout=TIMEOUT_S + timeout_ms / 1000)

    def join(self, room_id: str) -> None:
        self._call("POST", f"join/{quote(room_id, safe='')}", json={})

    def leave(self, room_id: str) -> None:
        self._call("POST", f"rooms/{quote(room_id, safe='')}/leave", json={})

    @staticmethod
    def encrypted_rooms(sync: dict) -> set[str]:
        """The joined rooms of a ``/sync`` response that are (or became) encrypted: an
        ``m.room.encryption`` state event, or ``m.room.encrypted`` events the bot could
        not read anyway (it holds no keys)."""
        found = set()
        for room_id, room in ((sync.get("rooms") or {}).get("join") or {}).items():
            events = [
                *((room.get("state") or {}).get("events") or []),
                *((room.get("timeline") or {}).get("events") or []),
            ]
            if any(
                isinstance(e, dict) and e.get("type") in ("m.room.encryption", "m.room.encrypted")
                for e in events
            ):
                found.add(room_id)
        return found

    def _direct_path(self) -> str:
        bot = self.platform.bot_user_id or self.bot_identity()
        return f"user/{quote(bot, safe='')}/account_data/m.direct"

    def direct_rooms(self) -> dict[str, list[str]]:
        """The bot's direct chats (its ``m.direct`` account data: person → room ids)."""
        try:
            found = self._call("GET", self._direct_path())
        except PlatformError as exc:
            if " 404 " in f"{exc} ":
                return {}
            raise
        return {k: list(v) for k, v in found.items() if isinstance(v, list)}

    def direct_add(self, user_id: str, room_id: str) -> None:
        """Remember ``room_id`` as the bot's direct chat with ``user_id``."""
        rooms = self.direct_rooms()
        if room_id not in rooms.get(user_id, []):
            rooms[user_id] = [*rooms.get(user_id, []), room_id]
            self._call("PUT", self._direct_path(), json=rooms)

    def _send(self, room_id: str, content: dict) -> str:
        path = f"rooms/{quote(room_id, safe='')}/send/m.room.message/{uuid.uuid4().hex}"
        return str(self._call("PUT", path, json=content).get("event_id", ""))

    def post(self, *, channel_id: str, thread_id: str, part: dict) -> str:
        content = dict(part)
        if thread_id:
            content["m.relates_to"] = {
                "rel_type": "m.thread",
                "event_id": thread_id,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": thread_id},
            }
        return self._send(channel_id, content)

    def update(self, *, channel_id: str, message_id: str, part: dict) -> None:
        """An edit (``m.replace``): clients show the new content in place."""
        new = {k: v for k, v in part.items() if k != "m.relates_to"}
        content = {
            **new,
            "body": f"* {new.get('body', '')}",
            "m.new_content": new,
            "m.relates_to": {"rel_type": "m.replace", "event_id": message_id},
        }
        if "formatted_body" in new:
            content["formatted_body"] = f"* {new['formatted_body']}"
        self._send(channel_id, content)

    def respond(self, *, response_url: str, part: dict, first: bool = True) -> None:
        raise PlatformError("Matrix has no response URLs")

    def post_private(self, *, channel_id: str, user_id: str, thread_id: str, text: str) -> None:
        """A direct room with ``user_id`` (invited), and ``text`` in it."""
        room = self._call(
            "POST",
            "createRoom",
            json={"is_direct": True, "invite": [user_id], "preset": "trusted_private_chat"},
        )
        room_id = str(room.get("room_id") or "")
        if not room_id:
            raise PlatformError("Matrix created no room")
        self.direct_add(user_id, room_id)  # their questions there are answered
        self._send(room_id, self.render_text(text))

    def thread_of(self, incoming: Incoming) -> str:
        return incoming.thread_id

    def user_email(self, user_id: str) -> str | None:
        return None  # a homeserver shows nobody else's email: the one-time link it is

    def file_download(self, file: IncomingFile) -> bytes:
        """The file of an ``mxc://server/media-id`` URL, through the authenticated media
        API (``/_matrix/client/v1/media/download``, Matrix 1.11) with the bot's token;
        a homeserver without it (404, ``M_UNRECOGNIZED``) through the older
        ``/_matrix/media/v3/download``."""
        match = re.fullmatch(r"mxc://([A-Za-z0-9.:\-\[\]]+)/([A-Za-z0-9_\-]+)", file.url or file.id)
        if match is None:
            raise PlatformError("not a Matrix media URL")
        server, media = match.groups()
        base = self.platform.api_url.rstrip("/")
        paths = (
            f"/_matrix/client/v1/media/download/{server}/{media}",
            f"/_matrix/media/v3/download/{server}/{media}",
        )
        for path in paths:
            response = platform_request(
                "Matrix media download",
                "GET",
                base + path,
                timeout=TIMEOUT_S * 3,
                headers={"Authorization": f"Bearer {self.access_token}"},
                follow_redirects=True,  # to a media store: each hop passes the guard
            )
            if response.status_code == 429:
                raise PlatformRateLimited(_retry_after(response))
            if response.status_code in (400, 404) and path is paths[0]:
                try:
                    unrecognized = response.json().get("errcode") == "M_UNRECOGNIZED"
                except ValueError:
                    unrecognized = True  # a server that knows no such path at all
                if unrecognized:
                    continue
            if response.status_code >= 400:
                raise PlatformError(
                    f"Matrix media download: {response.status_code}", status=response.status_code
                )
            return response.content
        raise PlatformError("Matrix media download: not offered by the homeserver")

    def bot_identity(self) -> str:
        return str(self._call("GET", "account/whoami").get("user_id", ""))

    # --- rendering --------------------------------------------------------------------

    def render_text(self, text: str) -> dict:
        return {"msgtype": "m.notice", "body": text}

    def render(self, answer: AnswerView) -> list[dict]:
        """Markdown-ish ``body`` and HTML ``formatted_body``; the sources on the last."""
        pieces = text_split(answer.text, MESSAGE_CHARS) or [""]
        parts = [
            {
                "msgtype": "m.notice",
                "body": piece,
                "format": "org.matrix.custom.html",
                "formatted_body": html.escape(piece).replace("\n", "<br>"),
            }
            for piece in pieces
        ]
        tail_text, tail_html = [], []
        if answer.sources:
            tail_text.append(gettext("Sources") + ":")
            items = []
            for s in answer.sources:
                where = f" ({s.where})" if s.where else ""
                tail_text.append(f"{s.number}. {s.title}{where}: {s.url}")
                items.append(
                    f'<li><a href="{html.escape(s.url)}">{html.escape(s.title)}</a>'
                    f"{html.escape(where)}</li>"
                )
            heading = html.escape(gettext("Sources"))
            tail_html.append(f"<p><strong>{heading}</strong></p><ol>{''.join(items)}</ol>")
        if answer.note:
            tail_text.append(answer.note)
            tail_html.append(f"<p><em>{html.escape(answer.note)}</em></p>")
        if answer.answer_id is not None:
            hint = gettext("React with 👍 or 👎 to tell us if this helped.")
            tail_text.append(hint)
            tail_html.append(f"<p>{html.escape(hint)}</p>")
        if tail_text:
            parts[-1]["body"] += "\n\n" + "\n".join(tail_text)
            parts[-1]["formatted_body"] += "".join(tail_html)
        return parts
