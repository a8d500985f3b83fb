"""What each MCP tool does, for one caller: the same services and selectors as the REST API.

Each tool is a plain synchronous function of a ``Caller`` (the person, their API token,
the audit context and the site's address) and its arguments. It checks the token's
scope first (``TOOL_SCOPES``; the REST API's ``token_scope_check``, so the refusal reads
the same), then resolves the workspace or the object exactly as the REST views do
(``workspaces.access.workspace_for``, ``ingestion.selectors.document_for``: 404 out of
reach, 404 unreadable, then 403), and calls the service the REST view calls:

| tool | scope | like |
|---|---|---|
| ``search`` | ``search:read`` | ``GET /api/v1/search`` |
| ``ask`` | ``ask`` | ``POST /api/v1/ask`` |
| ``get_document`` | ``documents:read`` | ``GET /api/v1/documents/<id>`` (and its passages) |
| ``get_passage`` | ``documents:read`` | one passage of such a document |
| ``list_workspaces`` | ``ask``, ``search:read`` or ``documents:read`` | its workspaces |
| ``recent_documents`` | ``documents:read`` | ``GET /api/v1/documents``, newest first |

Reader filtering, plan limits (``QuotaExceeded``), the audit log and the token's rate
limit are therefore those of the REST API; links point at the portal (absolute URLs).
A refusal raises ``ToolRefused`` with a message for the agent; nothing here is async.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.audit import AuditContext
from accounts.models import ApiToken, User
from accounts.scopes import Scope
from infra.errors import ApplicationError
from ingestion.api import DocumentSerializer
from ingestion.document_events import document_opened
from ingestion.models import Chunk, Document
from ingestion.selectors import document_for, documents_readable
from search import services
from search.fact_answers import answer_facts
from search.models import AnswerMode, Channel
from search.streaming import answer_payload, passage_url
from workspaces.access import token_scope_check, workspace_for, workspaces_readable
from workspaces.models import Role, Workspace

READ_SCOPES = (Scope.ASK, Scope.SEARCH_READ, Scope.DOCUMENTS_READ)
# The scope a token needs for each tool; a tuple: any one of them.
TOOL_SCOPES: dict[str, tuple[str, ...]] = {
    "search": (Scope.SEARCH_READ,),
    "ask": (Scope.ASK,),
    "get_document": (Scope.DOCUMENTS_READ,),
    "get_passage": (Scope.DOCUMENTS_READ,),
    "list_workspaces": READ_SCOPES,
    "recent_documents": (Scope.DOCUMENTS_READ,),
}
MAX_K = 50  # as GET /api/v1/search
MAX_RECENT = 50
# get_document returns the document's passages up to this many characters (an agent's
# context is finite); ``truncated`` says when there is more, get_passage reads the rest.
DOCUMENT_TEXT_CHARS = 40_000


class ToolRefused(Exception):
    """A tool call refused or failed in a way the agent should read (its message)."""


@dataclass(frozen=True)
class Caller:
    """Who calls, from the MCP request: the same actor the REST API would see."""

    user: User
    token: ApiToken | None
    audit: AuditContext
    # The organization's site, e.g. "https://acme.example": links are made absolute.
    site: str

    def link(self, path: str) -> str:
        return self.site + path


def scope_check(caller: Caller, tool: str) -> None:
    """The token must hold the tool's scope (one of them); signed-in people are checked
    by role only, as in the REST API."""
    scopes = TOOL_SCOPES[tool]
    if caller.token is None or any(scope in caller.token.scopes for scope in scopes):
        return
    if len(scopes) == 1:
        token_scope_check(caller.token, scopes[0])  # raises ScopeMissing, naming it
    raise ToolRefused(f"This needs a token with one of the scopes {', '.join(scopes)}.")


def _workspace(caller: Caller, slug: str | None) -> Workspace:
    return workspace_for(caller.user, slug or None, role=Role.VIEWER, token=caller.token)


def _passage(caller: Caller, p) -> dict[str, Any]:
    return {
        "document_id": p.document_id,
        "document_title": p.document_title,
        "chunk_id": p.chunk_id,
        "heading_path": list(p.heading_path),
        "text": p.text,
        "score": p.score,
        "url": caller.link(passage_url(p.document_id, p.chunk_id)),
    }


def search(caller: Caller, *, query: str, workspace: str | None, k: int) -> dict[str, Any]:
    """The best passages for ``query`` in the workspace, as ``GET /api/v1/search``."""
    scope_check(caller, "search")
    text = services.question_validate(query)
    if not 1 <= k <= MAX_K:
        raise ToolRefused(f"k must be a whole number from 1 to {MAX_K}.")
    space = _workspace(caller, workspace)
    passages = services.search_audited(
        text, user=caller.user, workspace=space, k=k, audit=caller.audit, via="mcp"
    )
    return {
        "query": text,
        "workspace": space.slug,
        "results": [_passage(caller, p) for p in passages],
    }


def ask(caller: Caller, *, question: str, workspace: str | None) -> dict[str, Any]:
    """A cited answer from the workspace's documents, as ``POST /api/v1/ask``: its
    citations and, for a question about attributes and numbers, the ``facts`` that
    satisfy it (``search.fact_answers``: only those of documents the caller may read)."""
    scope_check(caller, "ask")
    space = _workspace(caller, workspace)
    record = services.answer_question(
        user=caller.user,
        workspace=space,
        question=question,
        audit=caller.audit,
        channel=Channel.MCP,  # analytics counts questions by the way they came
    )
    answer = {**answer_payload(record), "facts": answer_facts(record, viewer=caller.user)}
    for citation in answer["citations"]:
        citation["url"] = caller.link(citation["url"])
    for entity in answer["facts"]:
        entity["url"] = caller.link(entity["url"])
        for fact in entity["facts"]:
            fact["url"] = caller.link(fact["url"])
    return {"workspace": space.slug, **answer}


def _cell(text: str) -> str:
    """``text`` in one Markdown table cell: a ``|`` or a line break would end it."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _link(text: str, url: str) -> str:
    """A Markdown link in a table cell; a bracket in ``text`` would end its label."""
    label = _cell(text).replace("[", "\\[").replace("]", "\\]")
    return f"[{label}]({url})"


