"""A document the caller may not read answers 404 for every method, exactly as a missing
id does: a role too low for the method must not reveal that it exists (issue 11, 5)."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from accounts.models import User
from tests.conftest import PASSWORD, api_client, portal_client
from workspaces.models import Membership, Role, Workspace

MISSING = 987654


@pytest.fixture
def vera(acme):
    """A viewer of Sales."""
    user = User.objects.create_user("vera@acme.example", PASSWORD)
    Membership.objects.create(
        workspace=Workspace.objects.get(slug="sales"), user=user, role=Role.VIEWER
    )
    return user


@pytest.fixture
def restricted(acme, alice_api, upload_indexed):
    """A Sales document only alice may read; returns its id."""
    body = upload_indexed(alice_api, "board.txt", b"Board minutes: merger.", workspace="sales")
    response = alice_api.patch(
        f"/api/v1/documents/{body['id']}", {"readers": ["user:alice@acme.example"]}, format="json"
    )
    assert response.status_code == 200, response.content
    return body["id"]


@pytest.fixture
def open_document(acme, alice_api, upload_indexed):
    """A Sales document every member of Sales may read."""
    return upload_indexed(alice_api, "menu.txt", b"Canteen menu: soup.", workspace="sales")["id"]


API_CALLS = [
    ("get", None),
    ("patch", {"readers": []}),
    ("delete", None),
]


@pytest.mark.parametrize("email", ["vera@acme.example", "bob@acme.example"])
@pytest.mark.parametrize(("method", "body"), API_CALLS)
def test_api_unreadable_document_is_a_404_like_a_missing_one(
    world, vera, restricted, email, method, body
):
    client = api_client(world.acme, email)
    hidden = getattr(client, method)(f"/api/v1/documents/{restricted}", body, format="json")
    missing = getattr(client, method)(f"/api/v1/documents/{MISSING}", body, format="json")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()


def test_api_unreadable_document_is_left_as_it_was(world, vera, restricted, alice_api):
    bob = api_client(world.acme, "bob@acme.example")
    bob.patch(f"/api/v1/documents/{restricted}", {"readers": []}, format="json")
    bob.delete(f"/api/v1/documents/{restricted}")
    document = alice_api.get(f"/api/v1/documents/{restricted}").json()
    assert document["readers"] == ["user:alice@acme.example"]


def test_api_readable_document_still_says_the_role_is_too_low(world, vera, open_document):
    """Existence is no secret for a document one may read: 403 names the missing role."""
    client = api_client(world.acme, "vera@acme.example")
    assert client.get(f"/api/v1/documents/{open_document}").status_code == 200
    assert client.delete(f"/api/v1/documents/{open_document}").status_code == 403
    assert (
        client.patch(
            f"/api/v1/documents/{open_document}", {"readers": []}, format="json"
        ).status_code
        == 403
    )


PORTAL_CALLS = [
    ("get", "/documents/{pk}/"),
    ("get", "/documents/{pk}/original"),
    ("post", "/documents/{pk}/delete"),
    ("post", "/documents/{pk}/readers"),
]


@pytest.mark.parametrize("email", ["vera@acme.example", "bob@acme.example"])
@pytest.mark.parametrize(("method", "path"), PORTAL_CALLS)
def test_portal_unreadable_document_is_a_404_like_a_missing_one(
    world, vera, restricted, email, method, path
):
    client = portal_client(world.acme, email)
    hidden = getattr(client, method)(path.format(pk=restricted))
    missing = getattr(client, method)(path.format(pk=MISSING))
    assert hidden.status_code == missing.status_code == 404


def test_portal_readable_document_still_says_the_role_is_too_low(world, vera, open_document):
    client = portal_client(world.acme, "vera@acme.example")
    assert client.post(f"/documents/{open_document}/delete").status_code == 403
    assert client.post(f"/documents/{open_document}/readers").status_code == 403
    with schema_context(world.acme.schema):
        from ingestion.models import Document

        assert Document.objects.filter(pk=open_document).exists()
