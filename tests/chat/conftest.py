"""Fixtures of the chat tests: the loopback fakes of Slack and Mattermost, Acme's
platforms configured against them, and helpers to send the platforms' requests.

Acme's channel ``CGEN`` (Slack) / ``mmgeneral`` (Mattermost) is mapped to General;
alice's chat account carries her confirmed email, so the platform vouches for it.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
from django.test import Client

from accounts.audit import AuditContext
from chat import services
from chat.models import Command, PlatformKind
from tests.chat.fake_mattermost import FakeMattermost
from tests.fakes.chat_platforms import FakeMattermostServer, FakeSlackServer, slack_sign
from workspaces.models import Workspace

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
COMMAND_TOKEN = "mm-command-token"
WEBHOOK_TOKEN = "mm-webhook-token"
ALL_COMMANDS = list(Command.values)


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """Call ``request()`` and run what it queued (the eager tasks) as a commit would."""

    def run(request):
        with django_capture_on_commit_callbacks(execute=True):
            return request()

    return run


def slack_user(user_id: str, email: str, *, confirmed: bool = True) -> dict:
    """A user object as ``users.info`` returns it."""
    return {
        "id": user_id,
        "name": email.split("@")[0],
        "deleted": False,
        "is_bot": False,
        "is_email_confirmed": confirmed,
        "profile": {"email": email, "real_name": email.split("@")[0]},
    }


def mattermost_user(user_id: str, email: str, *, verified: bool = True) -> dict:
    return {
        "id": user_id,
        "username": email.split("@")[0],
        "email": email,
        "email_verified": verified,
        "delete_at": 0,
    }


@pytest.fixture
def slack():
    with FakeSlackServer() as server:
        server.users["UALICE"] = slack_user("UALICE", "alice@acme.example")
        server.users["UBOB"] = slack_user("UBOB", "bob@acme.example")
        server.users["USTRANGER"] = slack_user("USTRANGER", "someone@elsewhere.example")
        server.users["UUNCONFIRMED"] = slack_user(
            "UUNCONFIRMED", "alice@acme.example", confirmed=False
        )
        yield server


def slack_configure(server: FakeSlackServer, *, secret: str = SIGNING_SECRET, team: str = "T0ACME"):
    """Acme's (the current organization's) Slack platform against ``server``, with CGEN
    mapped to General."""
    platform = services.platform_save(
        kind=PlatformKind.SLACK,
        enabled=True,
        team_id=team,
        api_url=server.api_url,
        commands=ALL_COMMANDS,
        new_secrets={"signing_secret": secret, "bot_token": server.token},
        portal_url="http://acme.localhost/",
        audit=AuditContext(),
    )
    services.mapping_add(
        platform=platform,
        channel_id="CGEN",
        name="#general",
        workspace=Workspace.objects.get(slug="general"),
        audit=AuditContext(),
    )
    return platform


@pytest.fixture
def slack_platform(acme, slack):
    return slack_configure(slack)


class SlackSender:
    """Sends Slack's requests (signed) to an organization's domain."""

    def __init__(self, domain: str, secret: str = SIGNING_SECRET, team: str = "T0ACME") -> None:
        self.client = Client(HTTP_HOST=domain)
        self.secret = secret
        self.team = team
        self._ids = iter(range(1, 10**6))

    def post(self, path: str, body: bytes, content_type: str, *, timestamp=None, headers=None):
        signed = slack_sign(self.secret, body, timestamp)
        return self.client.generic(
            "POST", path, body, content_type=content_type, **signed, **(headers or {})
        )

    def event(self, event: dict, *, event_id: str | None = None, team: str | None = None, **kw):
        body = {
            "token": "unused-verification-token",
            "team_id": team or self.team,
            "api_app_id": "A0OPAA",
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._ids):08d}",
            "event_time": int(time.time()),
            "event": event,
        }
        return self.post("/chat/slack/events", json.dumps(body).encode(), "application/json", **kw)

    def mention(self, text: str, *, user="UALICE", channel="CGEN", ts=None, thread_ts=None, **kw):
        event = {
            "type": "app_mention",
            "user": user,
            "text": f"<@UBOT> {text}",
            "ts": ts or f"{time.time():.6f}",
            "channel": channel,
            "event_ts": f"{time.time():.6f}",
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        return self.event(event, **kw)

    def command(self, text: str, *, user="UALICE", channel="CGEN", response_url="", **kw):
        form = {
            "token": "unused",
            "team_id": self.team,
            "team_domain": "acme",
            "channel_id": channel,
            "channel_name": "general",
            "user_id": user,
            "user_name": "alice",
            "command": "/opaa",
            "text": text,
            "response_url": response_url,
            "trigger_id": f"{next(self._ids)}.1234.abcd",
            "api_app_id": "A0OPAA",
        }
        return self.post(
            "/chat/slack/commands",
            urlencode(form).encode(),
            "application/x-www-form-urlencoded",
            **kw,
        )

    def button(self, answer_id: int, *, up: bool = True, user="UALICE", channel="CGEN", ts=""):
        payload = {
            "type": "block_actions",
            "team": {"id": self.team, "domain": "acme"},
            "user": {"id": user},
            "channel": {"id": channel},
            "container": {"type": "message", "message_ts": ts, "channel_id": channel},
            "trigger_id": f"{next(self._ids)}.5678.efgh",
            "actions": [
                {
                    "action_id": "opaa_feedback_up" if up else "opaa_feedback_down",
                    "value": str(answer_id),
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self.post("/chat/slack/interactivity", body, "application/x-www-form-urlencoded")


@pytest.fixture
def slack_sender(world):
    return SlackSender(world.acme.domain)


@pytest.fixture
def mattermost():
    with FakeMattermost() as server:
        server.users["mmalice"] = mattermost_user("mmalice", "alice@acme.example")
        server.users["mmbob"] = mattermost_user("mmbob", "bob@acme.example")
        server.users["mmnobody"] = mattermost_user("mmnobody", "x@acme.example", verified=False)
        yield server


def mattermost_configure(server: FakeMattermostServer):
    platform = services.platform_save(
        kind=PlatformKind.MATTERMOST,
        enabled=True,
        team_id="mmteam",
        api_url=server.api_url,
        commands=ALL_COMMANDS,
        new_secrets={
            "bot_token": server.token,
            "command_token": COMMAND_TOKEN,
            "webhook_token": WEBHOOK_TOKEN,
        },
        portal_url="http://acme.localhost/",
        audit=AuditContext(),
    )
    services.mapping_add(
        platform=platform,
        channel_id="mmgeneral",
        name="town-square",
        workspace=Workspace.objects.get(slug="general"),
        audit=AuditContext(),
    )
    return platform


@pytest.fixture
def mattermost_platform(acme, mattermost):
    return mattermost_configure(mattermost)


def wait_until(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("timed out")
