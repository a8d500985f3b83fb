"""The portal's Workspaces page: create, rename, archive and restore, each audited and
role-checked on the server (403 for viewers and editors, 404 for a workspace one is not
in, 400 for bad input); an archived workspace is nobody's until the owner restores it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.audit import AuditAction, AuditContext
from accounts.models import AuditEvent, User
from tests.conftest import PASSWORD, api_client, portal_client
from workspaces.access import workspaces_readable
from workspaces.models import Membership, Role, Workspace
from workspaces.services import membership_save


@pytest.fixture
def sales_admin(acme, world) -> User:
    """vera: an admin of Sales only."""
    user = User.objects.create_user("vera@acme.example", PASSWORD)
    membership_save(
        membership=Membership(
            workspace=Workspace.objects.get(slug="sales"), user=user, role=Role.ADMIN
        ),
        audit=AuditContext(),
    )
    return user


def _events(action: str) -> list[dict]:
    return [e.extra for e in AuditEvent.objects.filter(action=action).order_by("id")]


def test_the_owner_creates_renames_archives_and_restores(acme, alice_portal):
    page = alice_portal.get("/workspaces/")
    assert page.status_code == 200
    assert b'id="workspace-general"' in page.content
    assert b'id="workspace-sales"' in page.content

    created = alice_portal.post("/workspaces/new", {"name": "  Legal   team ", "slug": ""})
    assert created.status_code == 302
    legal = Workspace.objects.get(slug="legal-team")
    assert legal.name == "Legal team"
    assert _events(AuditAction.WORKSPACE_CREATED) == [
        {"workspace": "legal-team", "name": "Legal team"}
    ]
    # The owner is an admin everywhere: no membership of her own is added.
    assert not Membership.objects.filter(workspace=legal).exists()

    assert (
        alice_portal.post("/workspaces/rename?workspace=legal-team", {"name": "Legal"}).status_code
        == 302
    )
    legal.refresh_from_db()
    assert (legal.name, legal.slug) == ("Legal", "legal-team")
    assert _events(AuditAction.WORKSPACE_RENAMED) == [
        {"workspace": "legal-team", "name": "Legal", "previous": "Legal team"}
    ]

    assert alice_portal.post("/workspaces/archive?workspace=legal-team").status_code == 302
    legal.refresh_from_db()
    assert legal.archived_at is not None
    assert _events(AuditAction.WORKSPACE_ARCHIVED) == [{"workspace": "legal-team"}]
    alice = User.objects.get(email="alice@acme.example")
    assert "legal-team" not in workspaces_readable(alice).values_list("slug", flat=True)
    # Out of use: its pages answer 404, as for a workspace that does not exist.
    assert alice_portal.get("/documents/?workspace=legal-team").status_code == 404
    assert (
        alice_portal.post("/workspaces/rename?workspace=legal-team", {"name": "x"}).status_code
        == 404
    )
    listed = alice_portal.get("/workspaces/").content.decode()
    archived_part = listed.split("<h2>Archived</h2>")[1]
    assert 'id="workspace-legal-team"' in archived_part

    assert alice_portal.post("/workspaces/restore", {"workspace": "legal-team"}).status_code == 302
    legal.refresh_from_db()
    assert legal.archived_at is None
    assert alice_portal.get("/documents/?workspace=legal-team").status_code == 200
    assert _events(AuditAction.WORKSPACE_RESTORED) == [{"workspace": "legal-team"}]


@pytest.mark.parametrize(
    ("path", "data", "message"),
    [
        ("/workspaces/new", {"name": ""}, b"A workspace needs a name."),
        ("/workspaces/new", {"name": "Sales"}, b"exists already"),
        ("/workspaces/new", {"name": "x", "slug": "!!!"}, b"Give the workspace a slug"),
        ("/workspaces/rename?workspace=sales", {"name": "   "}, b"A workspace needs a name."),
        ("/workspaces/archive?workspace=general", {}, b"cannot be archived"),
        ("/workspaces/restore", {"workspace": "sales"}, b"is not archived"),
    ],
)
def test_bad_input_is_a_400_saying_what_to_fix(acme, alice_portal, path, data, message):
    before = list(Workspace.objects.values_list("slug", "name", "archived_at"))
    response = alice_portal.post(path, data)
    assert response.status_code == 400
    assert message in response.content
    assert list(Workspace.objects.values_list("slug", "name", "archived_at")) == before


def test_the_owner_deletes_an_archived_workspace_with_its_documents(acme, world, alice_portal):
    from ingestion.models import Document

    sales = Workspace.objects.get(slug="sales")
    for title in ("Price list", "Contract"):
        Document.objects.create(
            workspace=sales,
            title=title,
            original_filename=f"{title}.md",
            storage_key=f"test/{title}",
            mime_type="text/markdown",
            size_bytes=10,
            sha256="0" * 64,
        )
    documents = 2
    # Not archived yet: refused, nothing goes.
    refused = alice_portal.post("/workspaces/delete", {"workspace": "sales", "confirm": "Sales"})
    assert refused.status_code == 400
    assert b"Archive Sales first" in refused.content
    assert alice_portal.post("/workspaces/archive?workspace=sales").status_code == 302
    listed = alice_portal.get("/workspaces/").content.decode()
    assert 'aria-label="Delete Sales for good"' in listed.split("<h2>Archived</h2>")[1]
    # The name typed wrong: refused, nothing goes.
    wrong = alice_portal.post("/workspaces/delete", {"workspace": "sales", "confirm": "sales"})
    assert wrong.status_code == 400
    assert b"Type the workspace&#x27;s name, Sales, to delete it." in wrong.content
    assert Workspace.objects.filter(slug="sales").exists()

    deleted = alice_portal.post("/workspaces/delete", {"workspace": "sales", "confirm": " Sales "})
    assert deleted.status_code == 302
    assert not Workspace.objects.filter(slug="sales").exists()
    assert not Document.objects.filter(workspace_id=sales.pk).exists()
    assert _events(AuditAction.WORKSPACE_DELETED) == [
        {"workspace": "sales", "name": "Sales", "documents": documents}
    ]
    assert f"Deleted Sales and its {documents} documents." in (
        alice_portal.get("/workspaces/").content.decode()
    )


def test_only_the_owner_deletes_a_workspace(acme, world, sales_admin):
    vera = portal_client(world.acme, "vera@acme.example")
    assert vera.post("/workspaces/archive?workspace=sales").status_code == 302
    answer = vera.post("/workspaces/delete", {"workspace": "sales", "confirm": "Sales"})
    assert answer.status_code == 403
    assert Workspace.objects.filter(slug="sales").exists()


def test_restoring_an_unknown_workspace_is_a_404(acme, alice_portal):
    assert alice_portal.post("/workspaces/restore", {"workspace": "nope"}).status_code == 404


def test_a_workspace_admin_manages_only_their_own(acme, world, sales_admin):
    vera = portal_client(world.acme, "vera@acme.example")
    page = vera.get("/workspaces/")
    assert page.status_code == 200
    assert b'id="workspace-sales"' in page.content
    assert b'id="workspace-general"' not in page.content
    assert b"<h2>Archived</h2>" not in page.content  # the owner's

    assert vera.post("/workspaces/rename?workspace=sales", {"name": "Sales EU"}).status_code == 302
    assert Workspace.objects.get(slug="sales").name == "Sales EU"
    # General is not hers: it does not exist for her.
    assert vera.post("/workspaces/rename?workspace=general", {"name": "x"}).status_code == 404
    assert vera.post("/workspaces/archive?workspace=general").status_code == 404

    # She creates one and becomes its admin.
    assert vera.post("/workspaces/new", {"name": "Field sales"}).status_code == 302
    assert (
        Membership.objects.get(workspace__slug="field-sales", user=sales_admin).role == Role.ADMIN
    )

    # Archived, Sales is gone for her and for bob, its editor; only the owner restores it.
    assert vera.post("/workspaces/archive?workspace=sales").status_code == 302
    assert b'id="workspace-sales"' not in vera.get("/workspaces/").content
    assert vera.post("/workspaces/restore", {"workspace": "sales"}).status_code == 403
    bob = portal_client(world.acme, "bob@acme.example")
    assert bob.get("/documents/?workspace=sales").status_code == 404
    connection.set_tenant(world.acme.organization)
    bob_api = api_client(world.acme, "bob@acme.example")
    assert bob_api.get("/api/v1/documents", {"workspace": "sales"}).status_code == 404


def test_viewers_and_editors_see_no_workspace_controls(acme, world):
    # bob edits Sales: no admin anywhere.
    bob = portal_client(world.acme, "bob@acme.example")
    assert bob.get("/workspaces/").status_code == 403
    assert bob.post("/workspaces/new", {"name": "Mine"}).status_code == 403
    assert bob.post("/workspaces/rename?workspace=sales", {"name": "x"}).status_code == 403
    assert bob.post("/workspaces/archive?workspace=sales").status_code == 403
    assert bob.post("/workspaces/restore", {"workspace": "sales"}).status_code == 403
    assert not Workspace.objects.filter(slug="mine").exists()
    assert Workspace.objects.get(slug="sales").name == "Sales"
    assert b'href="/workspaces/"' not in bob.get("/documents/?workspace=sales").content


def _queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


def test_the_list_takes_the_same_queries_for_more_workspaces(acme, alice_portal):
    _queries(alice_portal, "/workspaces/")  # warm: session, tenant, content types
    few = _queries(alice_portal, "/workspaces/")
    for n in range(3):
        Workspace.objects.create(name=f"Extra {n}", slug=f"extra-{n}")
    assert _queries(alice_portal, "/workspaces/") == few
    assert 0 < few < 30
