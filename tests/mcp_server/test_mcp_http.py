"""The MCP server at ``/mcp``, driven by the official SDK's client over real HTTP.

Initialize, list the tools, call each one; a token without the tool's scope, another
organization's token, a revoked token; and the REST API's rules behind the tools:
reader filtering, the audit log, links into the portal.
"""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import schema_context

from tests.mcp_server.conftest import VIEWER, McpSite, mcp_call

TOOLS = {"search", "ask", "get_document", "get_passage", "list_workspaces", "recent_documents"}


def _data(result) -> dict:
    """A tool's structured result (the JSON text content says the same)."""
    assert not result.is_error, result.content
    assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content


def _error(result) -> str:
    """A tool's refusal, without the SDK's "Error executing tool <name>: " before it."""
    assert result.is_error, result
    return result.content[0].text.split(": ", 1)[1]


def test_initialize_and_list_tools(mcp_site: McpSite):
    async def body(client):
        tools = await client.list_tools()
        return client.protocol_version, client.server_info, client.instructions, tools.tools

    version, info, instructions, tools = mcp_call(mcp_site, mcp_site.tokens["owner"], body)
    assert version == "2025-11-25"  # the initialize handshake's latest revision
    assert info.name == "OPAA"
    assert "cited answer" in instructions
    assert {tool.name for tool in tools} == TOOLS
    for tool in tools:
        assert "token scope" in tool.description, tool.name
        assert tool.input_schema["type"] == "object"
    search = next(tool for tool in tools if tool.name == "search")
    assert search.input_schema["required"] == ["query"]


def test_the_sdks_default_connection_works_too(mcp_site: McpSite):
    """``mode="auto"``: the client probes for the stateless protocol revision first."""

    async def body(client):
        return await client.call_tool("list_workspaces", {})

    result = mcp_call(mcp_site, mcp_site.tokens["owner"], body, mode="auto")
    assert [w["slug"] for w in _data(result)["workspaces"]] == ["general"]


def test_each_tool_answers_with_links_into_the_portal(mcp_site: McpSite):
    async def body(client):
        return {
            "workspaces": await client.call_tool("list_workspaces", {}),
            "recent": await client.call_tool("recent_documents", {"limit": 5}),
            "search": await client.call_tool("search", {"query": "per diem abroad", "k": 3}),
            "ask": await client.call_tool("ask", {"question": "What is the per diem abroad?"}),
            "document": await client.call_tool("get_document", {"document_id": mcp_site.policy_id}),
        }

    results = mcp_call(mcp_site, mcp_site.tokens["owner"], body)
    site = mcp_site.site

    workspaces = _data(results["workspaces"])["workspaces"]
    assert workspaces == [
        {
            "slug": "general",
            "name": "General",
            "is_default": True,
            "url": f"{site}/documents/?workspace=general",
        }
    ]

    recent = _data(results["recent"])
    assert {d["id"] for d in recent["documents"]} == {mcp_site.policy_id, mcp_site.secret_id}
    assert all(d["url"] == f"{site}/documents/{d['id']}/" for d in recent["documents"])

    found = _data(results["search"])["results"]
    assert found[0]["document_id"] == mcp_site.policy_id
    assert "42 euros" in found[0]["text"]
    chunk = found[0]["chunk_id"]
    assert found[0]["url"] == f"{site}/documents/{mcp_site.policy_id}/#chunk-{chunk}"

    answer = _data(results["ask"])
    assert "42" in answer["answer"]
    assert answer["citations"], answer
    citation = answer["citations"][0]
    assert citation["document_id"] == mcp_site.policy_id
    assert citation["url"].startswith(f"{site}/documents/{mcp_site.policy_id}/#chunk-")

    document = _data(results["document"])
    assert document["id"] == mcp_site.policy_id
    assert document["status"] == "indexed"
    assert document["url"] == f"{site}/documents/{mcp_site.policy_id}/"
    assert "42 euros" in " ".join(p["text"] for p in document["passages"])
    assert document["truncated"] is False

    async def passage(client):
        return await client.call_tool("get_passage", {"chunk_id": chunk})

    shown = _data(mcp_call(mcp_site, mcp_site.tokens["owner"], passage))
    assert shown["chunk_id"] == chunk
    assert shown["document_id"] == mcp_site.policy_id
    assert "42 euros" in shown["text"]
    assert shown["url"] == found[0]["url"]


def test_a_token_without_the_scope_is_refused_by_name(mcp_site: McpSite):
    """The ask-only token may ask, but not search or read documents."""

    async def body(client):
        return [
            await client.call_tool("search", {"query": "per diem"}),
            await client.call_tool("get_document", {"document_id": mcp_site.policy_id}),
            await client.call_tool("recent_documents", {}),
            await client.call_tool("list_workspaces", {}),
        ]

    search, document, recent, workspaces = mcp_call(mcp_site, mcp_site.tokens["ask_only"], body)
    assert _error(search) == "This needs a token with the search:read scope."
    assert _error(document) == "This needs a token with the documents:read scope."
    assert _error(recent) == "This needs a token with the documents:read scope."
    assert [w["slug"] for w in _data(workspaces)["workspaces"]] == ["general"]


