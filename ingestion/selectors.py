"""Reads of documents as one person may see them: their workspaces, then the readers.

A document has readers (``Document.readers``: people and groups; empty for every member
of its workspace). Whoever opens one, in the portal or the API, gets the same answer in
the same order: 404 when it is not in a workspace they may read, 404 when they may not
read it (existence is not revealed), and only then 403 when their role is too low.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import QuerySet

from accounts.models import ApiToken, User
from ingestion.models import Document
from workspaces.access import object_for
from workspaces.models import Role, Workspace
from workspaces.readers import reader_scope


def documents_readable(user: User, *, workspaces: Sequence[Workspace]) -> QuerySet[Document]:
    """The documents of ``workspaces`` (which ``user`` is already allowed into) that
    ``user`` may read."""
    return Document.objects.filter(
        reader_scope(user, workspaces).q(), workspace__in=[w.pk for w in workspaces]
    )


def document_readable(user: User, document: Document) -> bool:
    """Whether ``user`` may read ``document`` (in a workspace they are allowed into)."""
    scope = reader_scope(user, [document.workspace])
    return scope.can_read(workspace_id=document.workspace_id, readers=document.readers)


def document_for(
    user: User, pk: int, *, role: str = Role.VIEWER, token: ApiToken | None = None
) -> Document:
    """The document ``pk`` if ``user`` may read it and holds ``role`` in its workspace:
    404 out of their workspaces, 404 unreadable, then 403 (``workspaces.access.object_for``)."""
    return object_for(
        user,
        Document.objects.select_related("workspace"),
        pk=pk,
        role=role,
        token=token,
        readable=lambda document: document_readable(user, document),
    )
