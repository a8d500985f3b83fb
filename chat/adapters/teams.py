"""Microsoft Teams through the Bot Framework: activities (``message``,
``messageReaction``, ``conversationUpdate``) posted to the organization's messaging
endpoint, each carrying a bearer JWT; replies through the Bot Connector's v3
conversations API at the activity's ``serviceUrl``, with a bot token obtained by
client credentials.

The JWT is validated as the Bot Framework documents it: signed with a key from the
``jwks_uri`` of the Bot Framework's OpenID metadata (``CHAT_TEAMS_OPENID_METADATA_URL``,
a deployment setting, never the owner's), RS256, issuer ``https://api.botframework.com``,
audience the organization's Microsoft App ID, not expired (5 minutes of clock skew), its
``serviceurl`` claim equal to the activity's ``serviceUrl``, and the signing key endorsing
the activity's ``channelId`` (``msteams``). Every outbound call (metadata, keys, token,
Bot Connector) goes through the outbound guard.

Threads: in a channel, the reply chain (the conversation id's ``;messageid=<root>``);
in a personal or group chat, the whole conversation.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
import threading
import time
from urllib.parse import quote

import httpx
import jwt
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
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
from chat.rendering import MENTION_HELP, text_split
from infra.outbound import OutboundRefused, httpx_request_check, url_check

logger = logging.getLogger(__name__)

ISSUER = "https://api.botframework.com"
DEFAULT_OPENID_METADATA_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
TOKEN_SCOPE = "https://api.botframework.com/.default"  # noqa: S105 - a scope, not a secret
LEEWAY_S = 300
TIMEOUT_S = 10
METADATA_TTL_S = 24 * 3600
# Teams takes about 28 KB an activity; Adaptive Card text stays well below it.
CARD_CHARS = 12000
# The framework's thread of a personal or group chat: the whole conversation.
WHOLE_CONVERSATION = "conversation"
HELPFUL_REACTIONS = {"like", "heart"}
UNHELPFUL_REACTIONS = {"sad", "angry"}
_AT = re.compile(r"<at>.*?</at>", re.S)
_TAG = re.compile(r"<[^>]+>")

# Process-wide caches: the metadata (per URL), the key clients (per jwks_uri) and the
# bot tokens (per organization and app id).
_lock = threading.Lock()
_metadata: dict[str, tuple[float, dict]] = {}
_jwk_clients: dict[str, jwt.PyJWKClient] = {}
_tokens: dict[tuple[str, str, str], tuple[float, str]] = {}


def conversation_key(conversation_id: str) -> str:
    """The framework's ``channel_id`` of a conversation (see ``TeamsConversation``)."""
    base = conversation_id.split(";messageid=", 1)[0]
    if len(base) <= 64:
        return base
    return "h:" + hashlib.sha256(base.encode()).hexdigest()[:62]


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(float(response.headers["Retry-After"]), 0.0)
    except (KeyError, ValueError):
        return 1.0


def _get_json(url: str) -> dict:
    try:
        url_check(url)
        with httpx.Client(
            timeout=TIMEOUT_S, event_hooks={"request": [httpx_request_check]}
        ) as client:
            response = client.get(url)
        response.raise_for_status()
        data = response.json()
    except (OutboundRefused, httpx.HTTPError, ValueError) as exc:
        raise RequestRefused(f"Bot Framework metadata unavailable: {exc}", status=503) from exc
    if not isinstance(data, dict):
        raise RequestRefused("Bot Framework metadata is not an object", status=503)
    return data


def openid_metadata() -> dict:
    url = getattr(settings, "CHAT_TEAMS_OPENID_METADATA_URL", "") or DEFAULT_OPENID_METADATA_URL
    with _lock:
        cached = _metadata.get(url)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    data = _get_json(url)
    with _lock:
        _metadata[url] = (time.monotonic() + METADATA_TTL_S, data)
    return data


def _jwk_client(jwks_uri: str) -> jwt.PyJWKClient:
    try:
        url_check(jwks_uri)  # PyJWKClient follows no redirects (2.10+)
    except OutboundRefused as exc:
        raise RequestRefused(f"Bot Framework keys refused: {exc}", status=503) from exc
    with _lock:
        client = _jwk_clients.get(jwks_uri)
        if client is None:
            client = jwt.PyJWKClient(jwks_uri, cache_keys=True, lifespan=METADATA_TTL_S)
            _jwk_clients[jwks_uri] = client
    return client


def caches_clear() -> None:
    """Forget the metadata, keys and tokens (tests: another fake server)."""
    with _lock:
        _metadata.clear()
        _jwk_clients.clear()
        _tokens.clear()


