"""Organizations (one Postgres schema each), the domains they are reached at, their plans,
and their metered usage. Every table here lives in the public schema."""

from __future__ import annotations

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

# The limits a plan sets, in the order they are shown. A limit left empty is unlimited.
LIMITS = (
    "members",
    "documents",
    "storage_bytes",
    "questions_per_day",
    "llm_tokens_per_month",
    "sources",
    "max_upload_bytes",
)


class Plan(models.Model):
    """What an organization may use. ``None`` in a limit means no limit."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    is_default = models.BooleanField(
        default=False, help_text="Given to organizations that sign up."
    )
    members = models.PositiveIntegerField(null=True, blank=True)
    documents = models.PositiveIntegerField(null=True, blank=True)
    storage_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    questions_per_day = models.PositiveIntegerField(null=True, blank=True)
    llm_tokens_per_month = models.PositiveBigIntegerField(null=True, blank=True)
    sources = models.PositiveIntegerField(null=True, blank=True, help_text="Connected sources.")
    max_upload_bytes = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="one_default_plan"
            )
        ]

    def __str__(self) -> str:
        return self.name


class OrganizationStatus(models.TextChoices):
    # A pre-migrated schema waiting in the provisioning pool; nobody can reach it.
    SPARE = "spare", "Spare (provisioning pool)"
    # Signed up; the owner has not yet followed the verification link.
    PENDING = "pending", "Awaiting email verification"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"


class Organization(TenantMixin):
    """A customer: its people, workspaces and documents live in its own schema."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=63, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    plan = models.ForeignKey(
        Plan, null=True, blank=True, on_delete=models.PROTECT, related_name="organizations"
    )
    status = models.CharField(
        max_length=16,
        choices=OrganizationStatus.choices,
        default=OrganizationStatus.ACTIVE,
        db_index=True,
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # Shown to the organization's users while it is suspended.
    suspension_reason = models.CharField(max_length=500, blank=True)
    # Per-organization exceptions to the plan: {"documents": 5000, ...}; null = unlimited.
    quota_overrides = models.JSONField(default=dict, blank=True)

    # Creating the schema (and migrating it) happens when the organization is saved.
    auto_create_schema = True
    auto_drop_schema = True

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    # The schema and its tables belong to the schema owner role, never the application's
    # (docs/security.md): creating, migrating and dropping them reconnects as the owner.
    def create_schema(self, *args, **kwargs):
        from workspaces.rls import schema_owner_connection

        with schema_owner_connection():
            return super().create_schema(*args, **kwargs)

    def _drop_schema(self, *args, **kwargs):
        from workspaces.rls import schema_owner_connection

        with schema_owner_connection():
            return super()._drop_schema(*args, **kwargs)


class Domain(DomainMixin):
    """A host name that routes requests to an organization (``acme.localhost``)."""

    def __str__(self) -> str:
        return self.domain


class UsageDay(models.Model):
    """One organization's usage on one (UTC) day: the durable record of metering.

    ``questions``, ``llm_tokens``, ``documents_added`` and ``sync_runs`` are counts of
    that day; ``documents`` and ``storage_bytes`` are the level at the last measurement.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="usage")
    day = models.DateField()
    questions = models.PositiveIntegerField(default=0)
    llm_tokens = models.PositiveBigIntegerField(default=0)
    documents_added = models.PositiveIntegerField(default=0)
    sync_runs = models.PositiveIntegerField(default=0)
    documents = models.PositiveIntegerField(default=0)
    storage_bytes = models.PositiveBigIntegerField(default=0)
    measured_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "day"], name="one_usage_row_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day}"
