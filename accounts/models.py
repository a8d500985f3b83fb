"""People. Each organization schema has its own users; the public schema holds operators."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.scopes import Scope


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **fields) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> User:
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an email address.

    Being stored per schema, an email only identifies a user inside one organization:
    the same address in two organizations is two unrelated accounts.
    """

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May use the admin site.")
    # The organization's owner: everything inside the organization.
    is_owner = models.BooleanField(default=False)
    # A non-person holding one service-account token; it never signs in with a password.
    is_service_account = models.BooleanField(default=False)
    date_joined = models.DateTimeField(auto_now_add=True)
    # The portal's and the e-mails' language; "" = the browser's (accounts/language.py).
    language = models.CharField(max_length=8, blank=True, default="")

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email


class TokenKind(models.TextChoices):
    PERSONAL = "pat", _("Personal")
    SERVICE = "sat", _("Service account")


class ApiToken(models.Model):
    """A scoped API token of one organization (it lives in the organization's schema).

    Only the HMAC digest of the token is stored; the token itself is shown once.
    ``user`` is the person (personal token) or the service account it acts as.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=3, choices=TokenKind.choices)
    name = models.CharField(max_length=200)
    prefix = models.CharField(max_length=16, help_text="The first characters, for display.")
    digest = models.CharField(max_length=64, unique=True)
    scopes = ArrayField(models.CharField(max_length=32, choices=Scope.choices))
    # The workspaces it may act in, by id: ``accounts`` is also a public-schema app, where
    # no workspace table exists to point a foreign key at.
    workspace_ids = ArrayField(models.BigIntegerField())
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "active"


class AuditEventQuerySet(models.QuerySet):
    """Append-only: the ORM refuses to change or delete audit events in bulk."""

    def update(self, **kwargs):
        raise PermissionError("Audit events are append-only.")

    def delete(self):
        raise PermissionError("Audit events are append-only.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise PermissionError("Audit events are append-only.")


class AuditEvent(models.Model):
    """One thing that happened: who, what, to what, when, from where.

    Append-only: the ORM refuses updates and deletes, and a database trigger refuses
    UPDATE and DELETE statements from anyone. Actors are stored as ids plus an email
    snapshot (no foreign keys), so deleting a user or token never touches the log.
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=64)
    actor_user_id = models.BigIntegerField(null=True, blank=True)
    actor_email = models.CharField(max_length=254, blank=True)
    actor_token_id = models.BigIntegerField(null=True, blank=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    organization = models.CharField(max_length=63, help_text="The organization's schema.")
    extra = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["action", "-created_at"], name="audit_action_time"),
            models.Index(fields=["actor_user_id", "-created_at"], name="audit_actor_time"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.actor_email}"

    def save(self, *args, **kwargs):
        # The guard the log's contract needs, not business logic: rows are only inserted.
        if self.pk is not None:
            raise PermissionError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit events are append-only.")


# An organization may set any maximum token lifetime up to ten years; beyond that a token
# is as good as permanent, which the required expiry exists to prevent.
TOKEN_MAX_DAYS_CEILING = 3650


class AccessSettings(models.Model):
    """The organization's access rules, edited by its owner (portal or admin).

    At most one row per organization schema (``AccessSettings.current()``); an empty
    field falls back to the installation's setting from the environment.
    """

    # Always 1: the unique constraint makes this table hold at most one row.
    singleton = models.PositiveSmallIntegerField(default=1, unique=True, editable=False)
    token_max_days = models.PositiveIntegerField(
        "maximum token lifetime (days)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(TOKEN_MAX_DAYS_CEILING)],
        help_text="The longest expiry a new API token may have. Empty: the installation's "
        "TOKEN_MAX_DAYS. Tokens made earlier keep their expiry.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "access settings"
        verbose_name_plural = "access settings"

    def __str__(self) -> str:
        return "Access settings"

    @classmethod
    def current(cls) -> AccessSettings:
        """This organization's settings (an unsaved blank one when none were made)."""
        return cls.objects.first() or cls()