def facts_table(answer: dict[str, Any]) -> str:
    """``ask``'s ``facts`` as the ask page shows them, as a Markdown table an agent (or a
    person) reads at a glance: each entity, the facts that satisfy the question (each
    value linking to the passage it was read from) and its document; "" when none."""
    if not answer["facts"]:
        return ""
    lines = [f"## {_('Matching facts')}", ""]
    if answer["mode"] == AnswerMode.NO_ANSWER:
        lines += [
            _(
                "No passage says it in words, but these facts from your documents satisfy "
                "the question."
            ),
            "",
        ]
    columns = [_("What"), _("Facts"), _("Source")]
    lines += ["| " + " | ".join(columns) + " |", "|---|---|---|"]
    for entity in answer["facts"]:
        values = "; ".join(
            f"{_cell(f['label'])}: {_link(f['value'], f['url'])}" for f in entity["facts"]
        )
        document = _link(entity["document_title"], entity["url"])
        lines.append(f"| {_cell(entity['entity'])} | {values} | {document} |")
    return "\n".join(lines)


def _document(caller: Caller, document: Document) -> dict[str, Any]:
    return {
        **DocumentSerializer(document).data,
        "url": caller.link(reverse("ingestion:document", args=[document.pk])),
    }


def get_document(caller: Caller, *, document_id: int) -> dict[str, Any]:
    """One document the caller may read, as ``GET /api/v1/documents/<id>``, with its
    passages in order (up to ``DOCUMENT_TEXT_CHARS``)."""
    scope_check(caller, "get_document")
    document = document_for(caller.user, document_id, role=Role.VIEWER, token=caller.token)
    document_opened(document=document, audit=caller.audit, via="api")
    passages, size, truncated = [], 0, False
    for chunk in document.chunks.order_by("ordinal").only("pk", "heading_path", "text"):
        if passages and size + len(chunk.text) > DOCUMENT_TEXT_CHARS:
            truncated = True
            break
        size += len(chunk.text)
        passages.append(
            {
                "chunk_id": chunk.pk,
                "heading_path": list(chunk.heading_path),
                "text": chunk.text,
                "url": caller.link(passage_url(document.pk, chunk.pk)),
            }
        )
    return {**_document(caller, document), "passages": passages, "truncated": truncated}


