"""The SSO group mapping: the provider's claim values make a person a member of OPAA
groups, kept in step at every sign-in, against the real loopback OIDC provider."""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import schema_context

from accounts.audit import AuditContext
from accounts.models import AuditEvent, User
from ingestion.models import Document
from ingestion.readers import document_readers_set
from sso.models import IdentityProvider
from tests.sso.conftest import browser, configure, sso_sign_in
from tests.sso.test_settings_page import _form
from workspaces.models import Group, GroupMember
from workspaces.services import group_create, group_members_change

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NOTE = b"# Payroll calendar\n\nSalaries are paid on the 25th of every month.\n"


@pytest.fixture
def finance_only_document(acme, alice_api, upload_indexed, django_capture_on_commit_callbacks):
    """A Sales document readable by the Finance group only (and the owner)."""
    group_create(name="Finance", audit=None)
    group_create(name="Board", audit=None)
    document_id = upload_indexed(alice_api, "payroll.md", NOTE, workspace="sales")["id"]
    with django_capture_on_commit_callbacks(execute=True):
        document_readers_set(
            document=Document.objects.get(pk=document_id),
            readers=["group:finance"],
            audit=AuditContext(),
        )
    return document_id


def _members(slug: str) -> set[str]:
    return set(GroupMember.objects.filter(group__slug=slug).values_list("user__email", flat=True))


def test_claim_makes_a_member_who_reads_then_loses_it(
    acme, acme_idp, real_provider, finance_only_document
):
    configure(
        acme,
        auto_provision=True,
        role_mapping=[{"value": "acme-staff", "workspace": "sales", "role": "viewer"}],
        group_mapping=[{"value": "acme-finance", "group": "finance"}],
    )
    real_provider.set_user("fay-1", email="fay@acme.example", groups=["acme-staff", "acme-finance"])
    client = browser(acme)
    assert sso_sign_in(client, real_provider, "fay-1").status_code == 302

    with schema_context(acme.schema):
        assert _members("finance") == {"fay@acme.example"}
        added = AuditEvent.objects.get(action="group.member_added")
        assert added.extra == {"group": "finance", "user": "fay@acme.example", "via": "sso"}
        assert added.actor_email == "fay@acme.example"
    assert client.get(f"/api/v1/documents/{finance_only_document}").status_code == 200

    # The provider stops asserting the value: the next sign-in takes the membership back.
    real_provider.set_user("fay-1", email="fay@acme.example", groups=["acme-staff"])
    client = browser(acme)
    assert sso_sign_in(client, real_provider, "fay-1").status_code == 302

    with schema_context(acme.schema):
        assert _members("finance") == set()
        assert AuditEvent.objects.filter(
            action="group.member_removed", extra__user="fay@acme.example"
        ).exists()
    assert client.get(f"/api/v1/documents/{finance_only_document}").status_code == 404
    # Still a viewer of Sales: the 404 is the reader rule, not a lost workspace.
    assert client.get("/api/v1/documents?workspace=sales").status_code == 200


def test_memberships_added_by_hand_stay(acme, acme_idp, real_provider, finance_only_document):
    configure(
        acme,
        auto_provision=True,
        group_mapping=[{"value": "acme-finance", "group": "finance"}],
    )
    real_provider.set_user("gil-1", email="gil@acme.example", groups=["acme-finance"])
    sso_sign_in(browser(acme), real_provider, "gil-1")
    with schema_context(acme.schema):
        # The owner adds gil to Board by hand; the provider never mentions Board.
        group_members_change(
            group=Group.objects.get(slug="board"), add=["gil@acme.example"], audit=None
        )

    real_provider.set_user("gil-1", email="gil@acme.example", groups=[])
    sso_sign_in(browser(acme), real_provider, "gil-1")

    with schema_context(acme.schema):
        assert _members("finance") == set()
        assert _members("board") == {"gil@acme.example"}
        assert User.objects.get(email="gil@acme.example").is_active


def test_settings_page_saves_and_checks_the_group_mapping(acme, alice_portal, real_provider):
    Group.objects.create(name="Finance", slug="finance")
    form = _form(
        real_provider,
        role_mapping="[]",
        group_mapping=json.dumps([{"value": "fin", "group": "finance"}]),
    )
    assert alice_portal.post("/sso/settings/", form).status_code == 302
    with schema_context(acme.schema):
        assert IdentityProvider.objects.get().group_mapping == [
            {"value": "fin", "group": "finance"}
        ]
        event = AuditEvent.objects.filter(action="sso_settings.changed").latest("pk")
        assert "group_mapping" in event.extra["changed"]

    for bad, message in [
        ("[{", b"group mapping is not valid JSON"),
        ('[{"value": "fin", "group": "nope"}]', b"there is no group"),
        ('[{"value": "fin"}]', b"exactly the keys value and group"),
    ]:
        response = alice_portal.post("/sso/settings/", {**form, "group_mapping": bad})
        assert response.status_code == 200
        assert message in response.content.replace(b"&#x27;", b"'")
