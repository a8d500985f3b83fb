"""The full authorization-code flow with PKCE against a real OIDC provider on loopback."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django_tenants.utils import schema_context

from accounts.models import User
from sso.models import ExternalIdentity
from tests.conftest import PASSWORD
from tests.sso.conftest import (
    browser,
    callback_url,
    come_back,
    configure,
    signed_in,
    sso_sign_in,
    start,
)
from workspaces.models import Membership, Role

# authlib, inside the provider, warns about its own deprecated internals.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_a_new_person_signs_in_and_is_provisioned_with_mapped_roles(acme, acme_idp, real_provider):
    configure(
        acme,
        auto_provision=True,
        role_mapping=[{"value": "acme-sales", "workspace": "sales", "role": "editor"}],
    )
    real_provider.set_user(
        "dave-42", email="Dave@Acme.example", name="Dave Example", groups=["acme-sales"]
    )
    client = browser(acme)

    response = sso_sign_in(client, real_provider, "dave-42", next_url="/documents/")

    assert response.status_code == 302
    assert response["Location"] == "/documents/"
    with schema_context(acme.schema):
        identity = ExternalIdentity.objects.select_related("user").get(subject="dave-42")
        assert identity.issuer == real_provider.url
        assert identity.user.email == "dave@acme.example"
        assert identity.user.full_name == "Dave Example"
        assert not identity.user.has_usable_password()
        # The team role the provider maps, beside the person's own My Documents.
        membership = Membership.objects.get(user=identity.user, workspace__personal_of__isnull=True)
        assert (membership.workspace.slug, membership.role) == ("sales", Role.EDITOR)
        assert Membership.objects.filter(workspace__personal_of=identity.user).exists()
    assert signed_in(client)
    # The mapped role works: the Sales workspace's documents are readable.
    assert client.get("/api/v1/documents?workspace=sales").status_code == 200
    assert client.get("/api/v1/documents?workspace=general").status_code == 404


def test_the_authorization_request_uses_pkce_s256_nonce_and_the_exact_redirect_uri(
    acme, acme_idp, real_provider
):
    query = parse_qs(urlsplit(start(browser(acme))).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["redirect_uri"] == [callback_url(acme)]
    assert query["nonce"][0]
    assert query["state"][0]
    assert query["scope"] == ["openid email profile"]


def test_later_sign_ins_find_the_person_by_subject_not_email(acme, acme_idp, real_provider):
    configure(acme, auto_provision=True)
    real_provider.set_user("erin-1", email="erin@acme.example")
    assert sso_sign_in(browser(acme), real_provider, "erin-1").status_code == 302
    real_provider.set_user("erin-1", email="erin.new@acme.example")

    assert sso_sign_in(browser(acme), real_provider, "erin-1").status_code == 302

    with schema_context(acme.schema):
        assert User.objects.filter(email__startswith="erin").count() == 1
        assert ExternalIdentity.objects.get(subject="erin-1").user.email == "erin@acme.example"


def test_role_mapping_takes_back_what_the_provider_no_longer_grants(acme, acme_idp, real_provider):
    configure(
        acme,
        auto_provision=True,
        role_mapping=[
            {"value": "sales", "workspace": "sales", "role": "viewer"},
            {"value": "sales-leads", "workspace": "sales", "role": "admin"},
        ],
    )
    real_provider.set_user("gus-1", email="gus@acme.example", groups=["sales", "sales-leads"])
    sso_sign_in(browser(acme), real_provider, "gus-1")
    with schema_context(acme.schema):
        team = Membership.objects.filter(workspace__personal_of__isnull=True)
        assert team.get(user__email="gus@acme.example").role == Role.ADMIN

    real_provider.set_user("gus-1", email="gus@acme.example", groups=[])
    sso_sign_in(browser(acme), real_provider, "gus-1")
    with schema_context(acme.schema):
        team = Membership.objects.filter(workspace__personal_of__isnull=True)
        assert not team.filter(user__email="gus@acme.example").exists()


def test_an_existing_local_account_is_not_taken_over_unless_configured(
    acme, acme_idp, real_provider
):
    real_provider.set_user("alice-at-idp", email="alice@acme.example")
    client = browser(acme)

    response = sso_sign_in(client, real_provider, "alice-at-idp")

    assert response.status_code == 403
    assert b"already exists" in response.content
    assert not signed_in(client)  # still signed out
    with schema_context(acme.schema):
        assert not ExternalIdentity.objects.exists()

    configure(acme, link_existing_accounts=True)
    assert sso_sign_in(client, real_provider, "alice-at-idp").status_code == 302
    with schema_context(acme.schema):
        assert ExternalIdentity.objects.get().user.email == "alice@acme.example"
    assert signed_in(client)


def test_without_auto_provision_an_unknown_person_is_refused(acme, acme_idp, real_provider):
    real_provider.set_user("nobody-1", email="nobody@acme.example")
    response = sso_sign_in(browser(acme), real_provider, "nobody-1")
    assert response.status_code == 403
    assert b"do not have an account" in response.content
    with schema_context(acme.schema):
        assert not User.objects.filter(email="nobody@acme.example").exists()


def test_email_domains_outside_the_allowed_list_are_refused(acme, acme_idp, real_provider):
    configure(acme, auto_provision=True, allowed_email_domains="acme.example, acme.test")
    real_provider.set_user("out-1", email="out@elsewhere.example")
    response = sso_sign_in(browser(acme), real_provider, "out-1")
    assert response.status_code == 403
    assert b"not in a domain allowed" in response.content
    with schema_context(acme.schema):
        assert not User.objects.filter(email="out@elsewhere.example").exists()


def test_an_unverified_email_is_refused(acme, acme_idp, real_provider):
    configure(acme, auto_provision=True)
    real_provider.set_user("unv-1", email="unv@acme.example", email_verified=False)
    assert sso_sign_in(browser(acme), real_provider, "unv-1").status_code == 403


def test_the_provider_refuses_a_code_without_the_right_pkce_verifier(acme, acme_idp, real_provider):
    configure(acme, auto_provision=True)
    real_provider.set_user("pkce-1", email="pkce@acme.example")
    client = browser(acme)
    redirect = real_provider.consent(start(client), "pkce-1")
    session = client.session
    for entry in session["oidc_states"].values():
        entry["code_verifier"] = "x" * 64  # not the verifier of the challenge sent
    session.save()
    failures = real_provider.pkce_failures

    response = come_back(client, redirect)

    assert response.status_code == 400
    assert real_provider.pkce_failures == failures + 1
    assert not signed_in(client)


def test_a_callback_cannot_be_replayed(acme, acme_idp, real_provider):
    configure(acme, auto_provision=True)
    real_provider.set_user("rep-1", email="rep@acme.example")
    client = browser(acme)
    redirect = real_provider.consent(start(client), "rep-1")
    assert come_back(client, redirect).status_code == 302
    client.post("/accounts/logout/")

    response = come_back(client, redirect)

    assert response.status_code == 400
    assert b"expired or was already used" in response.content


def test_a_state_minted_at_acme_is_refused_at_globex(
    acme, acme_idp, globex_idp, real_provider, world
):
    real_provider.set_user("x-org", email="x@globex.example")
    configure(world.globex, auto_provision=True)
    acme_browser = browser(acme)
    redirect = real_provider.consent(start(acme_browser), "x-org")
    query = dict(parse_qs(urlsplit(redirect).query))

    globex_browser = browser(world.globex)
    start(globex_browser)  # globex has a sign-in of its own in progress
    response = globex_browser.get(
        "/sso/callback/", {"code": query["code"][0], "state": query["state"][0]}
    )

    assert response.status_code == 400
    assert b"started for another organization" in response.content
    assert not signed_in(globex_browser)


def test_globex_provider_asserting_an_acme_email_never_signs_into_acme(
    acme, acme_idp, globex_idp, real_provider, world
):
    """Email collision across organizations: the email is never the key."""
    configure(world.globex, auto_provision=True)
    real_provider.set_user("mallory", email="alice@acme.example")
    globex_browser = browser(world.globex)

    assert sso_sign_in(globex_browser, real_provider, "mallory").status_code == 302

    # Signed in at Globex as Globex's own (new) account, nothing at Acme.
    with schema_context(world.globex.schema):
        assert ExternalIdentity.objects.get(subject="mallory").user.email == "alice@acme.example"
    with schema_context(acme.schema):
        assert not ExternalIdentity.objects.exists()
        assert User.objects.get(email="alice@acme.example").check_password(PASSWORD)
    globex_browser.defaults["HTTP_HOST"] = acme.domain
    assert not signed_in(globex_browser)
    # The same assertion at Acme's own sign-in is the email collision rule: refused.
    acme_browser = browser(acme)
    assert sso_sign_in(acme_browser, real_provider, "mallory").status_code == 403
    assert not signed_in(acme_browser)


def test_the_person_denying_consent_gets_a_clear_400(acme, acme_idp, real_provider):
    client = browser(acme)
    url = start(client)
    denied = httpx.post(url, data={"action": "deny"})
    assert denied.status_code == 302
    response = come_back(client, denied.headers["location"])
    assert response.status_code == 400
    assert b"access_denied" in response.content


def test_bad_callbacks_get_400(acme, acme_idp):
    client = browser(acme)
    assert client.get("/sso/callback/").status_code == 400
    assert client.get("/sso/callback/", {"code": "c", "state": "forged"}).status_code == 400


def test_sso_pages_are_404_without_a_provider(acme):
    client = browser(acme)
    assert client.get("/sso/login/").status_code == 404
    assert client.get("/sso/callback/", {"code": "c", "state": "s"}).status_code == 404


def test_an_unreachable_provider_gives_502_not_500(acme):
    configure(acme, issuer="http://127.0.0.1:9", client_id="x", client_secret="y")
    response = browser(acme).get("/sso/login/")
    assert response.status_code == 502
    assert b"cannot be reached" in response.content


def test_next_may_not_lead_off_site(acme, acme_idp, real_provider):
    configure(acme, auto_provision=True)
    real_provider.set_user("nx-1", email="nx@acme.example")
    response = sso_sign_in(browser(acme), real_provider, "nx-1", next_url="https://evil.example/")
    assert response.status_code == 302
    assert response["Location"] == "/ask/"


def test_an_over_long_subject_is_refused_with_400(acme, acme_idp, real_provider):
    configure(acme, auto_provision=True)
    sub = "s" * 300
    real_provider.set_user(sub, email="long@acme.example")
    assert sso_sign_in(browser(acme), real_provider, sub).status_code == 400


def test_a_deactivated_person_cannot_sign_in(acme, acme_idp, real_provider):
    configure(acme, auto_provision=True)
    real_provider.set_user("gone-1", email="gone@acme.example")
    assert sso_sign_in(browser(acme), real_provider, "gone-1").status_code == 302
    with schema_context(acme.schema):
        User.objects.filter(email="gone@acme.example").update(is_active=False)
    client = browser(acme)
    assert sso_sign_in(client, real_provider, "gone-1").status_code == 403
    assert not signed_in(client)


def test_the_callback_must_arrive_at_the_exact_redirect_uri_it_started_with(
    acme, acme_idp, real_provider
):
    """Another domain of the same organization is another redirect URI: refused."""
    from tenants.models import Domain

    Domain.objects.create(domain="acme-alias.localhost", tenant=acme.organization)
    configure(acme, auto_provision=True)
    real_provider.set_user("alias-1", email="alias@acme.example")
    client = browser(acme)
    redirect = real_provider.consent(start(client), "alias-1")
    client.defaults["HTTP_HOST"] = "acme-alias.localhost"

    response = come_back(client, redirect)

    assert response.status_code == 400
    assert b"wrong address" in response.content
    assert not signed_in(client)
