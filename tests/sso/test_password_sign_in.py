"""Local accounts: SSO-only organizations, rate-limited attempts, password reset by email."""

from __future__ import annotations

import re

from django.contrib.auth import authenticate
from django.core import mail
from django.test import override_settings
from django_tenants.utils import schema_context

from accounts.models import User
from tests.conftest import PASSWORD
from tests.sso.conftest import browser, configure, signed_in


def _post_login(client, email: str, password: str, **extra):
    return client.post("/accounts/login/", {"username": email, "password": password}, **extra)


def test_password_sign_in_works_and_the_page_offers_no_sso_without_a_provider(acme):
    client = browser(acme)
    page = client.get("/accounts/login/")
    assert b"Sign in with" not in page.content
    assert b'name="password"' in page.content
    assert _post_login(client, "alice@acme.example", PASSWORD).status_code == 302
    assert signed_in(client)


def test_the_sign_in_page_offers_the_organizations_provider(acme):
    configure(acme, name="Acme Entra", issuer="https://idp.example", client_id="c")
    page = browser(acme).get("/accounts/login/?next=/documents/")
    assert b"Sign in with Acme Entra" in page.content
    assert b"/sso/login/?next=/documents/" in page.content
    assert b'name="password"' in page.content


def test_an_sso_only_organization_hides_and_refuses_password_sign_in(acme, world):
    configure(acme, issuer="https://idp.example", client_id="c", password_sign_in_disabled=True)
    client = browser(acme)
    page = client.get("/accounts/login/")
    assert b'name="password"' not in page.content
    assert b"Sign in with" in page.content

    response = _post_login(client, "alice@acme.example", PASSWORD)
    assert response.status_code == 403
    assert b"single sign-on only" in response.content
    assert not signed_in(client)
    # Nor through the backend the API's basic auth and the admin use, nor a password reset.
    with schema_context(acme.schema):
        assert authenticate(None, username="alice@acme.example", password=PASSWORD) is None
    assert (
        client.post("/accounts/password-reset/", {"email": "alice@acme.example"}).status_code == 403
    )
    assert mail.outbox == []
    # Globex still signs in with passwords.
    assert _post_login(browser(world.globex), "carol@globex.example", PASSWORD).status_code == 302


@override_settings(PASSWORD_SIGNIN_MAX_FAILURES=3)
def test_failed_attempts_are_limited_per_ip_and_email(acme):
    client = browser(acme)
    for _ in range(3):
        assert _post_login(client, "alice@acme.example", "wrong").status_code == 200

    blocked = _post_login(client, "alice@acme.example", PASSWORD)

    assert blocked.status_code == 429
    assert b"Too many failed sign-in attempts" in blocked.content
    assert not signed_in(client)
    # Another address from the same IP, and the same address from another IP, still work.
    assert _post_login(browser(acme), "bob@acme.example", PASSWORD).status_code == 302
    other_ip = _post_login(browser(acme), "alice@acme.example", PASSWORD, REMOTE_ADDR="10.9.9.9")
    assert other_ip.status_code == 302


@override_settings(PASSWORD_SIGNIN_MAX_FAILURES=3)
def test_a_successful_sign_in_clears_the_count(acme):
    client = browser(acme)
    for _ in range(2):
        _post_login(client, "alice@acme.example", "wrong")
    assert _post_login(client, "alice@acme.example", PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    for _ in range(2):
        assert _post_login(client, "alice@acme.example", "wrong").status_code == 200
    assert _post_login(client, "alice@acme.example", PASSWORD).status_code == 302


def test_password_reset_by_email_sets_a_new_password(acme):
    client = browser(acme)
    page = client.get("/accounts/login/")
    assert b"/accounts/password-reset/" in page.content

    response = client.post("/accounts/password-reset/", {"email": "bob@acme.example"})

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["bob@acme.example"]
    assert "Acme" in message.subject
    link = re.search(r"http://acme\.localhost(/accounts/password-reset/\S+/)", message.body)
    assert link, message.body
    form = client.get(link.group(1), follow=True)
    assert b"Choose a new password" in form.content
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a brand new secret 42", "new_password2": "a brand new secret 42"},
    )
    assert done.status_code == 302
    with schema_context(acme.schema):
        assert User.objects.get(email="bob@acme.example").check_password("a brand new secret 42")
    # The link works once.
    again = client.get(link.group(1), follow=True)
    assert b"does not work" in again.content


def test_password_reset_for_an_unknown_or_sso_only_address_sends_nothing(acme):
    with schema_context(acme.schema):
        User.objects.create_user("sso.only@acme.example", None)
    client = browser(acme)
    for email in ("nobody@acme.example", "sso.only@acme.example", "carol@globex.example"):
        assert client.post("/accounts/password-reset/", {"email": email}).status_code == 302
    assert mail.outbox == []


@override_settings(PASSWORD_RESET_MAX_PER_WINDOW=2)
def test_password_reset_requests_are_limited(acme):
    client = browser(acme)
    for _ in range(2):
        assert (
            client.post("/accounts/password-reset/", {"email": "bob@acme.example"}).status_code
            == 302
        )
    refused = client.post("/accounts/password-reset/", {"email": "bob@acme.example"})
    assert refused.status_code == 429
    assert len(mail.outbox) == 2


@override_settings(PASSWORD_SIGNIN_MAX_FAILURES=3)
def test_the_admin_sign_in_and_api_basic_auth_share_the_limit(acme, world):
    from rest_framework.test import APIClient

    # Two failures on the admin's own sign-in page and one over HTTP Basic on the API...
    admin = browser(acme)
    for _ in range(2):
        page = admin.post("/admin/login/", {"username": "alice@acme.example", "password": "wrong"})
        assert page.status_code == 200
    api = APIClient(HTTP_HOST=world.acme.domain)
    api.credentials(HTTP_AUTHORIZATION=_basic("alice@acme.example", "wrong"))
    assert api.get("/api/v1/documents").status_code in (401, 403)

    # ...and the right password is refused on every door until the window ends.
    api.credentials(HTTP_AUTHORIZATION=_basic("alice@acme.example", PASSWORD))
    assert api.get("/api/v1/documents").status_code in (401, 403)
    page = admin.post("/admin/login/", {"username": "alice@acme.example", "password": PASSWORD})
    assert page.status_code == 200
    assert "_auth_user_id" not in admin.session
    assert _post_login(browser(acme), "alice@acme.example", PASSWORD).status_code == 429
    # Someone else is not affected.
    api.credentials(HTTP_AUTHORIZATION=_basic("bob@acme.example", PASSWORD))
    assert api.get("/api/v1/documents").status_code == 200


def _basic(email: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{email}:{password}".encode()).decode()
