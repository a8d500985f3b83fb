"""Sharing a document into another workspace: one copy, readable in both.

An editor of a document's workspace who is also an editor of another workspace may share
the document there (``document_share``) and take it back (``document_unshare``); an
admin of the target workspace may remove a document shared into it. Nothing is copied:
a ``DocumentShare`` row makes the document's chunks part of the target's searches
(``workspaces.readers.reader_scope`` adds them to every ``ReaderScope``; the index's
queries read them through ``ReaderScope.within_sql``) and lets the database show them
there (the extra row-level security policies registered below, ``SELECT`` only: from
the target nothing of the document can be changed).

The rules (docs/sharing.md):

- The document's own readers apply in the target as in its workspace; the target's
  admins do not read a restricted shared document unless its readers name them.
- A share is honoured only while the person who made it is an active editor (or admin)
  of both workspaces and the document's workspace is in use. The first read of the
  target's shares after that stops being true ends it (``shares_effective``: the row
  is deleted, ``document.share_ended`` is audited with the reason, the target's index
  version moves on), so access is neither kept nor widened by a role taken away.
- Sharing, unsharing and ending move the target's index version on (its cached
  answers are not served again); erasing the document erases its shares (the database
  cascades) and moves the targets' versions on too (``ingestion.erasure``).
- Every change is audited: ``document.shared``, ``document.unshared`` (by an editor of
  the document's workspace), ``document.share_removed`` (by an admin of the target),
  ``document.share_ended`` (the sharer lost their role, or the document was erased).
- Members of the target are told in the portal (``ShareNotice``) until they dismiss it.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import AuditAction, AuditContext, audit_record
from accounts.models import ApiToken, User
from ingestion.index import index_changed
from ingestion.models import Document, DocumentShare, ShareNotice
from workspaces.access import role_in, workspaces_readable
from workspaces.models import ROLE_ORDER, Role, Workspace
from workspaces.readers import reader_scope
from workspaces.rls import organization_scope
from workspaces.rls.policies import ExtraPolicy

# Audit actions (``AuditEvent.action``), named in the audit log's filter.
SHARED = AuditAction.DOCUMENT_SHARED
UNSHARED = AuditAction.DOCUMENT_UNSHARED
SHARE_REMOVED = AuditAction.DOCUMENT_SHARE_REMOVED
SHARE_ENDED = AuditAction.DOCUMENT_SHARE_ENDED

_SHARED_INTO_SCOPE = (
    "(SELECT s.document_id FROM ingestion_documentshare AS s WHERE s.workspace_id = ANY ({scope}))"
)
# Read-only access to a shared document's rows from its target (row-level security).
# Erasing a document cascades to its shares past the policies.
POLICIES = (
    ExtraPolicy("ingestion_document", "opaa_shared_documents", f"id IN {_SHARED_INTO_SCOPE}"),
    ExtraPolicy("ingestion_chunk", "opaa_shared_documents", f"document_id IN {_SHARED_INTO_SCOPE}"),
    ExtraPolicy("ingestion_fact", "opaa_shared_documents", f"document_id IN {_SHARED_INTO_SCOPE}"),
    # Made only with the target in scope (the workspace policy); seen and ended from
    # the document's workspace too.
    ExtraPolicy(
        "ingestion_documentshare", "opaa_share_source_read", "source_workspace_id = ANY ({scope})"
    ),
    ExtraPolicy(
        "ingestion_documentshare",
        "opaa_share_source_delete",
        "source_workspace_id = ANY ({scope})",
        command="DELETE",
    ),
)


def _editor(user: User | None, workspace: Workspace) -> bool:
    """Whether ``user`` is an active editor (or admin) of ``workspace``. Read across the
    organization: the sharer's memberships in the other workspace are outside the
    caller's row-level security scope (a viewer of the target reads only the target)."""
    if user is None or not user.is_active:
        return False
    with organization_scope():
        role = role_in(user, workspace)
    return role is not None and ROLE_ORDER.index(Role(role)) >= ROLE_ORDER.index(Role.EDITOR)


def _target_members(workspace: Workspace) -> list[User]:
    """The people with a role in ``workspace`` (their own or a group's)."""
    return list(
        User.objects.filter(is_active=True, is_service_account=False)
        .filter(
            Q(memberships__workspace=workspace)
            | Q(group_memberships__group__roles__workspace=workspace)
        )
        .distinct()
    )


def document_share(
    *, document: Document, workspace: Workspace, user: User, audit: AuditContext | None = None
) -> tuple[DocumentShare, bool]:
    """Share ``document`` into ``workspace``: (the share, True when made now).

    ``user`` must be an editor of both workspaces (PermissionDenied otherwise; the
    caller has already found both, so neither is hidden from them). Sharing again is
    harmless: the existing share comes back. Refused with ValidationError: the
    document's own workspace, an archived one.
    """
    if workspace.pk == document.workspace_id:
        raise ValidationError(_("The document is already in this workspace."))
    if workspace.archived_at is not None:
        raise ValidationError(_("This workspace is archived."))
    if not (_editor(user, document.workspace) and _editor(user, workspace)):
        raise PermissionDenied(_("Sharing needs the editor role in both workspaces."))
    with transaction.atomic():
        share, created = DocumentShare.objects.get_or_create(
            document=document,
            workspace=workspace,
            defaults={"source_workspace_id": document.workspace_id, "shared_by": user},
        )
        if not created:
            return share, False
        ShareNotice.objects.bulk_create(
            ShareNotice(workspace=workspace, share=share, user=member)
            for member in _target_members(workspace)
            if member.pk != user.pk
        )
        audit_record(
            action=SHARED,
            context=audit,
            target_type="document",
            target_id=document.pk,
            extra={"workspace": document.workspace.slug, "shared_into": workspace.slug},
        )
        index_changed(workspace_id=workspace.pk)
    return share, True


