"""One adapter per chat platform, found by kind (``adapter_for``). Adding a platform (Teams,
Matrix) is one module implementing ``base.ChatAdapter`` and one line in ``ADAPTERS``."""

from __future__ import annotations

from chat.adapters.base import ChatAdapter
from chat.adapters.matrix import MatrixAdapter
from chat.adapters.mattermost import MattermostAdapter
from chat.adapters.slack import SlackAdapter
from chat.adapters.teams import TeamsAdapter

ADAPTERS: dict[str, type] = {
    "slack": SlackAdapter,
    "mattermost": MattermostAdapter,
    "teams": TeamsAdapter,
    "matrix": MatrixAdapter,
}

# Which secrets each platform needs, with the form's labels (all write-only).
SECRETS: dict[str, dict[str, str]] = {
    "slack": {"signing_secret": "Signing secret", "bot_token": "Bot token (xoxb-…)"},
    "mattermost": {
        "bot_token": "Bot access token",
        "command_token": "Slash command token",
        "webhook_token": "Outgoing webhook token",
    },
    "teams": {
        "app_password": "Client secret (app password)",
        "tenant_id": "Directory (tenant) id: only its people; their Entra ID email links them",
    },
    "matrix": {"access_token": "The bot user's access token"},
}


def adapter_class(kind: str) -> type:
    return ADAPTERS[kind]


__all__ = ["ADAPTERS", "SECRETS", "ChatAdapter", "adapter_class"]
