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
from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import ApiToken, User
from ingestion.document_filters import SORTS, UPLOADS, DocumentFilters
from ingestion.models import Chunk, Document, Source
from ingestion.parsers import PARSERS
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
