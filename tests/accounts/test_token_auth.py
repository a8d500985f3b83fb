"""API tokens at the API: the scope matrix, 401s, demotion, workspace binding, limits."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from accounts.models import ApiToken, AuditEvent
from accounts.scopes import Scope
from accounts.services import token_revoke
from tests.conftest import PASSWORD, named_file, token_client
from workspaces.models import Membership, Role

NOTE = b"# Notes\n\nThe meeting room on floor 2 is called Fjord.\n"

# Every API method a token may call, with the scope it needs. A new endpoint without an
# entry here fails ``test_matrix_covers_every_api_endpoint``.
MATRIX = [
    ("api:documents", "get", Scope.DOCUMENTS_READ),
    ("api:documents", "post", Scope.DOCUMENTS_WRITE),
    ("api:documents-batch", "post", Scope.DOCUMENTS_WRITE),
    ("api:document", "get", Scope.DOCUMENTS_READ),
    ("api:document", "delete", Scope.DOCUMENTS_WRITE),
    ("api:document", "patch", Scope.DOCUMENTS_WRITE),
    ("api:document-shares", "get", Scope.DOCUMENTS_READ),
    ("api:document-share", "put", Scope.DOCUMENTS_WRITE),
    ("api:document-share", "delete", Scope.DOCUMENTS_WRITE),
    ("api:shared-documents", "get", Scope.DOCUMENTS_READ),
    ("api:groups", "get", Scope.MEMBERS_ADMIN),
    ("api:groups", "post", Scope.MEMBERS_ADMIN),
    ("api:group", "get", Scope.MEMBERS_ADMIN),
    ("api:group", "patch", Scope.MEMBERS_ADMIN),
    ("api:group", "delete", Scope.MEMBERS_ADMIN),
    ("api:group-role", "put", Scope.MEMBERS_ADMIN),
    ("api:group-role", "delete", Scope.MEMBERS_ADMIN),
    ("api:ask", "post", Scope.ASK),
    ("api:search", "get", Scope.SEARCH_READ),
    ("api:audit", "get", Scope.AUDIT_READ),
    ("api:members", "get", Scope.MEMBERS_ADMIN),
    ("api:members", "post", Scope.MEMBERS_ADMIN),
    ("api:member", "patch", Scope.MEMBERS_ADMIN),
    ("api:member", "delete", Scope.MEMBERS_ADMIN),
    ("api:source-sync", "post", Scope.CONNECTORS_ADMIN),
    ("api:sources", "post", Scope.CONNECTORS_ADMIN),
    ("api:source", "delete", Scope.CONNECTORS_ADMIN),
    ("api:batch", "post", Scope.ASK),
    ("api:conversations", "get", Scope.ASK),
    ("api:conversations", "post", Scope.ASK),
    ("api:conversation", "get", Scope.ASK),
    ("api:conversation", "patch", Scope.ASK),
    ("api:conversation", "delete", Scope.ASK),
    ("api:conversation-export", "get", Scope.ASK),
    ("api:conversation-shared", "get", Scope.ASK),
    ("api:feedback", "get", Scope.AUDIT_READ),
    ("api:feedback", "post", Scope.ASK),
    # Managing tokens needs a signed-in person: no scope allows it.
    ("api:tokens", "get", None),
    ("api:tokens", "post", None),
    ("api:token", "delete", None),
    # Deleting the organization needs its owner, signed in.
    ("api:organization", "delete", None),
    ("api:analytics-series", "get", Scope.ANALYTICS_READ),
    ("api:analytics-questions", "get", Scope.ANALYTICS_READ),
    ("api:analytics-gaps", "get", Scope.ANALYTICS_READ),
    ("api:analytics-documents", "get", Scope.ANALYTICS_READ),
    ("api:analytics-quality", "get", Scope.ANALYTICS_READ),
]
NOT_TOKEN_ENDPOINTS = {"api:schema"}
# Endpoints this file calls with a real object and body, expecting success; the others
# are called with empty input and must only get past the scope check (not 401/403).
CALLED_FOR_REAL = {"api:documents", "api:document", "api:ask", "api:search", "api:audit"}


def _api_routes() -> set[tuple[str, str]]:
    from opaa.urls import api_v1

    routes = set()
    for pattern in api_v1:
        assert isinstance(pattern, URLPattern), "nested API routes: extend this test"
        view = pattern.callback.view_class
        name = f"api:{pattern.name}"
        if name in NOT_TOKEN_ENDPOINTS:
            continue
        for method in view.http_method_names:
            # A method without a role answers 405: the view does not serve it.
            served = hasattr(view, method) and method.upper() in view.required_roles
            if method not in ("head", "options") and served:
                routes.add((name, method))
    return routes


def test_matrix_covers_every_api_endpoint():
    assert _api_routes() == {(name, method) for name, method, _ in MATRIX}
    assert any(isinstance(p, URLResolver) for p in get_resolver("opaa.urls").url_patterns)


@pytest.fixture
def document_id(acme, alice_api):
    response = alice_api.post(
        "/api/v1/documents", {"file": named_file("notes.md", NOTE)}, format="multipart"
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _call(client, name: str, method: str, document_id: int):
    from django.urls import NoReverseMatch, reverse

    if name in ("api:group", "api:group-role"):  # no such group: past the scope check, 404
        kwargs = {"slug": "no-such-group"}
        if name == "api:group-role":
            kwargs["workspace"] = "general"
        return getattr(client, method)(reverse(name, kwargs=kwargs), format="json")
    if name == "api:document-share":  # the document into Sales
        url = reverse(name, kwargs={"pk": document_id, "workspace": "sales"})
        return getattr(client, method)(url, format="json")
    try:
        url = reverse(name)
    except NoReverseMatch:  # a detail route: the document's id (for others: no such object)
        try:
            url = reverse(name, kwargs={"pk": document_id})
        except NoReverseMatch:
            url = reverse(name, kwargs={"token": "no-such-share"})
    if name == "api:documents" and method == "post":
        return client.post(url, {"file": named_file("more.md", NOTE)}, format="multipart")
    if name == "api:ask":
        return client.post(url, {"question": "What is the meeting room called?"})
    if name == "api:search":
        return client.get(url, {"q": "meeting room"})
    if name == "api:document" and method == "patch":
        # A reader the organization has (an unknown one is refused with 400).
        return client.patch(url, {"readers": ["user:bob@acme.example"]}, format="json")
    if name == "api:tokens" and method == "post":
        return client.post(
            url,
            {"name": "x", "scopes": ["ask"], "workspaces": ["general"], "expires_in_days": 5},
            format="json",
        )
    return getattr(client, method)(url, format="json")


@pytest.mark.parametrize(("name", "method", "scope"), MATRIX)
def test_token_without_the_scope_gets_403(
    world, acme, document_id, make_token, name, method, scope
):
    others = [s for s in Scope.values if s != scope]
    client = token_client(world.acme, make_token(world.acme, "alice@acme.example", scopes=others))
    response = _call(client, name, method, document_id)
    assert response.status_code == 403, response.content


@pytest.mark.parametrize(("name", "method", "scope"), [m for m in MATRIX if m[2]])
def test_token_with_only_the_scope_succeeds(
    world, acme, document_id, make_token, name, method, scope
):
    client = token_client(world.acme, make_token(world.acme, "alice@acme.example", scopes=[scope]))
    response = _call(client, name, method, document_id)
    if name in CALLED_FOR_REAL:
        assert response.status_code in (200, 201, 204), response.content
    else:  # no such object, or empty input: past the scope check, then 404/400
        assert response.status_code not in (401, 403), response.content


def test_expired_revoked_malformed_and_foreign_tokens_get_401(world, acme, make_token):
    alice = "alice@acme.example"
    expired = make_token(world.acme, alice)
    ApiToken.objects.filter(pk=ApiToken.objects.latest("id").pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    revoked = make_token(world.acme, alice)
    token_revoke(token=ApiToken.objects.latest("id"), audit=None)
    valid = make_token(world.acme, alice)
    malformed = valid[:-1] + ("A" if valid[-1] != "A" else "B")
    foreign = make_token(world.globex, "carol@globex.example")
    assert token_client(world.acme, valid).get("/api/v1/documents").status_code == 200
    for secret in (expired, revoked, malformed, foreign, "opaa_pat_short", "nonsense"):
        response = token_client(world.acme, secret).get("/api/v1/documents")
        assert response.status_code == 401, secret
        assert response["WWW-Authenticate"].startswith("Bearer")
    # And carol's token works at home.
    assert token_client(world.globex, foreign).get("/api/v1/documents").status_code == 200


def test_revocation_takes_effect_on_the_next_request(world, acme, make_token, alice_api):
    client = token_client(world.acme, make_token(world.acme, "alice@acme.example"))
    assert client.get("/api/v1/documents").status_code == 200
    token_id = ApiToken.objects.latest("id").pk
    assert alice_api.delete(f"/api/v1/tokens/{token_id}").status_code == 204
    assert client.get("/api/v1/documents").status_code == 401


def test_demoted_users_token_loses_its_rights(world, acme, make_token, bob_api):
    bob = "bob@acme.example"
    client = token_client(world.acme, make_token(world.acme, bob, scopes=[Scope.DOCUMENTS_WRITE]))
    upload = {"file": named_file("a.md", NOTE)}
    assert client.post("/api/v1/documents", upload, format="multipart").status_code == 201
    Membership.objects.filter(user__email=bob).update(role=Role.VIEWER)
    upload = {"file": named_file("b.md", NOTE)}
    assert client.post("/api/v1/documents", upload, format="multipart").status_code == 403
    Membership.objects.filter(user__email=bob).delete()
    assert client.get("/api/v1/documents").status_code == 403  # no documents:read scope


def test_demoted_owners_token_loses_its_rights(world, acme, make_token):
    from accounts.models import User

    dave = User.objects.create_user("dave@acme.example", PASSWORD, is_owner=True)
    client = token_client(world.acme, make_token(world.acme, dave.email))
    assert client.get("/api/v1/audit").status_code == 200
    assert client.get("/api/v1/documents", {"workspace": "general"}).status_code == 200
    User.objects.filter(pk=dave.pk).update(is_owner=False)
    assert client.get("/api/v1/audit").status_code == 403
    assert client.get("/api/v1/documents", {"workspace": "general"}).status_code == 404
    User.objects.filter(pk=dave.pk).update(is_active=False)
    assert client.get("/api/v1/audit").status_code == 401


def test_token_not_bound_to_the_workspace_gets_404(world, acme, make_token, document_id):
    client = token_client(
        world.acme, make_token(world.acme, "alice@acme.example", workspaces=["sales"])
    )
    assert client.get("/api/v1/documents", {"workspace": "general"}).status_code == 404
    assert client.get(f"/api/v1/documents/{document_id}").status_code == 404
    assert client.delete(f"/api/v1/documents/{document_id}").status_code == 404
    ask = {"question": "What is the room called?", "workspace": "general"}
    assert client.post("/api/v1/ask", ask).status_code == 404
    # Its default workspace is the one it is bound to.
    assert client.get("/api/v1/documents").json()["results"] == []


def test_session_and_basic_requests_are_checked_by_role_only(world, acme, bob_api):
    from rest_framework.test import APIClient

    assert bob_api.get("/api/v1/documents").status_code == 200
    basic = APIClient(HTTP_HOST=world.acme.domain)
    basic.credentials(HTTP_AUTHORIZATION=_basic("bob@acme.example", PASSWORD))
    assert basic.get("/api/v1/documents").status_code == 200
    # A wrong password is a 401, recorded as a failed sign-in.
    basic.credentials(HTTP_AUTHORIZATION=_basic("bob@acme.example", "wrong"))
    assert basic.get("/api/v1/documents").status_code == 401
    failed = AuditEvent.objects.get(action="signin.failed")
    assert failed.extra == {"email": "bob@acme.example"}


def _basic(user: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _wait_for_a_fresh_minute(margin: float = 5.0) -> None:
    # The limit counts per clock minute; keep the test's requests inside one minute.
    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.05)


def test_rate_limit_answers_429_with_retry_after(world, acme, make_token, settings):
    settings.TOKEN_RATE_LIMIT_PER_MINUTE = 3
    client = token_client(world.acme, make_token(world.acme, "alice@acme.example"))
    _wait_for_a_fresh_minute()
    assert [client.get("/api/v1/documents").status_code for _ in range(3)] == [200] * 3
    response = client.get("/api/v1/documents")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    # Another token has its own budget.
    other = token_client(world.acme, make_token(world.acme, "alice@acme.example"))
    assert other.get("/api/v1/documents").status_code == 200


def test_last_used_is_written_at_most_once_a_minute(world, acme, make_token):
    client = token_client(world.acme, make_token(world.acme, "alice@acme.example"))
    token = ApiToken.objects.latest("id")
    assert token.last_used_at is None
    client.get("/api/v1/documents", REMOTE_ADDR="192.0.2.7")
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    assert token.last_used_ip == "192.0.2.7"
    client.get("/api/v1/documents", REMOTE_ADDR="192.0.2.8")
    token.refresh_from_db()
    assert token.last_used_at == first
    assert token.last_used_ip == "192.0.2.7"
    used = AuditEvent.objects.filter(action="token.used", target_id=str(token.pk))
    assert used.count() == 1
    assert used.get().actor_token_id == token.pk
