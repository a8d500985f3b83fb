"""Managing tokens: the API and the portal pages, who may do what, query counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import ApiToken, User
from tests.conftest import token_client
from workspaces.models import Membership, Role

NEW = {"name": "ci", "scopes": ["search:read"], "workspaces": ["general"], "expires_in_days": 7}


def test_create_shows_the_token_once_and_stores_only_its_digest(world, acme, alice_api):
    response = alice_api.post("/api/v1/tokens", NEW, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    secret = body["token"]
    assert secret.startswith("opaa_pat_")
    assert body["scopes"] == ["search:read"]
    assert body["workspaces"] == ["general"]
    assert response["Cache-Control"] == "no-store"
    token = ApiToken.objects.get(pk=body["id"])
    assert secret not in (token.digest, token.prefix)
    assert secret.startswith(token.prefix)
    listed = alice_api.get("/api/v1/tokens").json()["results"]
    assert [t["id"] for t in listed] == [token.pk]
    assert "token" not in listed[0]
    client = token_client(world.acme, secret)
    assert client.get("/api/v1/search", {"q": "parking"}).status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"scopes": []}, "scopes"),
        ({"scopes": ["root"]}, "scopes"),
        ({"workspaces": []}, "workspaces"),
        ({"workspaces": ["nope"]}, "workspaces"),
        ({"expires_in_days": 0}, "expires_in_days"),
        ({"expires_in_days": 366}, "expires_in_days"),
        ({"expires_in_days": "soon"}, "expires_in_days"),
        ({"kind": "root"}, "kind"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(acme, alice_api, change, field):
    response = alice_api.post("/api/v1/tokens", {**NEW, **change}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_expiry_is_required_and_capped_by_the_organization(acme, alice_api, settings):
    body = {k: v for k, v in NEW.items() if k != "expires_in_days"}
    assert alice_api.post("/api/v1/tokens", body, format="json").status_code == 400
    settings.TOKEN_MAX_DAYS = 30
    too_long = alice_api.post("/api/v1/tokens", {**NEW, "expires_in_days": 31}, format="json")
    assert too_long.status_code == 400
    assert (
        alice_api.post("/api/v1/tokens", {**NEW, "expires_in_days": 30}, format="json").status_code
        == 201
    )


def test_bob_cannot_bind_a_workspace_he_is_not_in(acme, bob_api):
    response = bob_api.post("/api/v1/tokens", NEW, format="json")  # General: not his
    assert response.status_code == 400
    assert "workspaces" in response.json()
    ok = bob_api.post("/api/v1/tokens", {**NEW, "workspaces": ["sales"]}, format="json")
    assert ok.status_code == 201


def test_service_account_tokens_need_the_admin_role(world, acme, alice_api, bob_api):
    body = {**NEW, "kind": "sat", "scopes": ["documents:write"], "workspaces": ["sales"]}
    assert bob_api.post("/api/v1/tokens", body, format="json").status_code == 403  # editor
    response = alice_api.post("/api/v1/tokens", body, format="json")
    assert response.status_code == 201, response.content
    secret = response.json()["token"]
    assert secret.startswith("opaa_sat_")
    account = ApiToken.objects.get(pk=response.json()["id"]).user
    assert account.is_service_account
    assert not account.has_usable_password()
    assert Membership.objects.get(user=account).role == Role.EDITOR
    client = token_client(world.acme, secret)
    assert client.get("/api/v1/documents").status_code == 403  # no documents:read scope
    audit = {**body, "scopes": ["audit:read"]}
    assert alice_api.post("/api/v1/tokens", audit, format="json").status_code == 400
    Membership.objects.filter(user__email="bob@acme.example").update(role=Role.ADMIN)
    assert bob_api.post("/api/v1/tokens", body, format="json").status_code == 201


def test_revoking_is_limited_to_manageable_tokens(world, acme, make_token, alice_api, bob_api):
    make_token(world.acme, "alice@acme.example")
    alices = ApiToken.objects.latest("id")
    assert bob_api.delete(f"/api/v1/tokens/{alices.pk}").status_code == 404
    assert bob_api.get("/api/v1/tokens").json()["results"] == []
    make_token(world.acme, "bob@acme.example", workspaces=["sales"])
    bobs = ApiToken.objects.latest("id")
    # The owner sees and may revoke every token.
    assert {t["id"] for t in alice_api.get("/api/v1/tokens").json()["results"]} == {
        alices.pk,
        bobs.pk,
    }
    assert alice_api.delete(f"/api/v1/tokens/{bobs.pk}").status_code == 204
    assert alice_api.delete(f"/api/v1/tokens/{bobs.pk}").status_code == 204  # idempotent
    assert alice_api.delete("/api/v1/tokens/999999").status_code == 404


def test_tokens_cannot_manage_tokens(world, acme, make_token):
    client = token_client(world.acme, make_token(world.acme, "alice@acme.example"))
    assert client.get("/api/v1/tokens").status_code == 403
    assert client.post("/api/v1/tokens", NEW, format="json").status_code == 403


def test_token_list_query_count_does_not_grow(world, acme, make_token, alice_api):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert alice_api.get("/api/v1/tokens").status_code == 200
        return len(queries)

    make_token(world.acme, "alice@acme.example")
    few = count()
    for _ in range(4):
        make_token(world.acme, "bob@acme.example", workspaces=["sales"])
    assert count() == few


def test_token_list_queries(world, acme, make_token, alice_api, django_assert_num_queries):
    for _ in range(3):
        make_token(world.acme, "alice@acme.example")
    # domain lookup, count, page (with owner), workspace slugs; each after a search_path SET
    with django_assert_num_queries(8):
        assert len(alice_api.get("/api/v1/tokens").json()["results"]) == 3


def test_outsider_carol_gets_401_or_404(world, acme, make_token, carol_portal, alice_api):
    make_token(world.acme, "alice@acme.example")
    acme_token = ApiToken.objects.latest("id")
    carols = token_client(world.acme, make_token(world.globex, "carol@globex.example"))
    for call in (
        lambda c: c.get("/api/v1/tokens"),
        lambda c: c.post("/api/v1/tokens", NEW, format="json"),
        lambda c: c.delete(f"/api/v1/tokens/{acme_token.pk}"),
        lambda c: c.get("/api/v1/audit"),
        lambda c: c.get("/api/v1/audit", {"format": "csv"}),
    ):
        assert call(carols).status_code == 401
    # Her session at Acme's domain is unknown there: sent to sign in.
    for url in ("/accounts/tokens/", "/accounts/audit/"):
        response = carol_portal.get(url, HTTP_HOST=world.acme.domain)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]
    response = carol_portal.post(
        f"/accounts/tokens/{acme_token.pk}/revoke", HTTP_HOST=world.acme.domain
    )
    assert response.status_code in (302, 403)
    # At her own organization, Acme's token id is simply not there.
    # (Acme's answers dropped her session cookie: sign in again at home.)
    from tests.conftest import api_client, portal_client

    connection.set_tenant(world.globex.organization)
    home = portal_client(world.globex, "carol@globex.example")
    assert home.post(f"/accounts/tokens/{acme_token.pk}/revoke").status_code == 404
    assert home.get("/accounts/tokens/").status_code == 200

    carol_api = api_client(world.globex, "carol@globex.example")
    assert carol_api.delete(f"/api/v1/tokens/{acme_token.pk}").status_code == 404
    connection.set_tenant(world.acme.organization)
    assert ApiToken.objects.get(pk=acme_token.pk).revoked_at is None


def test_portal_creates_lists_and_revokes(world, acme, alice_portal):
    page = alice_portal.get("/accounts/tokens/")
    assert page.status_code == 200
    assert b"Create a token" in page.content
    response = alice_portal.post(
        "/accounts/tokens/",
        {
            "name": "laptop",
            "kind": "pat",
            "scopes": ["ask", "search:read"],
            "workspaces": ["general"],
            "expires_in_days": "30",
        },
        follow=True,
    )
    # POST/redirect/GET (issue 16): reloading the page must not create a second token.
    assert response.redirect_chain == [("/accounts/tokens/", 302)]
    assert response.status_code == 200
    secret = response.context["created"]["secret"]
    assert secret.encode() in response.content
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    # Shown once: the list page does not show it again.
    assert secret.encode() not in alice_portal.get("/accounts/tokens/").content
    token = ApiToken.objects.get(name="laptop")
    assert token.scopes == ["ask", "search:read"]
    revoked = alice_portal.post(f"/accounts/tokens/{token.pk}/revoke")
    assert revoked.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_portal_form_errors_are_a_400(acme, alice_portal):
    response = alice_portal.post("/accounts/tokens/", {"name": "x", "expires_in_days": "x"})
    assert response.status_code == 400
    assert b"Choose one or more" in response.content


def test_nav_links_to_tokens_and_owner_sees_audit(world, acme, alice_portal):
    from tests.conftest import portal_client

    page = alice_portal.get("/accounts/tokens/").content
    assert b'href="/accounts/tokens/"' in page
    assert b'href="/accounts/audit/"' in page
    bob = portal_client(world.acme, "bob@acme.example")
    page = bob.get("/accounts/tokens/").content
    assert b'href="/accounts/audit/"' not in page
    assert User.objects.filter(email="bob@acme.example").exists()
