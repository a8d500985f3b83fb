"""The owner's form for one chat platform; secrets are write-only (never rendered)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from chat.adapters import SECRETS
from chat.models import ChatPlatform, Command, PlatformKind

API_URL_LABEL = {
    PlatformKind.SLACK: "Slack API URL",
    PlatformKind.MATTERMOST: "Mattermost server URL",
    PlatformKind.TEAMS: "Token endpoint",
    PlatformKind.MATRIX: "Homeserver URL",
}
API_URL_HELP = {
    PlatformKind.SLACK: "https://slack.com/api/ (GovSlack: https://slack-gov.com/api/).",
    PlatformKind.MATTERMOST: "The address people open Mattermost at, e.g. https://chat.example.com.",
    PlatformKind.TEAMS: "Empty: https://login.microsoftonline.com/botframework.com/oauth2/v2.0/"
    "token (single-tenant bots: your tenant id instead of botframework.com).",
    PlatformKind.MATRIX: "The homeserver's client-server address, e.g. https://matrix.example.com.",
}
TEAM_HELP = {
    PlatformKind.SLACK: "The Slack workspace's team id (T…): requests of other teams are refused.",
    PlatformKind.MATTERMOST: "Optional: only this team's requests are taken.",
    PlatformKind.TEAMS: "The Azure Bot's Microsoft App ID (the tokens' audience).",
    PlatformKind.MATRIX: "Not used.",
}


class PlatformForm(forms.Form):
    enabled = forms.BooleanField(required=False, initial=True, label=_("Answer on this platform"))
    team_id = forms.CharField(required=False, max_length=64, label=_("Team id"))
    api_url = forms.URLField(required=False, max_length=500, assume_scheme="https")
    commands = forms.MultipleChoiceField(
        choices=Command.choices, required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, kind: str, stored: set[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.fields["api_url"].label = API_URL_LABEL[kind]
        self.fields["api_url"].help_text = API_URL_HELP[kind]
        self.fields["team_id"].help_text = TEAM_HELP[kind]
        if kind in (PlatformKind.SLACK, PlatformKind.TEAMS):
            self.fields["team_id"].required = True
        for name, label in SECRETS[kind].items():
            self.fields[f"secret_{name}"] = forms.CharField(
                required=False,
                max_length=500,
                label=label,
                strip=True,
                widget=forms.PasswordInput(
                    render_value=False, attrs={"autocomplete": "new-password"}
                ),
                help_text=_("Stored (encrypted). Leave empty to keep it.")
                if name in stored
                else _("Not set yet."),
            )

    @classmethod
    def initial_for(cls, platform: ChatPlatform | None) -> dict:
        if platform is None:
            return {"enabled": True, "commands": [Command.ASK, Command.SEARCH, Command.SOURCES]}
        return {
            "enabled": platform.enabled,
            "team_id": platform.team_id,
            "api_url": platform.api_url,
            "commands": platform.commands,
        }

    def secret_fields(self):
        return [self[f"secret_{name}"] for name in SECRETS[self.kind]]

    def new_secrets(self) -> dict[str, str]:
        return {name: self.cleaned_data.get(f"secret_{name}") or "" for name in SECRETS[self.kind]}