def share_for(
    user: User, *, document: Document, slug: str, token: ApiToken | None = None
) -> DocumentShare:
    """The share of ``document`` (which ``user`` reads) into the workspace ``slug``, if
    one of its two workspaces is one ``user`` (and the ``token``) may read; Http404
    otherwise. Whether they may end it is ``document_unshare``'s to say (403)."""
    readable = workspaces_readable(user, token=token)
    share = (
        DocumentShare.objects.select_related("document", "source_workspace", "workspace")
        .filter(document=document, workspace__slug=slug)
        .filter(Q(workspace__in=readable) | Q(source_workspace__in=readable))
        .first()
    )
    if share is None:
        raise Http404(_("The document is not shared into that workspace."))
    return share


def document_unshare(*, share: DocumentShare, user: User, audit: AuditContext | None = None) -> str:
    """End ``share`` for ``user``: an editor of the document's workspace takes it back
    (``document.unshared``), an admin of the target removes it (``document.share_removed``);
    returns the action. PermissionDenied for anyone else. Takes effect at the next
    search: the row is gone and the target's index version moves on."""
    if _editor(user, share.source_workspace):
        action = UNSHARED
    elif role_in(user, share.workspace) == Role.ADMIN:
        action = SHARE_REMOVED
    else:
        raise PermissionDenied(
            _(
                "Unsharing needs the editor role in the document's workspace, or the admin "
                "role in the workspace it is shared into."
            )
        )
    _share_end(share=share, action=action, audit=audit)
    return action


def _share_end(
    *, share: DocumentShare, action: str, audit: AuditContext | None, reason: str = ""
) -> None:
    with transaction.atomic():
        audit_record(
            action=action,
            context=audit,
            target_type="document",
            target_id=share.document_id,
            extra={
                "workspace": share.source_workspace.slug,
                "shared_into": share.workspace.slug,
                **({"reason": reason} if reason else {}),
            },
        )
        DocumentShare.objects.filter(pk=share.pk).delete()
        index_changed(workspace_id=share.workspace_id)


def shares_effective(workspaces: Sequence[Workspace]) -> list[int]:
    """The documents shared into ``workspaces`` now (searched there under their own
    readers): the ``workspaces.readers`` provider, run for every reader scope.

    Ends each share whose sharer is no longer an active editor of both workspaces
    (audited ``document.share_ended`` with the reason); leaves out, without ending them,
    the shares of a document whose workspace is archived (restoring it brings them back).
    One query when nothing is shared; two role checks per sharer and workspace otherwise.
    """
    ids = [w.pk for w in workspaces]
    if not ids:
        return []
    shares = list(
        DocumentShare.objects.filter(workspace_id__in=ids).select_related(
            "shared_by", "source_workspace", "workspace"
        )
    )
    effective: list[int] = []
    editor: dict[tuple[int | None, int], bool] = {}
    for share in shares:
        if share.source_workspace.archived_at is not None:
            continue
        checks = []
        for workspace in (share.source_workspace, share.workspace):
            key = (share.shared_by_id, workspace.pk)
            if key not in editor:
                editor[key] = _editor(share.shared_by, workspace)
            checks.append(editor[key])
        if all(checks):
            effective.append(share.document_id)
            continue
        reason = (
            "the person who shared it is no longer an editor of both workspaces"
            if share.shared_by is not None
            else "the person who shared it was erased"
        )
        _share_end(share=share, action=SHARE_ENDED, audit=None, reason=reason)
    return sorted(set(effective))


def shares_of(document: Document) -> list[DocumentShare]:
    """Where ``document`` is shared (the targets the caller's scope shows), newest first."""
    return list(document.shares.select_related("workspace", "shared_by"))


def share_targets(user: User, document: Document) -> list[Workspace]:
    """The workspaces ``user`` may share ``document`` into: where they are an editor, but
    not its own, not archived, not shared there already."""

    if not _editor(user, document.workspace):
        return []
    taken = set(document.shares.values_list("workspace_id", flat=True))
    return [
        workspace
        for workspace in workspaces_readable(user).exclude(pk=document.workspace_id)
        if workspace.pk not in taken and _editor(user, workspace)
    ]


def shared_into(workspace: Workspace, document_ids: Sequence[int]) -> dict[int, DocumentShare]:
    """The shares into ``workspace`` of ``document_ids``, by document (for a list to say
    "shared from <workspace>")."""
    return {
        share.document_id: share
        for share in DocumentShare.objects.filter(
            workspace=workspace, document_id__in=list(document_ids)
        ).select_related("source_workspace", "shared_by")
    }


def notices_unseen(user: User, workspace: Workspace) -> list[ShareNotice]:
    """What was shared into ``workspace`` that ``user`` has not dismissed yet and may
    read (a restricted document's title is not shown to others), newest first."""
    scope = reader_scope(user, [workspace])
    return list(
        ShareNotice.objects.filter(user=user, workspace=workspace, seen_at__isnull=True)
        .filter(scope.q("share__document__"), share__document_id__in=list(scope.shared_documents))
        .select_related("share__document", "share__source_workspace", "share__shared_by")
        .order_by("-created_at")[:20]
    )


def notices_dismiss(*, user: User, workspace: Workspace) -> int:
    """Mark ``user``'s notices of ``workspace`` seen; returns how many."""
    return ShareNotice.objects.filter(user=user, workspace=workspace, seen_at__isnull=True).update(
        seen_at=timezone.now()
    )