def get_passage(caller: Caller, *, chunk_id: int) -> dict[str, Any]:
    """One passage (a chunk id from ``search`` or ``ask``) of a document the caller may
    read, with the ids of the passages before and after it."""
    scope_check(caller, "get_passage")
    # Only the document id is read here; whether the caller may read it is decided by
    # document_for, as for the document itself (404 out of reach or unreadable).
    document_id = (
        Chunk.objects.filter(
            pk=chunk_id, workspace__in=workspaces_readable(caller.user, token=caller.token)
        )
        .values_list("document_id", flat=True)
        .first()
    )
    if document_id is None:
        raise Http404("No such passage.")
    document = document_for(caller.user, document_id, role=Role.VIEWER, token=caller.token)
    chunk = document.chunks.get(pk=chunk_id)
    document_opened(document=document, audit=caller.audit, via="api")
    around = dict(
        document.chunks.filter(ordinal__in=[chunk.ordinal - 1, chunk.ordinal + 1]).values_list(
            "ordinal", "pk"
        )
    )
    return {
        "chunk_id": chunk.pk,
        "document_id": document.pk,
        "document_title": document.title,
        "heading_path": list(chunk.heading_path),
        "text": chunk.text,
        "previous_chunk_id": around.get(chunk.ordinal - 1),
        "next_chunk_id": around.get(chunk.ordinal + 1),
        "url": caller.link(passage_url(document.pk, chunk.pk)),
        "document_url": caller.link(reverse("ingestion:document", args=[document.pk])),
    }


def list_workspaces(caller: Caller) -> dict[str, Any]:
    """The workspaces the caller may read (for a token: those it is bound to)."""
    scope_check(caller, "list_workspaces")
    readable = workspaces_readable(caller.user, token=caller.token).order_by("-is_default", "name")
    return {
        "workspaces": [
            {
                "slug": space.slug,
                "name": space.name,
                "is_default": space.is_default,
                "url": caller.link(f"{reverse('ingestion:documents')}?workspace={space.slug}"),
            }
            for space in readable
        ]
    }


def recent_documents(caller: Caller, *, workspace: str | None, limit: int) -> dict[str, Any]:
    """The workspace's documents the caller may read, most recently changed first."""
    scope_check(caller, "recent_documents")
    if not 1 <= limit <= MAX_RECENT:
        raise ToolRefused(f"limit must be a whole number from 1 to {MAX_RECENT}.")
    space = _workspace(caller, workspace)
    documents = (
        documents_readable(caller.user, workspaces=[space])
        .select_related("workspace")
        .order_by("-updated_at", "-pk")[:limit]
    )
    return {"workspace": space.slug, "documents": [_document(caller, d) for d in documents]}


def refusal_message(exc: Exception) -> str | None:
    """What the agent is told for an expected refusal; None for anything else."""
    if isinstance(exc, ToolRefused):
        return str(exc)
    if isinstance(exc, ApplicationError):  # a missing scope, a plan limit (402/429)
        retry = f" Try again in {exc.retry_after} seconds." if exc.retry_after else ""
        return exc.message + retry
    if isinstance(exc, Http404):
        return str(exc) or "Not found."
    if isinstance(exc, PermissionDenied):
        return str(exc) or "You may not do this."
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return None