@pytest.mark.parametrize("token", ["foreign", "revoked", "opaa_pat_malformed"])
def test_another_organizations_revoked_or_malformed_token_gets_401(mcp_site, token):
    """Refused at the HTTP level before the MCP handshake, as the REST API refuses it."""
    import httpx2

    secret = mcp_site.tokens.get(token, token)
    response = httpx2.post(
        f"{mcp_site.base_url}/mcp",
        headers={
            "Host": mcp_site.host,
            "Authorization": f"Bearer {secret}",
            "Accept": "application/json, text/event-stream",
        },
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == {"detail": "Invalid, expired or revoked token."}

    async def body(client):
        return await client.list_tools()

    statuses: list[int] = []
    with pytest.raises(BaseException) as refused:  # noqa: PT011 - an ExceptionGroup
        mcp_call(mcp_site, secret, body, statuses=statuses)
    # The SDK's client gives up at the handshake's first answer.
    assert statuses == [401]
    assert "MCPError: Server returned an error response" in _messages(refused.value)


def _messages(error: BaseException) -> str:
    """Every message of ``error`` and the errors it groups or was raised from."""
    parts = [f"{type(error).__name__}: {error}"]
    for inner in getattr(error, "exceptions", ()):
        parts.append(_messages(inner))
    if error.__cause__ is not None:
        parts.append(_messages(error.__cause__))
    return "\n".join(parts)


def test_readers_are_filtered_as_in_the_rest_api(mcp_site: McpSite):
    """The viewer may not read the owner's minutes: not found, not listed, not searched."""

    async def body(client):
        return [
            await client.call_tool("get_document", {"document_id": mcp_site.secret_id}),
            await client.call_tool("recent_documents", {}),
            await client.call_tool("search", {"query": "codename of the merger Bluefinch"}),
            await client.call_tool("ask", {"question": "What is the codename of the merger?"}),
        ]

    document, recent, search, ask = mcp_call(mcp_site, mcp_site.tokens["viewer"], body)
    assert _error(document) == "No such document."
    assert [d["id"] for d in _data(recent)["documents"]] == [mcp_site.policy_id]
    assert all(r["document_id"] != mcp_site.secret_id for r in _data(search)["results"])
    assert "Bluefinch" not in json.dumps(_data(ask))

    async def owner(client):
        return await client.call_tool("search", {"query": "codename of the merger Bluefinch"})

    found = _data(mcp_call(mcp_site, mcp_site.tokens["owner"], owner))["results"]
    assert found[0]["document_id"] == mcp_site.secret_id


def test_unknown_workspace_and_bad_arguments_are_clear_errors(mcp_site: McpSite):
    async def body(client):
        return [
            await client.call_tool("search", {"query": "x", "workspace": "no-such-place"}),
            await client.call_tool("search", {"query": "x", "k": 500}),
            await client.call_tool("search", {"query": "   "}),
            await client.call_tool("get_passage", {"chunk_id": 10**9}),
        ]

    workspace, k, empty, passage = mcp_call(mcp_site, mcp_site.tokens["owner"], body)
    assert _error(workspace) == "No such workspace."
    assert _error(k) == "k must be a whole number from 1 to 50."
    assert _error(empty) == "Ask a question: the text is empty."
    assert _error(passage) == "No such passage."


def test_the_audit_log_records_what_the_agent_read(mcp_site: McpSite, django_db_blocker):
    from accounts.models import ApiToken, AuditEvent
    from search.models import Question
    from workspaces.rls import organization_scope

    async def body(client):
        await client.call_tool("search", {"query": "refunds for travel"})
        await client.call_tool("get_document", {"document_id": mcp_site.policy_id})
        await client.call_tool("ask", {"question": "Until when can refunds be claimed?"})

    with django_db_blocker.unblock(), schema_context(mcp_site.schema), organization_scope():
        token = ApiToken.objects.get(name="viewer")
        before = AuditEvent.objects.filter(actor_token_id=token.pk).count()
    mcp_call(mcp_site, mcp_site.tokens["viewer"], body)
    with django_db_blocker.unblock(), schema_context(mcp_site.schema), organization_scope():
        events = list(
            AuditEvent.objects.filter(actor_token_id=token.pk)
            .order_by("pk")[before:]
            .values_list("action", "target_type", "target_id")
        )
    actions = [action for action, _, _ in events]
    assert "search.performed" in actions
    assert ("document.opened", "document", str(mcp_site.policy_id)) in events
    assert "question.asked" in actions
    asked = next(target for action, _, target in events if action == "question.asked")
    with django_db_blocker.unblock(), schema_context(mcp_site.schema), organization_scope():
        # In the viewer's history, counted as a question that came through MCP.
        question = Question.objects.get(pk=asked)
        assert (question.asked_by.email, question.channel) == (VIEWER, "mcp")
