"""German and English (issue 16): the language is the person's own setting, else the
browser's Accept-Language, else English; the account menu switches it."""

from __future__ import annotations

import pytest
from django.utils import translation
from django_tenants.utils import schema_context

from accounts.language import user_language_set
from accounts.models import User
from tests.conftest import portal_client


@pytest.fixture(autouse=True)
def _english_afterwards():
    # LocaleMiddleware activates a language for the thread; the next test starts in English.
    yield
    translation.deactivate()


def _set_language(org, email: str, language: str) -> None:
    with schema_context(org.schema):
        user_language_set(user=User.objects.get(email=email), language=language)


def test_the_sign_in_page_follows_the_browser(acme):
    from django.test import Client

    client = Client(HTTP_HOST=acme.domain)
    german = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9,en;q=0.5")
    assert german.status_code == 200
    assert german["Content-Language"] == "de"
    assert '<html lang="de">' in german.content.decode()
    assert "Anmelden" in german.content.decode()
    english = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.8")
    assert english["Content-Language"] == "en"
    assert "Sign in" in english.content.decode()
    # A language we do not have: English.
    assert client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="fr")["Content-Language"] == "en"


def test_the_persons_setting_wins_over_the_browser(acme):
    client = portal_client(acme, "alice@acme.example")
    _set_language(acme, "alice@acme.example", "de")
    page = client.get("/documents/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert page["Content-Language"] == "de"
    assert ">Dokumente<" in page.content.decode()

    _set_language(acme, "alice@acme.example", "en")
    page = client.get("/documents/", HTTP_ACCEPT_LANGUAGE="de")
    assert page["Content-Language"] == "en"
    assert ">Documents<" in page.content.decode()

    # "As the browser" (empty): Accept-Language decides again.
    _set_language(acme, "alice@acme.example", "")
    assert client.get("/documents/", HTTP_ACCEPT_LANGUAGE="de")["Content-Language"] == "de"


def test_the_account_menu_switches_the_language_and_returns(acme):
    client = portal_client(acme, "alice@acme.example")
    page = client.get("/documents/")
    assert 'name="language"' in page.content.decode()  # the switch is in the account menu

    switched = client.post("/accounts/language/", {"language": "de", "next": "/documents/"})
    assert switched.status_code == 302
    assert switched["Location"] == "/documents/"
    with schema_context(acme.schema):
        assert User.objects.get(email="alice@acme.example").language == "de"
    assert client.get("/documents/")["Content-Language"] == "de"

    # An unknown language means "as the browser"; an outside address is not followed.
    back = client.post("/accounts/language/", {"language": "xx", "next": "https://evil.example/"})
    assert back["Location"] == "/"
    with schema_context(acme.schema):
        assert User.objects.get(email="alice@acme.example").language == ""


def test_switching_needs_a_signed_in_person_and_a_post(acme):
    from django.test import Client

    client = Client(HTTP_HOST=acme.domain)
    assert client.post("/accounts/language/", {"language": "de"}).status_code == 302  # sign in
    signed_in = portal_client(acme, "alice@acme.example")
    assert signed_in.get("/accounts/language/").status_code == 405


def test_error_pages_and_messages_are_german(acme):
    client = portal_client(acme, "alice@acme.example")
    _set_language(acme, "alice@acme.example", "de")
    missing = client.get("/documents/999999999/")
    assert missing.status_code == 404
    assert "Seite nicht gefunden" in missing.content.decode()

    client.post("/documents/?workspace=general", {})  # nothing chosen: a message follows
    page = client.get("/documents/")
    assert "Wählen Sie mindestens eine Datei zum Hochladen." in page.content.decode()


def test_api_errors_follow_accept_language(acme):
    """The API's field names and codes stay English; its error detail follows the caller's
    Accept-Language like the portal (docs/i18n.md)."""
    from rest_framework.test import APIClient

    client = APIClient(HTTP_HOST=acme.domain)
    english = client.get("/api/v1/documents")
    assert english.status_code == 401
    assert english.json()["detail"] == "Authentication credentials were not provided."
    german = client.get("/api/v1/documents", HTTP_ACCEPT_LANGUAGE="de")
    assert german.status_code == 401
    assert german.json()["detail"] != english.json()["detail"]
