"""What the documents page shows for a query string: the page of documents matching the
search and filters, the choices each filter offers, the links that sort and page (each
keeps the rest of the query string), and for a text search the passage that matched.

Reads go through ``ingestion.selectors`` (``documents_browse``), so every row, count
and choice comes from documents the person may read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.http import QueryDict

from accounts.models import User
from ingestion.document_filters import (
    SORTS,
    TYPE_LABELS,
    UPLOADS,
    DocumentFilters,
    document_filters_parse,
)
from ingestion.embedding_failure import embedding_failing
from ingestion.language import language_name
from ingestion.models import Chunk, Document, DocumentStatus
from ingestion.parsers import PARSERS
from ingestion.selectors import (
    document_languages,
    document_sources,
    documents_browse,
    documents_readable,
)
from workspaces.access import role_in
from workspaces.models import Role, Workspace

PAGE_SIZE = 25
# Characters of a matching passage shown around the first word found.
SNIPPET_CHARS = 220
_MIME_TO_TYPE = {mime: key for key, parser in PARSERS.items() for mime in parser.MIME_TYPES}
_EXTENSION_TO_TYPE = {ext: key for key, parser in PARSERS.items() for ext in parser.EXTENSIONS}
# Sortable columns: column -> (ascending key, descending key).
_COLUMNS = {
    "title": ("title", "-title"),
    "size": ("size", "-size"),
    "added": ("added", "-added"),
    "indexed": (None, "-indexed"),
}


def document_type(document: Document) -> str:
    """The format key of ``document`` (``"pdf"``), from its type, else its file name."""
    key = _MIME_TO_TYPE.get(document.mime_type.split(";", 1)[0].strip().lower())
    if key is None:
        name = document.original_filename.lower()
        key = next((k for ext, k in _EXTENSION_TO_TYPE.items() if name.endswith(ext)), "")
    return key


def original_content_type(document: Document) -> str:
    """The Content-Type to send the original with: its format's MIME type when it is one
    OPAA reads, else ``application/octet-stream`` (never a type a file name chose)."""
    key = document_type(document)
    return PARSERS[key].MIME_TYPES[0] if key else "application/octet-stream"


@dataclass(frozen=True)
class Snippet:
    """Where the search matched in a document's text: before, the match, after."""

    chunk_id: int
    before: str
    match: str
    after: str


def _snippet(text: str, chunk_id: int, query: str) -> Snippet:
    """The passage around the first query word found in ``text`` (its stem: the first
    letters of a word, as the text search matched it, not only its exact form). Words
    the query excludes (``-word``) and ``or`` are not looked for."""
    wanted = re.sub(r"(^|\s)-\S+", " ", query.lower())
    words = [w for w in re.findall(r"\w+", wanted) if len(w) > 1 and w != "or"]
    found = None
    for word in words:
        stem = word[: max(3, len(word) - 2)]
        hit = re.search(rf"\b{re.escape(stem)}\w*", text, re.IGNORECASE)
        if hit and (found is None or hit.start() < found.start()):
            found = hit
    if found is None:
        more = "…" if len(text) > SNIPPET_CHARS else ""
        return Snippet(chunk_id, text[:SNIPPET_CHARS] + more, "", "")
    side = (SNIPPET_CHARS - len(found.group())) // 2
    start, end = max(0, found.start() - side), min(len(text), found.end() + side)
    return Snippet(
        chunk_id,
        ("…" if start else "") + text[start : found.start()],
        found.group(),
        text[found.end() : end] + ("…" if end < len(text) else ""),
    )


def _with_match(documents, query: str):
    """Annotate each document with ``match_chunk``: the id of its first passage whose
    text matches ``query`` (None when only the title or file name did)."""
    matching = Chunk.objects.filter(
        document=OuterRef("pk"),
        search_vector=SearchQuery(query, config=OuterRef("language"), search_type="websearch"),
    ).order_by("ordinal")
    return documents.annotate(match_chunk=Subquery(matching.values("id")[:1]))


