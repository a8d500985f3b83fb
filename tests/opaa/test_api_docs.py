"""The browsable API docs (Swagger UI, ReDoc) and what they say about token scopes.

The pages themselves are loaded in a browser by tests/portal/test_api_docs.py, which
checks that no request leaves loopback.
"""

from __future__ import annotations

import re

from django.urls import reverse

from accounts.scopes import Scope
from tests.conftest import token_client


def test_docs_pages_are_for_signed_in_people(world, db, alice_portal):
    from django.test import Client

    anonymous = Client(HTTP_HOST=world.acme.domain)
    for name in ("api-docs", "api-redoc"):
        refused = anonymous.get(reverse(name))
        assert refused.status_code == 302
        assert "/accounts/login/" in refused["Location"]
        page = alice_portal.get(reverse(name))
        assert page.status_code == 200, name
        html = page.content.decode()
        assert reverse("api:schema") in html
        # Every script, style sheet and icon comes from this site's static files.
        linked = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert linked, name
        assert [url for url in linked if not url.startswith("/")] == [], name
        assert "fonts.googleapis" not in html
        assert "cdn.jsdelivr" not in html


def test_the_tokens_page_links_the_docs(world, db, alice_portal):
    html = alice_portal.get(reverse("accounts:tokens")).content.decode()
    assert f'href="{reverse("api-docs")}"' in html
    assert f'href="{reverse("api-redoc")}"' in html


def test_every_operation_names_the_scope_a_token_needs(world, db, alice_api):
    schema = alice_api.get(reverse("api:schema"), {"format": "json"}).json()
    missing = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            scope = operation.get("x-required-scope")
            description = operation.get("description", "")
            if scope is None:
                if "API tokens cannot call this operation" not in description:
                    missing.append(f"{method.upper()} {path}")
                continue
            security = [s for s in operation.get("security", []) if "apiToken" in s]
            if f"Token scope: `{scope}`" not in description or security != [{"apiToken": [scope]}]:
                missing.append(f"{method.upper()} {path}")
    assert missing == []


def test_a_403_for_a_missing_scope_names_the_scope(world, acme, make_token):
    secret = make_token(world.acme, "alice@acme.example", scopes=[Scope.ASK])
    response = token_client(world.acme, secret).get("/api/v1/search", {"q": "vpn"})
    assert response.status_code == 403
    assert response.json() == {
        "detail": "This needs a token with the search:read scope.",
        "code": "scope_missing",
        "required_scope": "search:read",
    }


def test_a_403_for_an_operation_no_token_may_call_says_so(world, acme, make_token):
    secret = make_token(world.acme, "alice@acme.example")
    response = token_client(world.acme, secret).get("/api/v1/tokens")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "API tokens cannot do this; sign in instead.",
        "code": "token_refused",
    }
