"""Adding a source in German (de-DE browser): kinds, labels, help texts and every
problem of a submit in German, the connector's own checks included."""

from __future__ import annotations

import pytest

from ingestion.models import Connector

GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de-DE"}


@pytest.mark.parametrize(
    ("kind", "shown", "english"),
    [
        (
            "imap",
            [
                "IMAP-Postfach",
                "Web-Verzeichnis",
                "Server <small>(z. B. imap.example.com)</small>",
                "Port <small>(Leer: 993 mit ssl, 143 mit starttls.)</small>",
                "Benutzername",
                "Ordner <small>(Ein Ordner pro Zeile",
            ],
            ["IMAP mailbox", "User name", "e.g. imap.example.com", "Empty: 993"],
        ),
        (
            "confluence",
            ["Basis-URL", "Bereichsschlüssel", "Persönliches Zugriffstoken"],
            ["Base URL", "Space keys", "Personal access token", "Web directory"],
        ),
        (
            "web",
            ["Ordner-URLs <small>(Eine pro Zeile", "nur für Basic Auth"],
            ["Folder URLs", "One a line", "only for basic auth"],
        ),
    ],
)
def test_the_form_is_german(acme, alice_portal, kind, shown, english):
    html = alice_portal.get(f"/sources/new?kind={kind}", **GERMAN).content.decode()
    for text in shown:
        assert text in html
    for text in english:
        assert text not in html


def test_every_problem_is_german(acme, alice_portal):
    response = alice_portal.post(
        "/sources/new?kind=imap",
        {"name": "Postfach", "config_host": "", "config_port": "imap", "paths": "INBOX"},
        **GERMAN,
    )
    assert response.status_code == 400
    html = response.content.decode()
    for message in (
        "Bitte beheben Sie diese Probleme",
        "Server ist erforderlich.",
        "Benutzername ist erforderlich.",
        "Port muss eine ganze Zahl sein.",
        "Passwort ist erforderlich.",
    ):
        assert message in html

    # The connector's own check (settings well-formed, yet they cannot work).
    response = alice_portal.post(
        "/sources/new?kind=web",
        {"name": "Richtlinien", "paths": "ftp://x\n", "schedule": "0 * * * *"},
        **GERMAN,
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Bitte beheben Sie dieses Problem" in html
    assert "&#x27;ftp://x&#x27; ist keine http(s)-Ordner-URL." in html
    assert not Connector.objects.exists()


def test_the_api_answers_in_the_callers_language(acme, alice_api):
    body = {"kind": "imap", "name": "Postfach", "config": {"host": "imap.acme.example"}}
    german = alice_api.post("/api/v1/sources", body, format="json", **GERMAN).json()
    assert "Benutzername ist erforderlich." in german["config"]
    english = alice_api.post("/api/v1/sources", body, format="json").json()
    assert "User name is required." in english["config"]
