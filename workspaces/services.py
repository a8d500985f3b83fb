"""Membership and group changes, and creating, renaming, archiving, restoring and
deleting a workspace: the one place they are made, each recorded in the audit log."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from accounts.audit import AuditAction, AuditContext, audit_record
from accounts.models import User
from workspaces.models import (
    ALL_WORKSPACES,
    Group,
    GroupMember,
    GroupRole,
    Membership,
    Role,
    Workspace,
)
from workspaces.rls import workspaces_scope

logger = logging.getLogger(__name__)


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


# --- groups ---------------------------------------------------------------------------


def _group_record(action: str, group: Group, audit: AuditContext | None, **extra) -> None:
    audit_record(
        action=action,
        context=audit,
        target_type="group",
        target_id=group.pk,
        extra={"group": group.slug, **extra},
    )


def group_create(*, name: str, slug: str = "", audit: AuditContext | None) -> Group:
    """A new, empty group. ``slug`` (how readers name it: ``group:<slug>``) defaults to
    the slugified name and never changes afterwards, so readers lists stay valid."""
    name = " ".join((name or "").split())[:200]
    if not name:
        raise ValidationError({"name": _("A group needs a name.")})
    slug = slugify(slug or name)[:63]
    if not slug:
        raise ValidationError({"slug": _("Give the group a slug of letters, digits or dashes.")})
    with transaction.atomic():
        if Group.objects.filter(slug=slug).exists():
            raise ValidationError(
                {"slug": _("A group with the slug %(slug)r exists already.") % {"slug": slug}}
            )
        group = Group.objects.create(name=name, slug=slug)
        _group_record(AuditAction.GROUP_CREATED, group, audit, name=name)
    return group


def group_rename(*, group: Group, name: str, audit: AuditContext | None) -> Group:
    name = " ".join((name or "").split())[:200]
    if not name:
        raise ValidationError({"name": _("A group needs a name.")})
    if name != group.name:
        previous = group.name
        group.name = name
        with transaction.atomic():
            group.save(update_fields=["name"])
            _group_record(AuditAction.GROUP_CHANGED, group, audit, name=name, previous=previous)
    return group


def group_delete(*, group: Group, audit: AuditContext | None) -> None:
    """Delete the group: its members lose what it gave them on their next request.

    Documents whose readers name it keep the entry, which then matches nobody.
    """
    with transaction.atomic():
        _group_record(AuditAction.GROUP_DELETED, group, audit, name=group.name)
        group.delete()


def _users_by_email(emails: Iterable[str]) -> list[User]:
    wanted = {e.strip().lower() for e in emails if e and e.strip()}
    found = list(User.objects.filter(email__in=wanted, is_active=True))
    unknown = wanted - {u.email for u in found}
    if unknown:
        raise ValidationError(
            {"members": [_("No active member %(email)r.") % {"email": e} for e in sorted(unknown)]}
        )
    return found


def group_members_change(
    *,
    group: Group,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    audit: AuditContext | None,
) -> Group:
    """Add and remove members by email (each change audited); unknown emails: 400.

    Adding a member already there, or removing one who is not, changes nothing.
    """
    adding, removing = _users_by_email(add), _users_by_email(remove)
    with transaction.atomic():
        for user in adding:
            _member, created = GroupMember.objects.get_or_create(group=group, user=user)
            if created:
                _group_record(AuditAction.GROUP_MEMBER_ADDED, group, audit, user=user.email)
        for user in removing:
            deleted, _counts = GroupMember.objects.filter(group=group, user=user).delete()
            if deleted:
                _group_record(AuditAction.GROUP_MEMBER_REMOVED, group, audit, user=user.email)
    return group


def group_role_set(
    *, group: Group, workspace: Workspace, role: str | None, audit: AuditContext | None
) -> GroupRole | None:
    """Give ``group`` ``role`` in ``workspace`` (None: no role there), audited."""
    if role is not None and role not in Role.values:
        raise ValidationError(
            {"role": _("Choose one of %(values)s, or none.") % {"values": ", ".join(Role.values)}}
        )
    with transaction.atomic():
        current = GroupRole.objects.filter(group=group, workspace=workspace).first()
        previous = current.role if current else None
        if previous == role:
            return current
        if role is None:
            assert current is not None  # role None and no row was answered above
            current.delete()
            current = None
        elif current is None:
            current = GroupRole.objects.create(group=group, workspace=workspace, role=role)
        else:
            current.role = role
            current.save(update_fields=["role"])
        _group_record(
            AuditAction.GROUP_ROLE_CHANGED,
            group,
            audit,
            workspace=workspace.slug,
            role=role,
            previous_role=previous,
        )
    return current


# --- workspaces -------------------------------------------------------------------------


def _workspace_record(
    action: str, workspace: Workspace, audit: AuditContext | None, **extra
) -> None:
    audit_record(
        action=action,
        context=audit,
        target_type="workspace",
        target_id=workspace.pk,
        extra={"workspace": workspace.slug, **extra},
    )


def _workspace_name(name: str) -> str:
    name = " ".join((name or "").split())[:200]
    if not name:
        raise ValidationError({"name": _("A workspace needs a name.")})
    return name


def workspace_create(
    *, name: str, slug: str = "", creator: User, audit: AuditContext | None
) -> Workspace:
    """A new workspace; ``creator`` becomes its admin (the owner is one everywhere).

    ``slug`` (in its URLs, tokens' and SSO rules' references) defaults to the slugified
    name and never changes afterwards. A slug taken by another workspace, archived ones
    included, is a ValidationError (400).
    """
    name = _workspace_name(name)
    slug = slugify(slug or name)[:63]
    if not slug:
        raise ValidationError(
            {"slug": _("Give the workspace a slug of letters, digits or dashes.")}
        )
    if slug == ALL_WORKSPACES:
        raise ValidationError(
            {"slug": _("%(slug)r names every workspace in links; choose another.") % {"slug": slug}}
        )
    with transaction.atomic():
        if Workspace.objects.filter(slug=slug).exists():
            raise ValidationError(
                {"slug": _("A workspace with the slug %(slug)r exists already.") % {"slug": slug}}
            )
        workspace = Workspace.objects.create(name=name, slug=slug)
        _workspace_record(AuditAction.WORKSPACE_CREATED, workspace, audit, name=name)
        if not creator.is_owner:
            # The new workspace is in no request's scope yet (row-level security): its
            # first membership is written in a scope of that workspace alone.
            with workspaces_scope([workspace.pk]):
                membership_save(
                    membership=Membership(workspace=workspace, user=creator, role=Role.ADMIN),
                    audit=audit,
                )
    return workspace


def workspace_rename(*, workspace: Workspace, name: str, audit: AuditContext | None) -> Workspace:
    """Give ``workspace`` a new name (its slug stays); no change, no event."""
    name = _workspace_name(name)
    if name != workspace.name:
        previous = workspace.name
        workspace.name = name
        with transaction.atomic():
            workspace.save(update_fields=["name"])
            _workspace_record(
                AuditAction.WORKSPACE_RENAMED, workspace, audit, name=name, previous=previous
            )
    return workspace


def workspace_archive(*, workspace: Workspace, audit: AuditContext | None) -> Workspace:
    """Archive ``workspace``: from the next request nobody reaches it (pages, search,
    answers, API tokens: 404, as for a workspace that does not exist), and its content
    is kept until the owner restores or deletes it. Its sources are not paused here.

    The default workspace cannot be archived (it is where people land); archiving an
    archived workspace changes nothing.
    """
    if workspace.is_default:
        raise ValidationError({"workspace": _("The default workspace cannot be archived.")})
    if workspace.archived_at is None:
        workspace.archived_at = timezone.now()
        with transaction.atomic():
            workspace.save(update_fields=["archived_at"])
            _workspace_record(AuditAction.WORKSPACE_ARCHIVED, workspace, audit)
    return workspace


def workspace_restore(*, workspace: Workspace, audit: AuditContext | None) -> Workspace:
    """Bring an archived workspace back into use, with its members and content as they
    were. A workspace that is not archived is a ValidationError (400)."""
    if workspace.archived_at is None:
        raise ValidationError(
            {"workspace": _("%(name)s is not archived.") % {"name": workspace.name}}
        )
    workspace.archived_at = None
    with transaction.atomic():
        workspace.save(update_fields=["archived_at"])
        _workspace_record(AuditAction.WORKSPACE_RESTORED, workspace, audit)
    return workspace


class WorkspaceContentEraser(Protocol):
    """Erases what an app keeps in a workspace before its row goes; returns how many
    documents went. Runs inside ``workspace_delete``'s transaction."""

    def __call__(self, *, workspace: Workspace, audit: AuditContext | None) -> int: ...


