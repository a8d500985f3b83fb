"""Membership changes: the one place they are made, each recorded in the audit log."""

from __future__ import annotations

from django.db import transaction

from accounts.audit import AuditAction, AuditContext, audit_record
from workspaces.models import Membership


def _record(action: str, membership: Membership, audit: AuditContext | None, **extra) -> None:
    audit_record(
        action=action,
        context=audit,
        target_type="membership",
        target_id=membership.pk,
        extra={
            "workspace": membership.workspace.slug,
            "user_id": membership.user_id,
            "user": membership.user.email,
            "role": membership.role,
            **extra,
        },
    )


def membership_save(*, membership: Membership, audit: AuditContext | None) -> Membership:
    """Create or update ``membership`` (e.g. from an admin form) and audit the change.

    A save that changes nothing records nothing.
    """
    with transaction.atomic():
        before = (
            Membership.objects.filter(pk=membership.pk).values("role", "user_id").first()
            if membership.pk
            else None
        )
        membership.save()
        if before is None:
            _record(AuditAction.MEMBERSHIP_CREATED, membership, audit)
        elif before["role"] != membership.role or before["user_id"] != membership.user_id:
            _record(AuditAction.MEMBERSHIP_CHANGED, membership, audit, previous_role=before["role"])
    return membership


def membership_delete(*, membership: Membership, audit: AuditContext | None) -> None:
    with transaction.atomic():
        _record(AuditAction.MEMBERSHIP_DELETED, membership, audit)
        membership.delete()
