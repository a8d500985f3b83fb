"""OPAA's MCP server: the tools of ``mcp_server.tools`` on the official SDK's ``MCPServer``.

One server object for the process; the caller of the current request is in a context
variable (``caller_set``, entered by ``mcp_server.transport``). Each tool is an async
function only at the SDK's edge: its work runs synchronously on the thread of the
Django request (``sync_to_async(thread_sensitive=True)`` under the transport's
``async_to_sync``), so it uses that request's database connection, organization schema
and row-level security scope, as any REST view does.
"""

from __future__ import annotations

import contextvars
import inspect
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from asgiref.sync import sync_to_async
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, ContentBlock, TextContent, ToolAnnotations
from pydantic import Field

from infra.storage_errors import StorageUnavailable
from infra.unavailable import DETAIL as REDIS_UNAVAILABLE
from infra.unavailable import UNAVAILABLE
from mcp_server import tools
from mcp_server.tools import Caller

logger = logging.getLogger(__name__)

_caller: contextvars.ContextVar[Caller | None] = contextvars.ContextVar(
    "opaa_mcp_caller", default=None
)


@contextmanager
def caller_set(caller: Caller) -> Iterator[None]:
    """Run the block (one MCP request) as ``caller``."""
    token = _caller.set(caller)
    try:
        yield
    finally:
        _caller.reset(token)


def _run(tool: Callable[..., dict[str, Any]], **arguments: Any) -> dict[str, Any]:
    """``tool`` for the current caller; an expected refusal becomes the tool's error
    text, anything else is logged and told as a generic failure (no internals leak)."""
    caller = _caller.get()
    if caller is None:  # only mcp_server.transport serves these tools
        raise ToolError("No caller.")
    try:
        return tool(caller, **arguments)
    except UNAVAILABLE:
        raise ToolError(REDIS_UNAVAILABLE) from None
    except StorageUnavailable as exc:
        raise ToolError(str(exc.detail)) from None
    except Exception as exc:
        message = tools.refusal_message(exc)
        if message is None:
            logger.exception("MCP tool %s failed", tool.__name__)
            message = "The tool failed; please try again."
        raise ToolError(message) from None


async def _call(tool: Callable[..., dict[str, Any]], **arguments: Any) -> dict[str, Any]:
    return await sync_to_async(_run, thread_sensitive=True)(tool, **arguments)


Workspace = Annotated[
    str | None,
    Field(description="A workspace's slug (see list_workspaces); by default your default one."),
]

server: MCPServer = MCPServer(
    name="OPAA",
    instructions=(
        "OPAA answers questions from your organization's documents, citing its sources. "
        "Use `search` for passages, `ask` for a cited answer, `get_passage` or "
        "`get_document` to read more around a citation, `list_workspaces` to see where "
        "you may look. Every result links to the passage or document in OPAA's portal."
    ),
    # The SDK's own logging setup is not used: Django configures logging.
    log_level="WARNING",
)


async def search(
    query: Annotated[str, Field(description="What to look for.", max_length=2000)],
    workspace: Workspace = None,
    k: Annotated[int, Field(description="How many passages (1-50).")] = 10,
) -> dict[str, Any]:
    """The passages of your documents that best match the query, each with its document,
    headings and a link to it in OPAA (token scope `search:read`)."""
    return await _call(tools.search, query=query, workspace=workspace, k=k)


async def ask(
    question: Annotated[str, Field(description="The question, in plain words.", max_length=2000)],
    workspace: Workspace = None,
) -> Annotated[CallToolResult, dict[str, Any]]:
    """A written answer to the question from your documents, with numbered citations
    ([1], [2]) linking to the passages it used (token scope `ask`). For a question about
    attributes and numbers ("which products cost less than 50 EUR?") also the matching
    `facts`, each linking to the passage it was read from. Counts as a question of your
    organization's plan and is kept in your question history."""
    answer = await _call(tools.ask, question=question, workspace=workspace)
    # The JSON first, as every tool gives it (structuredContent's text form); the facts
    # again as a table after it, so a client that shows only text shows them legibly.
    content: list[ContentBlock] = [
        TextContent(type="text", text=json.dumps(answer, indent=2, ensure_ascii=False))
    ]
    table = await sync_to_async(tools.facts_table, thread_sensitive=True)(answer)
    if table:
        content.append(TextContent(type="text", text=table))
    return CallToolResult(content=content, structured_content=answer)


async def get_document(
    document_id: Annotated[int, Field(description="A document id, e.g. from a citation.")],
) -> dict[str, Any]:
    """A document's details and its text, passage by passage (up to about 40,000
    characters; `truncated` says when there is more) (token scope `documents:read`)."""
    return await _call(tools.get_document, document_id=document_id)


async def get_passage(
    chunk_id: Annotated[int, Field(description="A passage id (chunk_id from search or ask).")],
) -> dict[str, Any]:
    """One passage in full, with its document and the ids of the passages before and
    after it (token scope `documents:read`)."""
    return await _call(tools.get_passage, chunk_id=chunk_id)


async def list_workspaces() -> dict[str, Any]:
    """The workspaces you may read, the default one first (token scope `ask`,
    `search:read` or `documents:read`)."""
    return await _call(tools.list_workspaces)


async def recent_documents(
    workspace: Workspace = None,
    limit: Annotated[int, Field(description="How many documents (1-50).")] = 10,
) -> dict[str, Any]:
    """The documents most recently added or changed in the workspace that you may read
    (token scope `documents:read`)."""
    return await _call(tools.recent_documents, workspace=workspace, limit=limit)


# ``ask`` writes: the question is recorded and counted against the plan.
for _tool in (search, ask, get_document, get_passage, list_workspaces, recent_documents):
    server.add_tool(
        _tool,
        description=inspect.cleandoc(_tool.__doc__ or ""),
        annotations=ToolAnnotations(readOnlyHint=_tool is not ask, openWorldHint=False),
    )
