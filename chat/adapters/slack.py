"""Slack: the Events API, the ``/opaa`` slash command, interactivity (buttons) and the
Web API, through ``slack-sdk``.

Every request is verified with the app's signing secret (v0 HMAC-SHA256 of
``v0:<timestamp>:<body>``, a timestamp within 5 minutes, constant-time compare:
``slack_sdk.signature.SignatureVerifier``) and must carry the configured team id. The
3-second acknowledgement is kept by answering at once and leaving the work to Celery.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.request
from urllib.parse import parse_qs, urlsplit

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

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
    raw_body,
)
from chat.language import command_replies
from chat.rendering import HELP, text_split
from infra.outbound import OutboundRefused, private_networks_allowed, url_check

logger = logging.getLogger(__name__)

TIMEOUT_S = 10
# A section block's text may hold 3000 characters; a message's text more, but Slack
# advises about 4000. One section per message keeps every part within both.
SECTION_CHARS = 3000
UP = {"+1", "thumbsup"}
DOWN = {"-1", "thumbsdown"}
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
ACTION_UP, ACTION_DOWN = "opaa_feedback_up", "opaa_feedback_down"
# Slack's own domains (commercial and GovSlack): API, response URLs, files.
SLACK_DOMAINS = ("slack.com", "slack-gov.com")


def slack_url_check(url: str) -> None:
    """Raise ``PlatformError`` unless OPAA may call ``url`` for Slack: the outbound guard,
    and, where private networks are not allowed (a shared installation), https on
    Slack's own domains only. slack-sdk's urllib follows redirects without asking the
    guard again; a URL an organization cannot point elsewhere closes that."""
    if not private_networks_allowed():
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme != "https" or not any(
            host == domain or host.endswith(f".{domain}") for domain in SLACK_DOMAINS
        ):
            raise PlatformError(
                f"{host or url} is not Slack's: this installation calls slack.com and "
                "slack-gov.com only."
            )
    try:
        url_check(url)
    except OutboundRefused as exc:
        raise PlatformError(str(exc)) from exc


def _escape(text: str) -> str:
    """Slack's three control characters (docs: "Escaping text")."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str) -> str:
    """Markdown as Slack's mrkdwn: **bold** is *bold*, [title](url) is <url|title>."""
    text = _escape(text)
    text = _BOLD.sub(r"*\1*", text)
    return _LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1)}>", text)


