"""Outbound calls of the chat adapters go through the outbound guard; on a shared
installation (private networks not allowed) Slack calls reach Slack's domains only."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError

from accounts.audit import AuditContext
from chat import services
from chat.adapters.base import IncomingFile, PlatformError
from chat.adapters.mattermost import MattermostAdapter
from chat.adapters.slack import SlackAdapter

SLACK = SimpleNamespace(api_url="https://slack.com/api/", portal_url="https://acme.example/")


@pytest.fixture
def shared_installation(settings):
    settings.OUTBOUND_PRIVATE_NETWORKS_ALLOWED = False


def _save(kind: str, api_url: str, secrets: dict):
    return services.platform_save(
        kind=kind,
        enabled=True,
        team_id="T1",
        api_url=api_url,
        commands=["ask"],
        new_secrets=secrets,
        portal_url="https://acme.example/",
        audit=AuditContext(),
    )


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("slack", "http://127.0.0.1:8080/api/"),
        ("slack", "https://evil.example/api/"),
        ("slack", "http://slack.com/api/"),
        ("mattermost", "http://127.0.0.1:8065"),
        ("mattermost", "http://169.254.169.254"),
    ],
)
def test_a_private_or_foreign_address_is_refused_when_saving(acme, shared_installation, kind, url):
    with pytest.raises(ValidationError) as refused:
        _save(kind, url, {"bot_token": "t"})
    assert "api_url" in refused.value.message_dict


def test_slack_response_and_file_urls_elsewhere_are_not_called(shared_installation):
    adapter = SlackAdapter(SLACK, {"bot_token": "xoxb-t"})
    with pytest.raises(PlatformError, match="not Slack's"):
        adapter.respond(response_url="https://hooks.evil.example/commands/1", part={"text": "x"})
    with pytest.raises(PlatformError, match="not Slack's"):
        adapter.file_download(IncomingFile(id="F1", name="a.md", url="http://10.0.0.5/a.md"))


def test_mattermost_calls_are_checked_on_every_request(shared_installation):
    adapter = MattermostAdapter(SimpleNamespace(api_url="http://127.0.0.1:9", portal_url=""), {})
    with pytest.raises(PlatformError, match="private or local network"):
        adapter.bot_identity()