workspace_content_erasers: list[WorkspaceContentEraser] = []


def workspace_content_eraser_register(eraser: WorkspaceContentEraser) -> None:
    """Have ``eraser`` run by every ``workspace_delete`` from now on (from an app's
    ``ready()``: the apps above workspaces offer their erasure; workspaces never imports
    them). Registering it again changes nothing."""
    if eraser not in workspace_content_erasers:
        workspace_content_erasers.append(eraser)


def workspace_delete(*, workspace: Workspace, audit: AuditContext | None = None) -> int:
    """Erase a workspace with everything in it; returns how many documents went.

    Its documents are erased first by the registered content erasers (ingestion's:
    rows, chunks, vectors, postings, titles in audit events, stored originals once
    committed, answers citing them); then the workspace row takes its sources and sync
    runs, memberships, group roles, conversations, questions and feedback with it (ON
    DELETE CASCADE), all in one transaction, in the row-level scope of this workspace
    alone (the caller's scope may not include it: archived workspaces are nobody's).
    Connectors stay (other workspaces' sources may use them). The default workspace is
    never deleted.
    """
    if workspace.is_default:
        raise ValidationError(_("The default workspace cannot be deleted."))
    workspace_id = workspace.pk  # ``delete()`` sets it to None
    # Exactly this workspace, whoever calls: an archived workspace is outside every
    # request's scope, and its rows must be seen to be erased (not left to the FK).
    with workspaces_scope([workspace_id]), transaction.atomic():
        count = sum(
            eraser(workspace=workspace, audit=audit) for eraser in workspace_content_erasers
        )
        # Recorded before the row goes: the event keeps the slug and name, not a link.
        _workspace_record(
            AuditAction.WORKSPACE_DELETED, workspace, audit, name=workspace.name, documents=count
        )
        workspace.delete()
    logger.info("workspace deleted id=%s documents=%s", workspace_id, count)
    return count
