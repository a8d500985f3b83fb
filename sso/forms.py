"""The identity provider's form, shared by the portal settings page and the admin."""

from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from sso import services
from sso.models import OIDC_SETTINGS_FIELDS, IdentityProvider


class IdentityProviderForm(forms.ModelForm):
    client_secret = forms.CharField(
        label=_("Client secret"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("Stored encrypted and never shown again; leave empty to keep the current one."),
    )
    issuer = forms.URLField(
        label=_("Issuer"),
        max_length=500,
        assume_scheme="https",
        help_text=_(
            "Exactly as the provider states it (the iss claim), "
            "e.g. https://login.microsoftonline.com/<tenant-id>/v2.0"
        ),
    )
    discovery_url = forms.URLField(
        label=_("Discovery URL"),
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text=_("Empty: <issuer>/.well-known/openid-configuration."),
    )
    role_mapping = forms.CharField(
        label=_("Role mapping"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            'JSON list, e.g. [{"value": "sales-team", "workspace": "sales", '
            '"role": "editor"}]. Roles: viewer, editor, admin.'
        ),
    )
    group_mapping = forms.CharField(
        label=_("Group mapping"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            'JSON list, e.g. [{"value": "finance-team", "group": "finance"}]: the role '
            "claim's values that make a person a member of a group (by its slug)."
        ),
    )

    class Meta:
        model = IdentityProvider
        fields = list(OIDC_SETTINGS_FIELDS)
        labels = {
            "enabled": _("Enabled"),
            "name": _("Name"),
            "client_id": _("Client ID"),
            "scopes": _("Scopes"),
            "allowed_email_domains": _("Allowed email domains"),
            "auto_provision": _("Auto provision"),
            "link_existing_accounts": _("Link existing accounts"),
            "role_claim": _("Role claim"),
            "password_sign_in_disabled": _("Disable password sign-in"),
        }
        # The model's help texts, in the reader's language.
        help_texts = {
            "name": _('Shown on the button "Sign in with <name>".'),
            "allowed_email_domains": _(
                "Space- or comma-separated; empty allows any domain the provider asserts."
            ),
            "role_claim": _(
                "The ID token claim whose values are mapped to workspace roles and groups."
            ),
            "auto_provision": _("Create an account on a person's first sign-in."),
            "link_existing_accounts": _(
                "Let a first SSO sign-in take over the local account with the same email. "
                "Only turn this on if the provider verifies email addresses."
            ),
            "password_sign_in_disabled": _(
                "Refuse email + password sign-in for everyone (SSO only)."
            ),
        }
        widgets = {"allowed_email_domains": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["role_mapping"] = json.dumps(self.instance.role_mapping or [], indent=1)
            self.initial["group_mapping"] = json.dumps(self.instance.group_mapping or [], indent=1)

    def _mapping_rules(self, field: str, validate):
        """The JSON list typed into ``field`` (empty: none), checked by ``validate``."""
        text = (self.cleaned_data.get(field) or "").strip() or "[]"
        try:
            rules = json.loads(text)
        except ValueError as exc:
            message = {
                "role_mapping": _("The role mapping is not valid JSON."),
                "group_mapping": _("The group mapping is not valid JSON."),
            }[field]
            raise ValidationError(message) from exc
        return validate(rules)

    def clean_role_mapping(self):
        return self._mapping_rules("role_mapping", services.role_mapping_validate)

    def clean_group_mapping(self):
        return self._mapping_rules("group_mapping", services.group_mapping_validate)

    def clean_scopes(self):
        scopes = self.cleaned_data["scopes"].split()
        if "openid" not in scopes:
            raise ValidationError(_('The scopes must include "openid".'))
        return " ".join(scopes)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        provider = self.instance
        for name in self.Meta.fields:
            if name != "client_secret" and name in cleaned:
                setattr(provider, name, cleaned[name])
        secret = cleaned.get("client_secret")
        if secret:
            provider.client_secret = secret
        services.identity_provider_validate(provider=provider)
        return cleaned

    def save(self, commit=True, *, audit=None):
        """Save through ``sso.services.identity_provider_save``; ``audit`` (an
        ``AuditContext``) names who changed the settings in the audit log."""
        provider = super().save(commit=False)
        if commit:
            services.identity_provider_save(
                provider=provider,
                client_secret=self.cleaned_data.get("client_secret"),
                audit=audit,
            )
        return provider