def _snippets(documents: list[Document], query: str) -> dict[int, Snippet]:
    """The matching passage of each document of a page, by document id (one query)."""
    wanted = {d.match_chunk: d.pk for d in documents if getattr(d, "match_chunk", None)}
    texts = Chunk.objects.filter(pk__in=wanted).values_list("id", "text")
    return {wanted[pk]: _snippet(text, pk, query) for pk, text in texts}


def _link(params: QueryDict, **changes) -> str:
    """``params`` with ``changes`` (None removes one), as a query string (with "?")."""
    query = params.copy()
    for key, value in changes.items():
        query.pop(key, None)
        if value not in (None, ""):
            query[key] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


def _sort_links(params: QueryDict, current: str) -> dict[str, dict]:
    """For each sortable column: the link that sorts by it (the other way when it is the
    current sort) and its ``aria-sort``. A new sort starts at page 1."""
    links = {}
    for column, (ascending, descending) in _COLUMNS.items():
        if current == ascending:
            state, target = "ascending", descending
        elif current == descending:
            state, target = "descending", ascending or descending
        else:
            state, target = "none", ascending if column == "title" else descending
        links[column] = {"url": _link(params, sort=target, page=None), "state": state}
    return links


def browser_context(user: User, *, params: QueryDict, workspaces: Sequence[Workspace]) -> dict:
    """Everything the documents page renders for ``params`` in ``workspaces`` (which
    ``user`` may read). Bad parameters: ``errors`` (by parameter) and the unfiltered
    list, so the page can say what to fix."""
    try:
        filters, errors = document_filters_parse(params), {}
    except ValidationError as exc:
        filters, errors = DocumentFilters(), exc.message_dict
    documents = documents_browse(user, workspaces=workspaces, filters=filters).select_related(
        "workspace", "synced_from"
    )
    if filters.q:
        documents = _with_match(documents, filters.q)
    paginator = Paginator(documents, PAGE_SIZE)
    page = paginator.get_page(filters.page)  # past the end: the last page
    shown = list(page.object_list)
    snippets = _snippets(shown, filters.q) if filters.q else {}
    listed = {workspace.pk for workspace in workspaces}
    rows = [
        {
            "document": document,
            "type": TYPE_LABELS.get(key, key.upper()),
            "snippet": snippets.get(document.pk),
            # Shared into the workspace from another (ingestion.sharing): read-only here.
            "shared": document.workspace_id not in listed,
        }
        for document in shown
        for key in [document_type(document)]
    ]
    total = (
        documents_readable(user, workspaces=workspaces).count()
        if filters.narrowed
        else paginator.count
    )
    return {
        "rows": rows,
        "page": page,
        "total": total,
        "matching": paginator.count,
        "filters": filters,
        "errors": errors,
        "form": params,
        "statuses": DocumentStatus.choices,
        "types": [(key, label) for key, label in TYPE_LABELS.items()],
        # (value, the language's name in the reader's language)
        "languages": [
            (value, language_name(value))
            for value in document_languages(user, workspaces=workspaces)
        ],
        "sources": document_sources(user, workspaces=workspaces),
        "uploads": UPLOADS,
        "sorts": [(key, label) for key, (label, _) in SORTS.items()],
        "sort_links": _sort_links(params, filters.sort),
        "previous_url": _link(params, page=page.previous_page_number())
        if page.has_previous()
        else "",
        "next_url": _link(params, page=page.next_page_number()) if page.has_next() else "",
        "reset_url": _link(QueryDict(mutable=True), workspace=params.get("workspace")),
        "many_workspaces": len(workspaces) > 1,
    }


def embedding_failing_shown(user: User, workspaces: Sequence[Workspace]) -> tuple[str, set[int]]:
    """The reason the organization's embedding is failing ("" when it is not) and the ids
    of ``workspaces`` whose admin ``user`` is: their documents waiting for vectors say so
    to them (``ingestion.embedding_failure``). The roles are looked up only while
    embedding fails."""
    reason = embedding_failing() or ""
    if not reason:
        return "", set()
    return reason, {w.pk for w in workspaces if role_in(user, w) == Role.ADMIN}
