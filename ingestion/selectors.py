"""Reads of documents as one person may see them: their workspaces, then the readers.

A document has readers (``Document.readers``: people and groups; empty for every member
of its workspace). Whoever opens one, in the portal or the API, gets the same answer in
the same order: 404 when it is not in a workspace they may read, 404 when they may not
read it (existence is not revealed), and only then 403 when their role is too low.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from operator import or_

from django.contrib.postgres.search import SearchQuery
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from accounts.models import ApiToken, User
from ingestion.document_filters import SORTS, UPLOADS, DocumentFilters
from ingestion.models import Chunk, Document, DocumentShare, Source
from ingestion.parsers import PARSERS
from workspaces.access import object_for, workspaces_readable
from workspaces.models import Role, Workspace
from workspaces.readers import reader_scope


def documents_readable(user: User, *, workspaces: Sequence[Workspace]) -> QuerySet[Document]:
    """The documents of ``workspaces`` (which ``user`` is already allowed into) that
    ``user`` may read, with those shared into them from other workspaces
    (``ingestion.sharing``; under their own readers)."""
    scope = reader_scope(user, workspaces)
    return Document.objects.filter(
        scope.q(), scope.within_q([w.pk for w in workspaces], document_field="pk")
    )


def document_readable(user: User, document: Document) -> bool:
    """Whether ``user`` may read ``document`` (in a workspace they are allowed into)."""
    scope = reader_scope(user, [document.workspace])
    return scope.can_read(workspace_id=document.workspace_id, readers=document.readers)


def document_for(
    user: User, pk: int, *, role: str = Role.VIEWER, token: ApiToken | None = None
) -> Document:
    """The document ``pk`` if ``user`` may read it and holds ``role`` in its workspace:
    404 out of their workspaces, 404 unreadable, then 403 (``workspaces.access.object_for``).

    A document shared into a workspace they may read (and whose readers let them) is
    found too, with ``shared_into`` set to that workspace: read-only there, so any
    ``role`` above viewer is a 403. Otherwise ``shared_into`` is None.
    """
    try:
        document = object_for(
            user,
            Document.objects.select_related("workspace"),
            pk=pk,
            role=role,
            token=token,
            readable=lambda document: document_readable(user, document),
        )
    except Http404:
        document = _document_shared_for(user, pk, token=token)
        if role != Role.VIEWER:
            raise PermissionDenied(
                _("This document is shared into this workspace: it is read-only here.")
            ) from None
        return document
    document.shared_into = None
    return document


def _document_shared_for(user: User, pk: int, *, token: ApiToken | None) -> Document:
    """The document ``pk`` through a workspace it is shared into that ``user`` (and the
    ``token``) may read, if its readers let them; Http404 otherwise."""
    targets = workspaces_readable(user, token=token).filter(
        pk__in=DocumentShare.objects.filter(document_id=pk).values("workspace_id")
    )
    for workspace in targets:
        scope = reader_scope(user, [workspace])
        if pk not in scope.shared_documents:
            continue
        document = Document.objects.select_related("workspace").filter(pk=pk).first()
        if document is not None and scope.can_read(
            workspace_id=document.workspace_id, readers=document.readers
        ):
            document.shared_into = workspace
            return document
    raise Http404(_("No such document."))


def documents_browse(
    user: User, *, workspaces: Sequence[Workspace], filters: DocumentFilters
) -> QuerySet[Document]:
    """The documents ``user`` may read in ``workspaces`` that match ``filters``, sorted.

    Built on ``documents_readable``, so what a person may not read is never matched,
    counted or offered. The search ``q`` matches the title or file name (any part of a
    word) or the text (its words, stemmed in each document's language, through the
    chunks' ``search_vector``; websearch syntax: ``"exact phrase"``, ``-word``, ``or``).
    """
    documents = documents_readable(user, workspaces=workspaces)
    if filters.q:
        in_text = Chunk.objects.filter(
            document=OuterRef("pk"),
            search_vector=SearchQuery(
                filters.q, config=OuterRef("language"), search_type="websearch"
            ),
        )
        documents = documents.filter(
            Q(title__icontains=filters.q)
            | Q(original_filename__icontains=filters.q)
            | Exists(in_text)
        )
    if filters.type:
        parser = PARSERS[filters.type]
        by_name = [Q(original_filename__iendswith=ext) for ext in parser.EXTENSIONS]
        documents = documents.filter(Q(mime_type__in=parser.MIME_TYPES) | reduce(or_, by_name))
    if filters.source == UPLOADS:
        documents = documents.filter(synced_from__isnull=True)
    elif filters.source:
        documents = documents.filter(synced_from_id=int(filters.source))
    if filters.status:
        documents = documents.filter(status=filters.status)
    if filters.language:
        documents = documents.filter(language=filters.language)
    if filters.added_from:
        documents = documents.filter(created_at__date__gte=filters.added_from)
    if filters.added_to:
        documents = documents.filter(created_at__date__lte=filters.added_to)
    return documents.order_by(*SORTS[filters.sort][1])


def document_languages(user: User, *, workspaces: Sequence[Workspace]) -> list[str]:
    """The languages of the documents ``user`` may read in ``workspaces``, by name."""
    rows = documents_readable(user, workspaces=workspaces).values_list("language", flat=True)
    return sorted(set(rows.order_by().distinct()))


def document_sources(user: User, *, workspaces: Sequence[Workspace]) -> QuerySet[Source]:
    """The sources of the documents ``user`` may read in ``workspaces``, by name: only
    those, since a source's name tells something (the documents page's source filter)."""
    readable = documents_readable(user, workspaces=workspaces)
    return Source.objects.filter(pk__in=readable.values("synced_from_id")).order_by("name")
