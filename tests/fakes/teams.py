"""A loopback server speaking the Bot Framework's side of Microsoft Teams, from its
documented shapes (Bot Framework REST API, "Authentication" and "Conversations"):

- the OpenID metadata (``/v1/.well-known/openidconfiguration``: ``issuer``,
  ``jwks_uri``, ``id_token_signing_alg_values_supported``) and its JWKS (``/keys``),
  an RSA key generated per server, with ``endorsements: ["msteams"]``;
- the token endpoint (``/botframework.com/oauth2/v2.0/token``, client credentials:
  ``{"token_type": "Bearer", "expires_in", "access_token"}``; ``invalid_client`` for a
  wrong secret);
- the Bot Connector v3 API at ``/service/``: ``POST v3/conversations`` (a personal
  chat), ``POST v3/conversations/{id}/activities[/{replyToId}]``, ``PUT
  v3/conversations/{id}/activities/{id}``, ``GET v3/conversations/{id}/members/{user}``;
  the bot token required (401 otherwise); 429 with ``Retry-After`` for the next
  ``rate_limit_next`` posts or updates.

``sign(claims)`` makes the bearer JWT Bot Framework would send; ``activity(...)``
builds a Teams activity. Tests read ``activities`` (what the bot posted, updates
applied) and ``requests``.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import unquote

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.fakes.chat_platforms import Recorded, _FakeServer

ISSUER = "https://api.botframework.com"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeBotFramework(_FakeServer):
    def __init__(self, *, app_id: str, app_password: str) -> None:
        super().__init__(token=f"bf-bot-token-{uuid.uuid4().hex}")
        self.app_id = app_id
        self.app_password = app_password
        self.key = rsa_key()
        self.kid = "test-key-1"
        self.endorsements = ["msteams"]
        # activity id -> the activity as posted (conversation, replyToId, body)
        self.activities: dict[str, dict] = {}
        self.members: dict[str, dict] = {}
        self.personal_chats: list[dict] = []

    # --- addresses --------------------------------------------------------------------

    @property
    def metadata_url(self) -> str:
        return f"{self.origin}/v1/.well-known/openidconfiguration"

    @property
    def token_url(self) -> str:
        return f"{self.origin}/botframework.com/oauth2/v2.0/token"

    @property
    def service_url(self) -> str:
        return f"{self.origin}/service/"

    # --- what Bot Framework sends -----------------------------------------------------

    def sign(self, *, key=None, kid: str | None = None, **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": self.app_id,
            "serviceurl": self.service_url,
            "nbf": now - 10,
            "exp": now + 3600,
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(
            claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid}
        )

    def activity(
        self,
        text: str,
        *,
        user: str = "29:alice",
        conversation: str = "19:general@thread.tacv2",
        conversation_type: str = "channel",
        root: str | None = None,
        tenant: str = "tenant-acme",
        activity_type: str = "message",
        **extra: Any,
    ) -> dict:
        activity_id = extra.pop("id", None) or str(int(time.time() * 1000) + self._next_id())
        conversation_id = conversation
        if conversation_type == "channel":
            conversation_id = f"{conversation};messageid={root or activity_id}"
        body = {
            "type": activity_type,
            "id": activity_id,
            "timestamp": "2026-12-06T10:00:00.000Z",
            "serviceUrl": self.service_url,
            "channelId": "msteams",
            "from": {"id": user, "name": user.split(":")[-1], "aadObjectId": str(uuid.uuid4())},
            "conversation": {
                "id": conversation_id,
                "conversationType": conversation_type,
                "tenantId": tenant,
                "isGroup": conversation_type != "personal",
            },
            "recipient": {"id": f"28:{self.app_id}", "name": "OPAA"},
            "text": f"<at>OPAA</at> {text}" if conversation_type == "channel" else text,
            "textFormat": "plain",
            "entities": [
                {"type": "mention", "mentioned": {"id": f"28:{self.app_id}", "name": "OPAA"}}
            ],
            "channelData": {"tenant": {"id": tenant}},
        }
        if root and conversation_type == "channel":
            body["replyToId"] = root
        if conversation_type == "channel":
            body["channelData"]["channel"] = {"id": conversation}
        body.update(extra)
        return body

    def in_conversation(self, conversation: str) -> list[dict]:
        return [a for a in self.activities.values() if a["conversation"].startswith(conversation)]

    # --- routes -----------------------------------------------------------------------

    def route(self, request: Recorded) -> tuple[int, dict, Any]:
        path, method = request.path, request.method
        if path == "/v1/.well-known/openidconfiguration":
            return (
                200,
                {},
                {
                    "issuer": ISSUER,
                    "authorization_endpoint": "https://invalid.botframework.com",
                    "jwks_uri": f"{self.origin}/keys",
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                },
            )
        if path == "/keys":
            jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
            jwk.update(kid=self.kid, use="sig", endorsements=self.endorsements)
            return 200, {}, {"keys": [jwk]}
        if path == "/botframework.com/oauth2/v2.0/token" and method == "POST":
            form = request.body if isinstance(request.body, dict) else {}
            if (
                form.get("grant_type") != "client_credentials"
                or form.get("client_id") != self.app_id
                or form.get("client_secret") != self.app_password
            ):
                return 401, {}, {"error": "invalid_client"}
            return (
                200,
                {},
                {"token_type": "Bearer", "expires_in": 3599, "access_token": self.token},
            )
        if not path.startswith("/service/v3/"):
            return 404, {}, {"error": {"code": "NotFound"}}
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return 401, {}, {"message": "Authorization has been denied for this request."}
        rest = [unquote(p) for p in path[len("/service/v3/") :].split("/")]
        body = request.body if isinstance(request.body, dict) else {}
        if rest == ["conversations"] and method == "POST":
            self.personal_chats.append(body)
            return 201, {}, {"id": f"a:personal-{body['members'][0]['id']}"}
        if len(rest) == 4 and rest[2] == "members" and method == "GET":
            member = self.members.get(rest[3])
            if member is None:
                return 404, {}, {"error": {"code": "MemberNotFoundInConversation"}}
            return 200, {}, member
        if len(rest) >= 3 and rest[0] == "conversations" and rest[2] == "activities":
            if method in ("POST", "PUT") and self._limited():
                return (
                    429,
                    {"Retry-After": str(self.retry_after)},
                    {"error": {"code": "Throttled", "message": "Too many requests"}},
                )
            if method == "PUT" and len(rest) == 4:
                found = self.activities.get(rest[3])
                if found is None:
                    return 404, {}, {"error": {"code": "ActivityNotFound"}}
                found.update(body=body, edited=True)
                return 200, {}, {"id": rest[3]}
            if method == "POST":
                activity_id = f"bot{self._next_id()}"
                self.activities[activity_id] = {
                    "id": activity_id,
                    "conversation": rest[1],
                    "replyToId": rest[3] if len(rest) == 4 else "",
                    "body": body,
                }
                return 201, {}, {"id": activity_id}
        return 404, {}, {"error": {"code": "NotFound"}}
