"""The single sign-on settings in German: every label and help text, and the form's
own problems."""

from __future__ import annotations

GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de-DE"}


def test_the_settings_page_is_german(acme, alice_portal):
    page = alice_portal.get("/sso/settings/", **GERMAN).content.decode()
    for german in (
        "Aktiviert",
        "Client-Secret",
        "Konten automatisch anlegen",
        "Bestehende Konten verknüpfen",
        "Rollenzuordnung",
        "Anmeldung mit E-Mail-Adresse und Passwort für alle ablehnen (nur SSO).",
        "Genau wie der Anbieter ihn angibt",
    ):
        assert german in page
    for english in ("Enabled", "Client secret", "Auto provision", "Role mapping", "Refuse email"):
        assert english not in page


def test_its_problems_are_german(acme, alice_portal):
    response = alice_portal.post(
        "/sso/settings/",
        {
            "name": "SSO",
            "issuer": "https://id.example",
            "client_id": "x",
            "scopes": "email",
            "role_claim": "groups",
            "role_mapping": "[{",
        },
        **GERMAN,
    )
    html = response.content.decode()
    assert "Die Rollenzuordnung ist kein gültiges JSON." in html
    assert "Die Scopes müssen „openid“ enthalten." in html
