"""Provisioning organizations: schema, domain, default workspace and owner."""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.utils.translation import gettext as _
from django_tenants.utils import get_public_schema_name, schema_context

from accounts.audit import AuditAction, audit_record
from accounts.models import User
from infra.organization_residue import organization_keys_delete, organization_tasks_purge
from infra.storage import objects_delete_under, organization_prefix
from tenants import pool
from tenants.models import Domain, Organization, OrganizationStatus, Plan
from workspaces.models import Membership, Role, Workspace
from workspaces.rls import organization_scope

logger = logging.getLogger(__name__)

# Dropping a schema while a task still writes to it can deadlock (the task holds one of
# its tables and waits for another the drop already holds); the drop is tried again.
DROP_ATTEMPTS = 5
_DEADLOCK = "40P01"

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,40}[a-z0-9]$")
RESERVED_SLUGS = {
    "public", "www", "admin", "api", "static", "pg_catalog", "information_schema",
    # Names of the platform's own pages and hosts, which a customer must not look like.
    "signup", "login", "platform", "operator", "operators", "mail", "smtp", "app",
    "status", "help", "docs", "support", "billing", "metrics", "opaa",
}  # fmt: skip
# Spare schemas of the provisioning pool (tenants.pool) and Postgres' own prefix.
RESERVED_PREFIXES = ("pg-", pool.SPARE_SLUG_PREFIX)


@dataclass(frozen=True)
class OrganizationCreated:
    organization: Organization
    owner: User
    # The generated password, when none was given: shown once to whoever provisions.
    owner_password: str = field(repr=False)


def organization_slug_validate(slug: str) -> str:
    if not SLUG_RE.match(slug):
        raise ValidationError(
            {"slug": _("Use 3-42 lowercase letters, digits and hyphens, starting with a letter.")}
        )
    if slug in RESERVED_SLUGS or slug.startswith(RESERVED_PREFIXES):
        raise ValidationError(
            {"slug": _("The name %(slug)r is reserved; choose another.") % {"slug": slug}}
        )
    return slug


def organization_create(
    *,
    name: str,
    slug: str,
    owner_email: str,
    domain: str | None = None,
    owner_password: str | None = None,
    plan: Plan | None = None,
    status: str = OrganizationStatus.ACTIVE,
) -> OrganizationCreated:
    """Create an organization with its schema, domain, default workspace and owner.

    The schema is a spare claimed from the provisioning pool when one is ready
    (``tenants.pool``: instant); otherwise it is created now, which runs every
    organization migration and takes seconds. ``plan`` None means no limits.
    If any step fails, the organization row and its schema are removed again.
    """
    organization_slug_validate(slug)
    domain = (domain or f"{slug}.{settings.ORGANIZATION_DOMAIN_SUFFIX}").lower()
    if Organization.objects.filter(slug=slug).exists():
        raise ValidationError(
            {"slug": _("An organization named %(slug)r already exists.") % {"slug": slug}}
        )
    if Domain.objects.filter(domain=domain).exists():
        raise ValidationError(
            {"domain": _("The domain %(domain)s is already in use.") % {"domain": domain}}
        )
    password = owner_password or secrets.token_urlsafe(12)

    try:
        organization = pool.spare_claim(name=name, slug=slug, plan=plan, status=status)
        if organization is None:
            organization = Organization(
                name=name, slug=slug, schema_name=slug.replace("-", "_"), plan=plan, status=status
            )
            organization.save()  # creates and migrates the schema
    except IntegrityError as exc:  # a concurrent signup took the name first
        raise ValidationError(
            {"slug": _("An organization named %(slug)r already exists.") % {"slug": slug}}
        ) from exc
    try:
        with transaction.atomic():
            Domain.objects.create(domain=domain, tenant=organization, is_primary=True)
            # Trusted provisioning: sees (and writes) every workspace of the organization.
            with schema_context(organization.schema_name), organization_scope():
                workspace = Workspace.objects.create(
                    name="General", slug="general", is_default=True
                )
                owner = User.objects.create_user(
                    owner_email, password, is_owner=True, is_staff=True, is_superuser=True
                )
                Membership.objects.create(workspace=workspace, user=owner, role=Role.ADMIN)
    except Exception:
        organization.delete(force_drop=True)
        raise
    return OrganizationCreated(organization=organization, owner=owner, owner_password=password)


def organization_delete(*, organization: Organization, audit=None) -> dict[str, int]:
    """Erase an organization: schema, domains, stored objects, Redis keys, queued tasks.

    In this order, each step idempotent, so running it again after a failure finishes
    the job: queued tasks of the organization are removed (nothing new starts), its
    objects under ``org/<schema>/`` are deleted (every version, on S3), its Redis keys
    are deleted, then its schema is dropped with everything in it (users, documents,
    chunks, vectors, postings, conversations, its audit log) together with its public
    rows (domains, usage) — tried again should it deadlock with a task still writing to
    the organization — and Redis and the queues are swept once more for anything a
    running task wrote meanwhile. An ``organization.deleted`` event in the platform's
    audit log records the deletion (slug and counts only). Returns the counts.

    It stays in tenants although every app's data goes: dropping the schema erases all
    their rows at once, without any app's services, and what lies outside the schema is
    the storage layout and the organization's residue (``infra.storage``,
    ``infra.organization_residue``).
    """
    schema, slug, organization_id = organization.schema_name, organization.slug, organization.pk
    counts = {"tasks": organization_tasks_purge(schema)}
    counts["objects"] = objects_delete_under(organization_prefix(schema))
    counts["redis_keys"] = organization_keys_delete(schema, organization_id)
    for attempt in range(1, DROP_ATTEMPTS + 1):
        try:
            with schema_context(get_public_schema_name()), transaction.atomic():
                organization.delete(force_drop=True)
                audit_record(
                    action=AuditAction.ORGANIZATION_DELETED,
                    context=audit,
                    target_type="organization",
                    target_id=slug,
                    extra=dict(counts),
                )
            break
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != _DEADLOCK or attempt == DROP_ATTEMPTS:
                raise
            # A task of the organization was writing (one started before its queued
            # tasks were removed); its transaction ends, the next attempt goes through.
            logger.warning("dropping schema %s deadlocked with a running task; again", schema)
            time.sleep(0.5 * attempt)
    counts["redis_keys"] += organization_keys_delete(schema, organization_id)
    counts["tasks"] += organization_tasks_purge(schema)
    return counts
