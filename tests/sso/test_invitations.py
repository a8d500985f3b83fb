"""An invited person accepts by signing in with the organization's SSO."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from accounts.models import User
from sso.models import ExternalIdentity
from tests.sso.conftest import browser, signed_in, sso_sign_in
from workspaces.models import Membership, Role

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_an_invited_person_is_linked_at_their_first_sso_sign_in(
    acme, acme_idp, real_provider, alice_api
):
    invited = alice_api.post(
        "/api/v1/members",
        {"workspace": "sales", "email": "nina@acme.example", "role": "editor"},
        format="json",
    )
    assert invited.status_code == 201
    assert invited.json()["invited"] is True
    real_provider.set_user("nina-at-idp", email="nina@acme.example")
    client = browser(acme)

    assert sso_sign_in(client, real_provider, "nina-at-idp").status_code == 302

    assert signed_in(client)
    with schema_context(acme.schema):
        nina = User.objects.get(email="nina@acme.example")
        assert ExternalIdentity.objects.get(subject="nina-at-idp").user == nina
        assert Membership.objects.get(user=nina, workspace__slug="sales").role == Role.EDITOR


def test_a_used_account_is_not_an_invitation(acme, acme_idp, real_provider, alice_api):
    alice_api.post(
        "/api/v1/members",
        {"workspace": "sales", "email": "nina@acme.example", "role": "viewer"},
        format="json",
    )
    with schema_context(acme.schema):
        nina = User.objects.get(email="nina@acme.example")
        nina.set_password("she chose one")
        nina.save(update_fields=["password"])
    real_provider.set_user("someone-at-idp", email="nina@acme.example")

    response = sso_sign_in(browser(acme), real_provider, "someone-at-idp")

    assert response.status_code == 403
    assert b"already exists" in response.content
    with schema_context(acme.schema):
        assert not ExternalIdentity.objects.exists()
