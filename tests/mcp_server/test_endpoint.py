"""``/mcp`` as one HTTP endpoint (Django's test client, raw JSON-RPC): who gets in, the
REST API's limits on the way, and what the SDK's transport refuses.

The tools themselves are driven by the SDK's client over real HTTP in test_mcp_http.py.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from accounts.scopes import Scope
from tenants.models import Organization, Plan
from tests.conftest import portal_client, token_client
from tests.tenants.test_quotas import clear_counters

ACCEPT = "application/json, text/event-stream"


def rpc(client, method: str, params: dict | None = None, **headers):
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}
    return client.post(
        "/mcp", json.dumps(body), content_type="application/json", HTTP_ACCEPT=ACCEPT, **headers
    )


def tool(client, name: str, **arguments) -> dict:
    response = rpc(client, "tools/call", {"name": name, "arguments": arguments})
    assert response.status_code == 200, response.content
    return response.json()["result"]


@pytest.fixture
def owner(world, acme, make_token):
    return token_client(world.acme, make_token(world.acme, "alice@acme.example"))


def test_no_token_is_a_401_and_a_session_is_not_enough(world, acme):
    anonymous = rpc(Client(HTTP_HOST=world.acme.domain), "tools/list")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == 'Bearer realm="api"'
    # Signed in to the portal, but no token: an agent's endpoint takes tokens only, so
    # no other site can make a signed-in browser call it.
    signed_in = rpc(portal_client(world.acme, "alice@acme.example"), "tools/list")
    assert signed_in.status_code == 401


def test_a_token_lists_the_tools(owner):
    response = rpc(owner, "tools/list")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    names = {t["name"] for t in response.json()["result"]["tools"]}
    assert names == {
        "search",
        "ask",
        "get_document",
        "get_passage",
        "list_workspaces",
        "recent_documents",
    }


def test_another_sites_browser_page_is_refused(owner, world):
    """DNS rebinding and cross-site pages: only the organization's own origin."""
    assert rpc(owner, "tools/list", HTTP_ORIGIN="https://evil.example").status_code == 403
    own = rpc(owner, "tools/list", HTTP_ORIGIN=f"http://{world.acme.domain}")
    assert own.status_code == 200


def test_what_the_transport_refuses_is_a_clear_4xx(owner):
    wrong_type = owner.post("/mcp", "x=1", content_type="text/plain", HTTP_ACCEPT=ACCEPT)
    assert wrong_type.status_code in (400, 415)
    not_json = owner.post("/mcp", "{", content_type="application/json", HTTP_ACCEPT=ACCEPT)
    assert not_json.status_code == 400
    too_large = owner.post(
        "/mcp", json.dumps({"x": "y" * 300_000}), content_type="application/json"
    )
    assert too_large.status_code == 413
    # Stateless: no server-to-client stream to open, no session to end.
    assert owner.get("/mcp", HTTP_ACCEPT="text/event-stream").status_code == 405
    assert owner.delete("/mcp").status_code == 405


def test_the_tokens_rate_limit_applies(world, acme, make_token, settings):
    settings.TOKEN_RATE_LIMIT_PER_MINUTE = 2
    client = token_client(world.acme, make_token(world.acme, "alice@acme.example"))
    statuses = [rpc(client, "tools/list").status_code for _ in range(3)]
    assert statuses[:2] == [200, 200]
    assert statuses[2] == 429
    refused = rpc(client, "tools/list")
    assert 0 < int(refused["Retry-After"]) <= 60


def test_ask_past_the_plans_daily_questions_is_refused_with_when(world, acme, owner):
    organization = world.acme.organization
    plan = Plan.objects.create(code="mcp-tiny", name="Tiny", questions_per_day=0)
    Organization.objects.filter(pk=organization.pk).update(plan=plan)
    clear_counters(organization)
    try:
        result = tool(owner, "ask", question="How many holidays?")
    finally:
        clear_counters(organization)
    assert result["isError"] is True
    text = result["content"][0]["text"]
    assert "questions per day" in text
    assert "Try again in" in text


def test_a_missing_scope_names_it(world, acme, make_token):
    client = token_client(world.acme, make_token(world.acme, "bob@acme.example", scopes=["ask"]))
    result = tool(client, "search", query="vpn")
    assert result["isError"] is True
    assert result["content"][0]["text"].endswith("This needs a token with the search:read scope.")
    write_only = token_client(
        world.acme, make_token(world.acme, "bob@acme.example", scopes=[Scope.DOCUMENTS_WRITE])
    )
    listed = tool(write_only, "list_workspaces")
    assert listed["isError"] is True
    assert "ask, search:read, documents:read" in listed["content"][0]["text"]


def test_a_token_sees_only_its_workspaces(world, acme, make_token):
    """bob's token is bound to Sales: General (where he is no member) is not there."""
    client = token_client(world.acme, make_token(world.acme, "bob@acme.example"))
    listed = tool(client, "list_workspaces")["structuredContent"]["workspaces"]
    assert [w["slug"] for w in listed] == ["sales"]
    general = tool(client, "recent_documents", workspace="general")
    assert general["isError"] is True
    assert general["content"][0]["text"].endswith("No such workspace.")
