"""The owner's SSO settings page, the admin, and the encrypted client secret."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings
from django_tenants.utils import schema_context

from infra.crypto import SecretUnreadable, decrypt, encrypt
from sso.models import IdentityProvider
from tests.conftest import portal_client
from tests.sso.conftest import browser, callback_url, configure

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _form(real_provider, **overrides) -> dict:
    data = {
        "enabled": "on",
        "name": "Acme IdP",
        "issuer": real_provider.url,
        "discovery_url": "",
        "client_id": "opaa-acme",
        "client_secret": "s3cr3t-value-of-the-client",
        "scopes": "openid email profile",
        "allowed_email_domains": "acme.example",
        "role_claim": "groups",
        "role_mapping": json.dumps([{"value": "g", "workspace": "sales", "role": "viewer"}]),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_the_owner_saves_the_provider_and_the_secret_is_stored_encrypted(
    acme, alice_portal, real_provider
):
    page = alice_portal.get("/sso/settings/")
    assert page.status_code == 200
    assert callback_url(acme).encode() in page.content

    response = alice_portal.post("/sso/settings/", _form(real_provider))

    assert response.status_code == 302, response.content
    with schema_context(acme.schema):
        provider = IdentityProvider.objects.get()
        assert provider.enabled
        assert provider.client_id == "opaa-acme"
        assert "s3cr3t" not in provider.client_secret_encrypted
        assert provider.client_secret == "s3cr3t-value-of-the-client"
        assert provider.role_mapping == [{"value": "g", "workspace": "sales", "role": "viewer"}]
    # The secret is never shown back, and an empty field keeps it.
    assert b"s3cr3t" not in alice_portal.get("/sso/settings/").content
    alice_portal.post("/sso/settings/", _form(real_provider, client_secret="", name="Renamed"))
    with schema_context(acme.schema):
        provider = IdentityProvider.objects.get()
        assert (provider.name, provider.client_secret) == ("Renamed", "s3cr3t-value-of-the-client")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"issuer": "http://127.0.0.1:9"}, b"could not be reached"),
        ({"role_mapping": "[{"}, b"not valid JSON"),
        (
            {"role_mapping": '[{"value": "g", "workspace": "nope", "role": "viewer"}]'},
            b"no workspace",
        ),
        (
            {"role_mapping": '[{"value": "g", "workspace": "sales", "role": "god"}]'},
            b"the role must",
        ),
        ({"scopes": "email"}, b"must include"),
        ({"client_secret": ""}, b"Enter the client secret"),
        ({"enabled": None, "password_sign_in_disabled": "on"}, b"only be disabled while SSO"),
    ],
)
def test_bad_settings_are_explained_on_the_form(
    acme, alice_portal, real_provider, overrides, message
):
    response = alice_portal.post("/sso/settings/", _form(real_provider, **overrides))
    assert response.status_code == 200
    assert message in response.content
    with schema_context(acme.schema):
        assert not IdentityProvider.objects.exists()


def test_an_issuer_that_differs_from_the_discovery_document_is_refused(
    acme, alice_portal, real_provider
):
    response = alice_portal.post(
        "/sso/settings/",
        _form(
            real_provider,
            issuer="https://other.example",
            discovery_url=f"{real_provider.url}/.well-known/openid-configuration",
        ),
    )
    assert response.status_code == 200
    assert b"names the issuer" in response.content


def test_only_the_owner_sees_the_settings_page(acme, world):
    bob = portal_client(world.acme, "bob@acme.example")
    assert bob.get("/sso/settings/").status_code == 404
    assert bob.post("/sso/settings/", {"enabled": "on"}).status_code == 404
    carol_at_acme = portal_client(world.globex, "carol@globex.example")
    carol_at_acme.defaults["HTTP_HOST"] = world.acme.domain
    response = carol_at_acme.get("/sso/settings/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert browser(acme).get("/sso/settings/").status_code == 302


def test_the_admin_edits_the_one_provider(acme, alice_portal):
    assert alice_portal.get("/admin/sso/identityprovider/add/").status_code == 200
    configure(acme, issuer="https://idp.example", client_id="c", client_secret="admin-secret")
    assert alice_portal.get("/admin/sso/identityprovider/").status_code == 200
    assert alice_portal.get("/admin/sso/identityprovider/add/").status_code == 403
    with schema_context(acme.schema):
        pk = IdentityProvider.objects.get().pk
    change = alice_portal.get(f"/admin/sso/identityprovider/{pk}/change/")
    assert change.status_code == 200
    assert b"admin-secret" not in change.content
    assert alice_portal.get("/admin/sso/externalidentity/").status_code == 200


def test_secrets_round_trip_and_another_key_cannot_read_them():
    ciphertext = encrypt("the secret")
    assert ciphertext != "the secret"
    assert decrypt(ciphertext) == "the secret"
    with override_settings(FIELD_ENCRYPTION_KEY="another key"), pytest.raises(SecretUnreadable):
        decrypt(ciphertext)


# Made by the former ``sso.encryption.secret_encrypt`` with FIELD_ENCRYPTION_KEY set to
# "legacy-key-for-the-test", before it was folded into ``infra.crypto``.
LEGACY_CIPHERTEXT = (
    "gAAAAABrCZOy17T44nlGwwdllcy9jkixPUO8Not4tqhJtkOqtUYevViDYLYU8zzKHRXyJ3D0Gk_O2lkWVWpSa0a2u2f"
    "p73pAUpACTACl4NpMtSsrPr-PAL2Jv4MdTnaUephAmgdJvC-F"
)


@override_settings(FIELD_ENCRYPTION_KEY="legacy-key-for-the-test")
def test_secrets_stored_before_the_consolidation_stay_readable(acme):
    assert decrypt(LEGACY_CIPHERTEXT) == "client-secret-stored-by-sso.encryption"
    provider = IdentityProvider(client_secret_encrypted=LEGACY_CIPHERTEXT)
    assert provider.client_secret == "client-secret-stored-by-sso.encryption"


def test_an_unreadable_secret_gives_503_not_500(acme, acme_idp, real_provider):
    from tests.sso.conftest import come_back, start

    real_provider.set_user("k-1", email="k@acme.example")
    client = browser(acme)
    redirect = real_provider.consent(start(client), "k-1")
    with override_settings(FIELD_ENCRYPTION_KEY="rotated without re-entering"):
        response = come_back(client, redirect)
    assert response.status_code == 503
    assert b"misconfigured" in response.content


def test_the_admin_saves_through_the_same_rules(acme, alice_portal, real_provider):
    response = alice_portal.post(
        "/admin/sso/identityprovider/add/", _form(real_provider, role_mapping="[]")
    )
    assert response.status_code == 302, response.content
    with schema_context(acme.schema):
        assert IdentityProvider.objects.get().client_secret == "s3cr3t-value-of-the-client"
    bad = alice_portal.post(
        f"/admin/sso/identityprovider/{IdentityProvider.objects.get().pk}/change/",
        _form(real_provider, issuer="http://127.0.0.1:9"),
    )
    assert bad.status_code == 200
    assert b"could not be reached" in bad.content
