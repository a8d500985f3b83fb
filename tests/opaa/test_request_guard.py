"""A NUL character anywhere a view reads text is a clear 400, never a 500 (issue 11, 3).

Postgres text cannot hold NUL; before ``opaa.request_guard`` each of these reached the
database and failed there.
"""

from __future__ import annotations

import json

import pytest

from opaa.request_guard import MESSAGE
from tests.conftest import named_file

# (method, path, body, content type): body None sends none.
API_CASES = [
    ("get", "/api/v1/search?q=a%00", None, None),
    ("get", "/api/v1/documents?workspace=gen%00eral", None, None),
    ("get", "/api/v1/conversations/shared/a%00b", None, None),
    ("get", "/api/v1/audit?user=a%00b", None, None),
    ("get", "/api/v1/members?workspace=%00", None, None),
    ("get", "/api/v1/groups/a%00b?workspace=general", None, None),
    ("get", "/api/v1/search?q%00=a", None, None),
    ("post", "/api/v1/ask", {"question": "per diem a\u0000b"}, "json"),
    ("post", "/api/v1/ask", {"question": "per diem", "workspace": "gen\u0000eral"}, "json"),
    ("post", "/api/v1/search", {"q": "x", "nested": [{"k\u0000": 1}]}, "json"),
    ("post", "/api/v1/batch", {"questions": ["fine", "not\u0000fine"]}, "json"),
    ("patch", "/api/v1/conversations/1", {"title": "a\u0000b"}, "json"),
    ("post", "/api/v1/feedback", {"question": 1, "helpful": True, "comment": "\u0000"}, "json"),
    ("post", "/api/v1/tokens", "name=a%00b&scopes=ask", "form"),
    ("patch", "/api/v1/documents/1", "readers=user%3Aa%00%40acme.example", "form"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "kind"), API_CASES, ids=[f"{c[0]} {c[1]}" for c in API_CASES]
)
def test_api_refuses_nul_with_a_clear_400(alice_api, method, path, body, kind):
    if kind == "json":
        response = getattr(alice_api, method)(
            path, json.dumps(body), content_type="application/json"
        )
    elif kind == "form":
        response = getattr(alice_api, method)(
            path, body, content_type="application/x-www-form-urlencoded"
        )
    else:
        response = getattr(alice_api, method)(path)
    assert response.status_code == 400, response.content
    assert response.json() == {"detail": MESSAGE}


def test_api_upload_refuses_nul_in_a_form_field(alice_api):
    """A multipart upload's ``workspace`` field with a NUL; the file itself may hold
    any bytes (a NUL in a file is normal and is not refused)."""
    response = alice_api.post(
        "/api/v1/documents",
        {"file": named_file("a.txt", b"hello"), "workspace": "gen\x00eral"},
        format="multipart",
    )
    assert response.status_code == 400, response.content
    assert response.json() == {"detail": MESSAGE}


def test_api_upload_accepts_nul_bytes_inside_the_file(alice_api, upload_indexed):
    body = upload_indexed(alice_api, "binary.txt", b"policy text\x00with a NUL byte inside")
    assert body["original_filename"] == "binary.txt"


def test_api_malformed_multipart_is_still_a_400(alice_api):
    response = alice_api.generic(
        "POST",
        "/api/v1/documents",
        b"--nope\r\nbroken",
        content_type="multipart/form-data; boundary=",
    )
    assert response.status_code == 400


PORTAL_GETS = [
    "/ask/?workspace=%00",
    "/documents/?workspace=%00",
    "/ask/shared/a%00b",
    "/groups/?workspace=gen%00eral",
    "/accounts/members/?workspace=%00",
]


@pytest.mark.parametrize("path", PORTAL_GETS)
def test_portal_refuses_nul_in_the_url_with_an_html_page(alice_portal, path):
    response = alice_portal.get(path)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert "NUL character" in response.content.decode()


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/ask/", {"question": "what is the per diem\x00"}),
        ("/ask/stream", {"question": "\x00"}),
        ("/ask/?workspace=general", {"question": "fine", "conversation": "1\x00"}),
        ("/groups/", {"action": "create", "name": "Fin\x00ance"}),
    ],
)
def test_portal_refuses_nul_in_a_form_field(alice_portal, path, form):
    response = alice_portal.post(path, form)
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


def test_anonymous_requests_get_the_same_400(world, db):
    from rest_framework.test import APIClient

    client = APIClient(HTTP_HOST=world.acme.domain)
    response = client.get("/api/v1/search?q=%00")
    assert response.status_code == 400
    assert response.json() == {"detail": MESSAGE}


def test_a_cookie_with_a_nul_is_refused(world, db):
    """A quoted cookie value may spell NUL as an octal escape; the session lookup used
    to fail on it."""
    from django.test import Client

    client = Client(HTTP_HOST=world.acme.domain, HTTP_COOKIE='sessionid="abcdefgh\\000ijkl"')
    response = client.get("/ask/")
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


def test_an_authorization_header_with_a_nul_is_refused(world, db):
    from rest_framework.test import APIClient

    client = APIClient(HTTP_HOST=world.acme.domain)
    client.credentials(HTTP_AUTHORIZATION="Bearer opaa_abc\x00def")
    response = client.get("/api/v1/documents")
    assert response.status_code == 400
    assert response.json() == {"detail": MESSAGE}


def test_requests_without_nul_pass(alice_api, alice_portal):
    assert alice_api.get("/api/v1/documents?workspace=general").status_code == 200
    assert alice_portal.get("/documents/?workspace=general").status_code == 200
