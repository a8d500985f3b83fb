"""The documents page's search, filters, sort and page, read from the query string.

The URL is the page's state: every choice is a query parameter, so a search can be
bookmarked, shared and reloaded, and the page works without JavaScript. Bad values are
a ``ValidationError`` naming the parameter (the page answers 400 saying what to fix).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db.models import F
from django.db.models.expressions import OrderBy
from django.http import QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ingestion.models import DocumentStatus
from ingestion.parsers import PARSERS

# How each format is named in the Type filter, in the order shown.
TYPE_LABELS = {
    "pdf": "PDF",
    "docx": "Word",
    "pptx": "PowerPoint",
    "xlsx": "Excel",
    "html": "HTML",
    "md": "Markdown",
    "txt": gettext_lazy("Text"),
    "csv": "CSV",
    "json": "JSON",
    "eml": gettext_lazy("Email"),
    "mbox": gettext_lazy("Mailbox"),
}

# Sort key -> (label, ORM ordering). The first is the default: newest first.
SORTS: dict[str, tuple[str, tuple[str | OrderBy, ...]]] = {
    "-added": (gettext_lazy("Newest first"), ("-created_at", "-id")),
    "added": (gettext_lazy("Oldest first"), ("created_at", "id")),
    "title": (gettext_lazy("Title A to Z"), ("title", "id")),
    "-title": (gettext_lazy("Title Z to A"), ("-title", "-id")),
    "-indexed": (gettext_lazy("Recently indexed"), (F("indexed_at").desc(nulls_last=True), "-id")),
    "-size": (gettext_lazy("Largest first"), ("-size_bytes", "-id")),
    "size": (gettext_lazy("Smallest first"), ("size_bytes", "id")),
}
DEFAULT_SORT = "-added"

MAX_QUERY_CHARS = 200
# A Postgres text-search configuration's name, as ``Document.language`` holds it.
_LANGUAGE = re.compile(r"^[a-z_]{1,32}$")
# What a source filter value may be: uploads, or a source's id.
UPLOADS = "upload"


@dataclass(frozen=True)
class DocumentFilters:
    q: str = ""
    type: str = ""
    source: str = ""  # "", "upload" or a source's id (as text)
    status: str = ""
    language: str = ""
    added_from: date | None = None
    added_to: date | None = None
    sort: str = DEFAULT_SORT
    page: int = 1

    @property
    def narrowed(self) -> bool:
        """Whether anything but the sort and page narrows the list."""
        return bool(
            self.q
            or self.type
            or self.source
            or self.status
            or self.language
            or self.added_from
            or self.added_to
        )


def _date(params: QueryDict, name: str, errors: dict) -> date | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        example = f"{date.today():%Y-%m-%d}"  # noqa: DTZ011 - an example only
        errors[name] = [_("Enter the date as YYYY-MM-DD, e.g. %(example)s.") % {"example": example}]
        return None


def document_filters_parse(params: QueryDict) -> DocumentFilters:
    """The filters in ``params``; raises ValidationError naming each bad parameter."""
    errors: dict[str, list[str]] = {}
    q = " ".join(params.get("q", "").split())
    if len(q) > MAX_QUERY_CHARS:
        errors["q"] = [_("Search for at most %(count)s characters.") % {"count": MAX_QUERY_CHARS}]
    type_ = params.get("type", "")
    if type_ and type_ not in PARSERS:
        errors["type"] = [_("Choose a type of the list, not %(type)r.") % {"type": type_[:40]}]
    source = params.get("source", "")
    if source and source != UPLOADS and not source.isdigit():
        errors["source"] = [_("Choose a source of the list.")]
    status = params.get("status", "")
    if status and status not in DocumentStatus.values:
        errors["status"] = [
            _("Choose one of: %(values)s.") % {"values": ", ".join(DocumentStatus.values)}
        ]
    language = params.get("language", "")
    if language and not _LANGUAGE.match(language):
        errors["language"] = [_("Choose a language of the list.")]
    added_from = _date(params, "added_from", errors)
    added_to = _date(params, "added_to", errors)
    if added_from and added_to and added_from > added_to:
        errors["added_to"] = [_("The end date comes before the start date.")]
    sort = params.get("sort", "") or DEFAULT_SORT
    if sort not in SORTS:
        errors["sort"] = [_("Sort by one of: %(values)s.") % {"values": ", ".join(SORTS)}]
    raw_page = params.get("page", "") or "1"
    page = int(raw_page) if raw_page.isdigit() else 0
    if page < 1:
        errors["page"] = [_("A page is a number from 1.")]
    if errors:
        raise ValidationError(errors)
    return DocumentFilters(
        q=q,
        type=type_,
        source=source,
        status=status,
        language=language,
        added_from=added_from,
        added_to=added_to,
        sort=sort,
        page=page,
    )