class TeamsAdapter:
    kind = "teams"
    max_message_chars = CARD_CHARS
    help_text = MENTION_HELP

    def __init__(self, platform, secrets: dict) -> None:
        self.platform = platform
        self.app_id = platform.team_id
        self.app_password = secrets.get("app_password", "")
        self.tenant_id = secrets.get("tenant_id", "")
        self._activity: dict | None = None

    # --- inbound ----------------------------------------------------------------------

    def _body(self, request: HttpRequest) -> dict:
        if self._activity is None:
            try:
                body = json.loads(raw_body(request) or b"{}")
            except (ValueError, UnicodeDecodeError) as exc:
                raise RequestRefused(f"malformed activity: {exc}", status=400) from exc
            if not isinstance(body, dict):
                raise RequestRefused("malformed activity: not an object", status=400)
            self._activity = body
        return self._activity

    def verify(self, request: HttpRequest, endpoint: str) -> None:
        if endpoint != "messages":
            raise RequestRefused("no such endpoint", status=404)
        if not self.app_id:
            raise RequestRefused("no Microsoft App ID configured", status=404)
        auth = request.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise RequestRefused("no bearer token")
        metadata = openid_metadata()
        jwks_uri = metadata.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise RequestRefused("Bot Framework metadata without jwks_uri", status=503)
        try:
            key = _jwk_client(jwks_uri).get_signing_key_from_jwt(token)
            algorithms = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[a for a in algorithms if a.startswith("RS")] or ["RS256"],
                audience=self.app_id,
                issuer=ISSUER,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWKClientConnectionError as exc:
            raise RequestRefused(f"Bot Framework keys unavailable: {exc}", status=503) from exc
        except jwt.PyJWTError as exc:  # bad signature, unknown key, audience, issuer, expiry
            raise RequestRefused(f"bad Bot Framework token: {exc.__class__.__name__}") from exc
        activity = self._body(request)
        service_url = str(activity.get("serviceUrl") or "")
        claimed = str(claims.get("serviceurl") or claims.get("serviceUrl") or "")
        if not service_url or claimed.rstrip("/").lower() != service_url.rstrip("/").lower():
            raise RequestRefused("serviceUrl not the token's")
        endorsements = getattr(key, "_jwk_data", {}).get("endorsements")
        if endorsements is not None and activity.get("channelId") not in endorsements:
            raise RequestRefused("signing key does not endorse the channel")
        tenant = ((activity.get("channelData") or {}).get("tenant") or {}).get("id", "")
        if self.tenant_id and tenant != self.tenant_id:
            raise RequestRefused("activity of another Microsoft tenant", status=403)

    def parse(self, request: HttpRequest, endpoint: str) -> Parsed:
        activity = self._body(request)
        ok = HttpResponse(status=200)
        try:
            kind = activity.get("type")
            if kind in ("message", "conversationUpdate", "messageReaction"):
                self._remember(activity)
            if kind == "message":
                return Parsed(self._message(activity), ok)
            if kind == "messageReaction":
                return Parsed(self._reaction(activity), ok)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise RequestRefused(f"malformed activity: {exc}", status=400) from exc
        return Parsed([], ok)  # conversationUpdate, typing, installationUpdate, ...

    def _remember(self, activity: dict) -> None:
        """Keep the conversation's serviceUrl (replies go there) and tenant."""
        from chat.models import TeamsConversation

        conversation_id = activity["conversation"]["id"]
        base = conversation_id.split(";messageid=", 1)[0]
        tenant = ((activity.get("channelData") or {}).get("tenant") or {}).get("id", "")
        TeamsConversation.objects.update_or_create(
            platform=self.platform,
            key=conversation_key(base),
            defaults={
                "conversation_id": base,
                "service_url": activity["serviceUrl"][:500],
                "tenant_id": str(tenant)[:64],
            },
        )

    def _message(self, activity: dict) -> list[Incoming]:
        sender = activity["from"]
        if sender.get("id") == (activity.get("recipient") or {}).get("id"):
            return []
        conversation = activity["conversation"]
        conversation_id = conversation["id"]
        key = conversation_key(conversation_id)
        value = activity.get("value")
        if isinstance(value, dict) and value.get("opaa") == "feedback":
            return [
                Incoming(
                    kind=EventKind.FEEDBACK,
                    event_id=f"vote:{activity['id']}",
                    user_id=sender["id"],
                    channel_id=key,
                    helpful=value.get("vote") == "up",
                    answer_id=int(value["answer"]),
                    target_message_id=str(activity.get("replyToId") or ""),
                )
            ]
        is_channel = conversation.get("conversationType") == "channel"
        if is_channel:
            _, _, root = conversation_id.partition(";messageid=")
            thread = root or activity["id"]
        else:
            thread = WHOLE_CONVERSATION
        text = html.unescape(_TAG.sub(" ", _AT.sub(" ", activity.get("text") or "")))
        words = " ".join(text.split())
        sub, _, rest = words.partition(" ")
        command = "ask"
        if sub.lower().lstrip("/") in SUBCOMMANDS:
            command, words = sub.lower().lstrip("/"), rest.strip()
        files = tuple(
            IncomingFile(
                id=str(a.get("content", {}).get("uniqueId") or a.get("name") or ""),
                name=str(a.get("name") or "upload"),
                url=str((a.get("content") or {}).get("downloadUrl") or ""),
            )
            for a in activity.get("attachments") or []
            if a.get("contentType") == "application/vnd.microsoft.teams.file.download.info"
        )
        if not words and not files and command == "ask":
            return []
        return [
            Incoming(
                kind=EventKind.QUESTION,
                event_id=f"activity:{activity['id']}",
                user_id=sender["id"],
                user_name=str(sender.get("name") or ""),
                channel_id=key,
                text=words,
                command=command,
                thread_id=thread,
                message_id=str(activity["id"]),
                is_direct=conversation.get("conversationType") == "personal",
                files=files,
            )
        ]

    def _reaction(self, activity: dict) -> list[Incoming]:
        events = []
        for reaction in activity.get("reactionsAdded") or []:
            kind = reaction.get("type")
            if kind not in HELPFUL_REACTIONS | UNHELPFUL_REACTIONS:
                continue
            events.append(
                Incoming(
                    kind=EventKind.FEEDBACK,
                    event_id=f"reaction:{activity['id']}:{kind}",
                    user_id=activity["from"]["id"],
                    channel_id=conversation_key(activity["conversation"]["id"]),
                    helpful=kind in HELPFUL_REACTIONS,
                    target_message_id=str(activity.get("replyToId") or ""),
                )
            )
        return events

    # --- outbound ---------------------------------------------------------------------

    def _conversation(self, key: str):
        from chat.models import TeamsConversation

        found = TeamsConversation.objects.filter(platform=self.platform, key=key).first()
        if found is None:
            raise PlatformError(
                "OPAA has not seen this Teams conversation yet: add the bot to the team or "
                "chat and mention it once"
            )
        return found

    def _bot_token(self) -> str:
        cache_key = (
            getattr(connection, "schema_name", ""),
            self.app_id,
            hashlib.sha256(self.app_password.encode()).hexdigest(),
        )
        with _lock:
            cached = _tokens.get(cache_key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        response = platform_request(
            "Teams token",
            "POST",
            self.platform.api_url,
            timeout=TIMEOUT_S,
            data={
                "grant_type": "client_credentials",
                "client_id": self.app_id,
                "client_secret": self.app_password,
                "scope": TOKEN_SCOPE,
            },
        )
        if response.status_code == 429:
            raise PlatformRateLimited(_retry_after(response))
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code >= 400 or not data.get("access_token"):
            raise PlatformError(
                f"Teams token refused: {response.status_code} {data.get('error', '')}".strip()
            )
        expires = float(data.get("expires_in") or 3600)
        with _lock:
            _tokens[cache_key] = (time.monotonic() + max(expires - 300, 60), data["access_token"])
        return data["access_token"]

    def _call(self, method: str, service_url: str, path: str, body: dict) -> dict:
        response = platform_request(
            f"Teams {method} {path}",
            method,
            service_url.rstrip("/") + "/" + path,
            timeout=TIMEOUT_S,
            headers={"Authorization": f"Bearer {self._bot_token()}"},
            json=body,
        )
        if response.status_code == 429:
            raise PlatformRateLimited(_retry_after(response))
        if response.status_code >= 400:
            try:
                detail = (response.json().get("error") or {}).get("code", "")
            except (ValueError, AttributeError):
                detail = ""
            raise PlatformError(f"Teams {method}: {response.status_code} {detail}".strip())
        try:
            return response.json() if response.content else {}
        except ValueError:
            return {}

    def _message_activity(self, part: dict) -> dict:
        return {"type": "message", **part}

    def post(self, *, channel_id: str, thread_id: str, part: dict) -> str:
        conversation = self._conversation(channel_id)
        base = conversation.conversation_id
        if thread_id and thread_id != WHOLE_CONVERSATION:
            target = quote(f"{base};messageid={thread_id}", safe="")
            path = f"v3/conversations/{target}/activities/{quote(thread_id, safe='')}"
            body = {**self._message_activity(part), "replyToId": thread_id}
        else:
            path = f"v3/conversations/{quote(base, safe='')}/activities"
            body = self._message_activity(part)
        return str(self._call("POST", conversation.service_url, path, body).get("id", ""))

    def update(self, *, channel_id: str, message_id: str, part: dict) -> None:
        conversation = self._conversation(channel_id)
        path = (
            f"v3/conversations/{quote(conversation.conversation_id, safe='')}"
            f"/activities/{quote(message_id, safe='')}"
        )
        self._call(
            "PUT",
            conversation.service_url,
            path,
            {**self._message_activity(part), "id": message_id},
        )

    def respond(self, *, response_url: str, part: dict, first: bool = True) -> None:
        raise PlatformError("Teams has no response URLs")

    def post_private(self, *, channel_id: str, user_id: str, thread_id: str, text: str) -> None:
        """Teams has no ephemeral messages: a personal chat with the user is opened (the
        bot must be installed in the team) and the text posted there."""
        conversation = self._conversation(channel_id)
        created = self._call(
            "POST",
            conversation.service_url,
            "v3/conversations",
            {
                "bot": {"id": f"28:{self.app_id}"},
                "members": [{"id": user_id}],
                "isGroup": False,
                "tenantId": conversation.tenant_id,
                "channelData": {"tenant": {"id": conversation.tenant_id}},
            },
        )
        personal = str(created.get("id") or "")
        if not personal:
            raise PlatformError("Teams opened no personal chat")
        path = f"v3/conversations/{quote(personal, safe='')}/activities"
        self._call(
            "POST", conversation.service_url, path, self._message_activity(self.render_text(text))
        )

    def thread_of(self, incoming: Incoming) -> str:
        return incoming.thread_id

    def user_email(self, user_id: str) -> str | None:
        """Teams' roster (``GET /v3/conversations/{id}/members/{user}``) gives the member's
        Entra ID email. It is vouched for only when the owner set the organization's
        tenant id (activities of other tenants are refused then)."""
        return None if not self.tenant_id else self._member_email(user_id)

    def _member_email(self, user_id: str) -> str | None:
        from chat.models import TeamsConversation

        conversation = (
            TeamsConversation.objects.filter(platform=self.platform, tenant_id=self.tenant_id)
            .order_by("-updated_at")
            .first()
        )
        if conversation is None:
            return None
        path = (
            f"v3/conversations/{quote(conversation.conversation_id, safe='')}"
            f"/members/{quote(user_id, safe='')}"
        )
        member = self._call("GET", conversation.service_url, path, {})
        if member.get("tenantId") not in (None, self.tenant_id):
            return None
        email = member.get("email") or member.get("userPrincipalName")
        return str(email) if email else None

    def file_download(self, file: IncomingFile) -> bytes:
        """A file attached in a personal chat (Teams gives a short-lived download URL)."""
        response = platform_request("Teams file", "GET", file.url, timeout=TIMEOUT_S)
        if response.status_code >= 400:
            raise PlatformError(f"Teams file: {response.status_code}")
        return response.content

    def file_name(self, file: IncomingFile) -> str:
        return file.name or "upload"

    def bot_identity(self) -> str:
        self._bot_token()  # checks the app id and password
        return f"28:{self.app_id}"

    # --- rendering --------------------------------------------------------------------

    def render_text(self, text: str) -> dict:
        return {"text": text, "textFormat": "markdown"}

    def render(self, answer: AnswerView) -> list[dict]:
        """Adaptive Cards: the text, then (on the last card) the numbered sources linking
        to the passages and the Helpful / Not helpful buttons."""
        pieces = text_split(answer.text, CARD_CHARS) or [""]
        cards = [[_text_block(piece)] for piece in pieces]
        tail = cards[-1]
        if answer.sources:
            tail.append(_text_block(f"**{gettext('Sources')}**", separator=True))
            for s in answer.sources:
                where = f" ({s.where})" if s.where else ""
                tail.append(_text_block(f"{s.number}. [{_md(s.title)}]({s.url}){where}"))
        if answer.note:
            tail.append(_text_block(answer.note, subtle=True))
        actions = []
        if answer.answer_id is not None:
            actions = [
                _vote("👍 " + gettext("Helpful"), answer.answer_id, "up"),
                _vote("👎 " + gettext("Not helpful"), answer.answer_id, "down"),
            ]
        parts = []
        for index, body in enumerate(cards):
            card = {
                "type": "AdaptiveCard",
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "version": "1.4",
                "body": body,
            }
            if actions and index == len(cards) - 1:
                card["actions"] = actions
            parts.append(
                {
                    "attachments": [
                        {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
                    ]
                }
            )
        return parts


def _md(text: str) -> str:
    """A link's text with its brackets escaped (a title may hold "[draft]")."""
    return re.sub(r"([\[\]])", r"\\\1", text)


def _text_block(text: str, *, separator: bool = False, subtle: bool = False) -> dict:
    block = {"type": "TextBlock", "text": text, "wrap": True}
    if separator:
        block["separator"] = True
    if subtle:
        block["isSubtle"] = True
    return block


def _vote(title: str, answer_id: int, vote: str) -> dict:
    return {
        "type": "Action.Submit",
        "title": title,
        "data": {"opaa": "feedback", "answer": answer_id, "vote": vote},
    }