class SlackAdapter:
    kind = "slack"
    max_message_chars = SECTION_CHARS
    help_text = HELP

    def __init__(self, platform, secrets: dict) -> None:
        self.platform = platform
        self.signing_secret = secrets.get("signing_secret", "")
        self.bot_token = secrets.get("bot_token", "")

    # --- inbound ----------------------------------------------------------------------

    def verify(self, request: HttpRequest, endpoint: str) -> None:
        if not self.signing_secret:
            raise RequestRefused("no signing secret configured", status=404)
        try:
            valid = SignatureVerifier(self.signing_secret).is_valid(
                body=raw_body(request),
                timestamp=request.headers.get("X-Slack-Request-Timestamp"),
                signature=request.headers.get("X-Slack-Signature"),
            )
        except ValueError:  # a timestamp that is not a number
            valid = False
        if not valid:
            raise RequestRefused("bad or expired Slack signature")

    def _team_check(self, team_id: str | None) -> None:
        if self.platform.team_id and team_id != self.platform.team_id:
            raise RequestRefused("request for another Slack team", status=403)

    def parse(self, request: HttpRequest, endpoint: str) -> Parsed:
        try:
            if endpoint == "events":
                return self._events(json.loads(raw_body(request)))
            form = {k: v[0] for k, v in parse_qs(raw_body(request).decode()).items()}
            if endpoint == "commands":
                return self._command(form)
            if endpoint == "interactivity":
                return self._interaction(json.loads(form.get("payload") or "{}"))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RequestRefused(f"malformed Slack request: {exc}", status=400) from exc
        raise RequestRefused("no such endpoint", status=404)

    def _events(self, body: dict) -> Parsed:
        if body.get("type") == "url_verification":
            return Parsed([], JsonResponse({"challenge": body["challenge"]}))
        if body.get("type") != "event_callback":
            return Parsed([], HttpResponse(status=200))
        self._team_check(body.get("team_id"))
        event = body["event"]
        event_id = body["event_id"]
        ok = HttpResponse(status=200)
        if event.get("bot_id") or (
            self.platform.bot_user_id and event.get("user") == self.platform.bot_user_id
        ):
            return Parsed([], ok)
        kind = event.get("type")
        if kind == "reaction_added":
            name = event.get("reaction", "").split("::")[0]
            item = event.get("item") or {}
            if name not in UP | DOWN or item.get("type") != "message":
                return Parsed([], ok)
            return Parsed(
                [
                    Incoming(
                        kind=EventKind.FEEDBACK,
                        event_id=event_id,
                        user_id=event["user"],
                        channel_id=item["channel"],
                        helpful=name in UP,
                        target_message_id=item["ts"],
                    )
                ],
                ok,
            )
        if kind not in ("app_mention", "message"):
            return Parsed([], ok)
        if event.get("subtype") not in (None, "file_share"):
            return Parsed([], ok)  # edits, deletions, joins
        direct = event.get("channel_type") == "im"
        if kind == "message" and not direct and not event.get("thread_ts"):
            return Parsed([], ok)  # channel chatter: only mentions are for the bot
        if kind == "message" and not direct and _MENTION.search(event.get("text", "")):
            return Parsed([], ok)  # a mention in a thread also arrives as app_mention
        files = tuple(
            IncomingFile(
                id=f["id"],
                name=f.get("name") or "upload",
                size=int(f.get("size") or 0),
                url=f.get("url_private_download") or f.get("url_private") or "",
            )
            for f in event.get("files") or ()
        )
        incoming = Incoming(
            kind=EventKind.QUESTION,
            event_id=event_id,
            user_id=event["user"],
            channel_id=event["channel"],
            text=" ".join(_MENTION.sub(" ", event.get("text", "")).split()),
            thread_id=event.get("thread_ts") or "",
            message_id=event["ts"],
            is_direct=direct,
            only_if_thread_known=kind == "message" and not direct,
            files=files,
        )
        return Parsed([incoming], ok)

    def _command(self, form: dict) -> Parsed:
        self._team_check(form.get("team_id"))
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
            event_id=f"command:{form['trigger_id']}",
            user_id=form["user_id"],
            user_name=form.get("user_name", ""),
            channel_id=form["channel_id"],
            text=text,
            command=command,
            is_direct=(form.get("channel_name") == "directmessage"),
            response_url=form.get("response_url", ""),
        )
        return Parsed([incoming], JsonResponse({"response_type": "ephemeral", "text": thinking}))

    def _interaction(self, payload: dict) -> Parsed:
        self._team_check((payload.get("team") or {}).get("id"))
        ok = HttpResponse(status=200)
        if payload.get("type") != "block_actions":
            return Parsed([], ok)
        events = []
        for action in payload.get("actions") or ():
            if action.get("action_id") not in (ACTION_UP, ACTION_DOWN):
                continue
            events.append(
                Incoming(
                    kind=EventKind.FEEDBACK,
                    event_id=f"action:{payload.get('trigger_id') or action.get('action_ts')}",
                    user_id=payload["user"]["id"],
                    channel_id=(payload.get("channel") or {}).get("id", ""),
                    helpful=action["action_id"] == ACTION_UP,
                    answer_id=int(action["value"]),
                    target_message_id=(payload.get("container") or {}).get("message_ts", ""),
                )
            )
        return Parsed(events, ok)

    # --- outbound ---------------------------------------------------------------------

    def _client(self) -> WebClient:
        slack_url_check(self.platform.api_url)
        return WebClient(token=self.bot_token, base_url=self.platform.api_url, timeout=TIMEOUT_S)

    def _call(self, method: str, **kwargs) -> dict:
        try:
            response = getattr(self._client(), method)(**kwargs)
        except SlackApiError as exc:
            if exc.response.status_code == 429:
                raise PlatformRateLimited(
                    float(exc.response.headers.get("Retry-After", 1) or 1)
                ) from exc
            raise PlatformError(f"Slack {method}: {exc.response.get('error')}") from exc
        except OSError as exc:  # urllib: refused, timed out, DNS
            raise PlatformError(f"Slack {method}: {exc}") from exc
        return response.data  # type: ignore[return-value]

    def post(self, *, channel_id: str, thread_id: str, part: dict) -> str:
        data = self._call(
            "chat_postMessage", channel=channel_id, thread_ts=thread_id or None, **part
        )
        return data["ts"]

    def update(self, *, channel_id: str, message_id: str, part: dict) -> None:
        self._call("chat_update", channel=channel_id, ts=message_id, **part)

    def respond(self, *, response_url: str, part: dict, first: bool = True) -> None:
        slack_url_check(response_url)
        try:
            response = WebhookClient(response_url, timeout=TIMEOUT_S).send(
                response_type="ephemeral", replace_original=first, **part
            )
        except OSError as exc:
            raise PlatformError(f"Slack response_url: {exc}") from exc
        if response.status_code == 429:
            raise PlatformRateLimited(float(response.headers.get("Retry-After", 1) or 1))
        if response.status_code >= 400:
            raise PlatformError(f"Slack response_url answered {response.status_code}")

    def post_private(self, *, channel_id: str, user_id: str, thread_id: str, text: str) -> None:
        self._call(
            "chat_postEphemeral",
            channel=channel_id,
            user=user_id,
            thread_ts=thread_id or None,
            text=text,
        )

    def thread_of(self, incoming: Incoming) -> str:
        return incoming.thread_id or incoming.message_id

    def user_email(self, user_id: str) -> str | None:
        """Slack vouches for an email it marks ``is_email_confirmed`` (scope
        ``users:read.email``)."""
        user = self._call("users_info", user=user_id).get("user") or {}
        email = (user.get("profile") or {}).get("email")
        if email and user.get("is_email_confirmed") and not user.get("deleted"):
            return email
        return None

    def file_download(self, file: IncomingFile) -> bytes:
        """The file's bytes (``url_private_download``, with the bot token: scope
        ``files:read``), through the outbound guard."""
        slack_url_check(file.url)
        request = urllib.request.Request(  # noqa: S310 - checked by slack_url_check
            file.url, headers={"Authorization": f"Bearer {self.bot_token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
                return response.read()
        except OSError as exc:
            raise PlatformError(f"Slack file download failed: {exc}") from exc

    def bot_identity(self) -> str:
        return self._call("auth_test")["user_id"]

    # --- rendering --------------------------------------------------------------------

    def render_text(self, text: str) -> dict:
        return {
            "text": text,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn(text)}}],
        }

    def render(self, answer: AnswerView) -> list[dict]:
        """One message per 3000 characters of answer; the sources and the feedback
        buttons go with the last one."""
        pieces = text_split(mrkdwn(answer.text), SECTION_CHARS)
        sources = "\n".join(
            f"[{s.number}] <{s.url}|{_escape(s.title)}>"
            + (f" ({_escape(s.where)})" if s.where else "")
            for s in answer.sources
        )
        parts = [
            {
                "text": piece[:SECTION_CHARS],
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": piece}}],
            }
            for piece in pieces
        ] or [{"text": "", "blocks": []}]
        last = parts[-1]["blocks"]
        for chunk in text_split(sources, SECTION_CHARS) if sources else []:
            last.append({"type": "context", "elements": [{"type": "mrkdwn", "text": chunk}]})
        if answer.note:
            last.append(
                {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn(answer.note)}]}
            )
        if answer.answer_id is not None:
            last.append(
                {
                    "type": "actions",
                    "elements": [
                        _button(":+1: " + gettext("Helpful"), ACTION_UP, answer.answer_id),
                        _button(":-1: " + gettext("Not helpful"), ACTION_DOWN, answer.answer_id),
                    ],
                }
            )
        return parts


def _button(label: str, action_id: str, question_id: int) -> dict:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "action_id": action_id,
        "value": str(question_id),
    }
