"""An organization's identity provider and the external identities signed in through it.

Both live in the organization's schema: an identity (issuer, subject) only ever
resolves to a user of the organization whose domain the sign-in happened at.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from infra.crypto import decrypt, encrypt


class IdentityProvider(models.Model):
    """The organization's OIDC provider; at most one per organization (schema)."""

    # Always 1: the unique constraint makes this table hold at most one row.
    singleton = models.PositiveSmallIntegerField(default=1, unique=True, editable=False)
    name = models.CharField(
        max_length=100, default="SSO", help_text='Shown on the button "Sign in with <name>".'
    )
    issuer = models.URLField(
        max_length=500,
        help_text="Exactly as the provider states it (the iss claim), "
        "e.g. https://login.microsoftonline.com/<tenant-id>/v2.0",
    )
    discovery_url = models.URLField(
        max_length=500,
        blank=True,
        help_text="Empty: <issuer>/.well-known/openid-configuration.",
    )
    client_id = models.CharField(max_length=255)
    # Fernet ciphertext (infra.crypto); never shown back, never logged.
    client_secret_encrypted = models.TextField(blank=True, editable=False)
    scopes = models.CharField(max_length=255, default="openid email profile")
    allowed_email_domains = models.TextField(
        blank=True,
        help_text="Space- or comma-separated; empty allows any domain the provider asserts.",
    )
    role_claim = models.CharField(
        max_length=100,
        default="groups",
        help_text="The ID token claim whose values are mapped to workspace roles and groups.",
    )
    role_mapping = models.JSONField(
        default=list,
        blank=True,
        help_text='A list of rules: [{"value": "sales-team", "workspace": "sales", '
        '"role": "editor"}]. Roles: viewer, editor, admin.',
    )
    group_mapping = models.JSONField(
        default=list,
        blank=True,
        help_text='A list of rules: [{"value": "finance-team", "group": "finance"}]: '
        "a person whose claim holds the value is a member of the group (by its slug).",
    )
    auto_provision = models.BooleanField(
        default=False, help_text="Create an account on a person's first sign-in."
    )
    link_existing_accounts = models.BooleanField(
        default=False,
        help_text="Let a first SSO sign-in take over the local account with the same email. "
        "Only turn this on if the provider verifies email addresses.",
    )
    enabled = models.BooleanField(default=False)
    password_sign_in_disabled = models.BooleanField(
        default=False, help_text="Refuse email + password sign-in for everyone (SSO only)."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "identity provider"

    def __str__(self) -> str:
        return f"{self.name} ({self.issuer})"

    @property
    def client_secret(self) -> str:
        return decrypt(self.client_secret_encrypted)

    @client_secret.setter
    def client_secret(self, value: str) -> None:
        self.client_secret_encrypted = encrypt(value)

    @property
    def discovery_document_url(self) -> str:
        return self.discovery_url or (self.issuer.rstrip("/") + "/.well-known/openid-configuration")

    @property
    def email_domains(self) -> list[str]:
        return [
            d.strip().lower().lstrip("@")
            for d in self.allowed_email_domains.replace(",", " ").split()
            if d.strip()
        ]


# The provider's settings a person edits, in the order forms show them (the portal's page
# and the admin); ``client_secret`` is written encrypted and never shown back.
OIDC_SETTINGS_FIELDS = (
    "enabled",
    "name",
    "issuer",
    "discovery_url",
    "client_id",
    "client_secret",
    "scopes",
    "allowed_email_domains",
    "auto_provision",
    "link_existing_accounts",
    "role_claim",
    "role_mapping",
    "group_mapping",
    "password_sign_in_disabled",
)


# OIDC allows subjects of up to 255 ASCII characters (Core 1.0, section 2).
SUBJECT_MAX_LENGTH = 255


class ExternalIdentity(models.Model):
    """A person as the identity provider knows them: (issuer, subject), never the email."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_identities"
    )
    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=SUBJECT_MAX_LENGTH)
    # Workspace ids whose membership the role mapping granted at the last sign-in, so a
    # later sign-in can take back what the provider no longer grants (and nothing else).
    managed_workspace_ids = models.JSONField(default=list, blank=True, editable=False)
    # Likewise the group ids whose membership the group mapping granted at the last sign-in.
    managed_group_ids = models.JSONField(default=list, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "external identities"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="one_user_per_identity")
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer} → {self.user}"
