"""Organizations and workspaces never see each other's documents.

carol (Globex) asks the same question as alice (Acme) and only ever gets Globex's
documents; ids that exist only in Acme answer 404 to her, on the API and the portal.
bob, a member of Acme's Sales workspace only, gets 404 for General's documents.
"""

from __future__ import annotations

import pytest
from django.db import connection

ACME_POLICY = b"# Parking\n\nAcme staff park in garage B, level 2. Badges open the gate.\n"
GLOBEX_POLICY = b"# Parking\n\nGlobex staff park in the north lot next to the cafeteria.\n"
ACME_EXTRA = b"# Kitchen\n\nThe kitchen on floor 3 is cleaned every Friday afternoon.\n"
QUESTION = {"question": "Where do staff park?"}


@pytest.fixture
def two_orgs(world, db, alice_api, carol_api, upload_indexed):
    connection.set_tenant(world.acme.organization)
    acme_ids = [
        upload_indexed(alice_api, "kitchen.md", ACME_EXTRA)["id"],
        upload_indexed(alice_api, "parking.md", ACME_POLICY)["id"],
    ]
    connection.set_tenant(world.globex.organization)
    globex_ids = [upload_indexed(carol_api, "parking.md", GLOBEX_POLICY)["id"]]
    # Ids are per organization, and which ones each has depends on the tests before
    # (sequences are not rolled back): one more Acme document when they line up.
    if max(acme_ids) in globex_ids:
        connection.set_tenant(world.acme.organization)
        acme_ids.append(upload_indexed(alice_api, "kitchen2.md", ACME_EXTRA + b"\nAgain.\n")["id"])
        connection.set_tenant(world.globex.organization)
    acme_only = max(acme_ids)  # this one exists in Acme only
    assert acme_only not in globex_ids
    return {"acme": acme_ids, "globex": globex_ids, "acme_only": acme_only}


def test_same_question_each_organization_sees_only_its_own(two_orgs, alice_api, carol_api):
    alice = alice_api.post("/api/v1/ask", QUESTION).json()
    carol = carol_api.post("/api/v1/ask", QUESTION).json()
    assert "garage B" in alice["answer"]
    assert "north lot" not in alice["answer"]
    assert "north lot" in carol["answer"]
    assert "garage B" not in carol["answer"]
    assert {c["document_id"] for c in carol["citations"]} <= set(two_orgs["globex"])
    assert all("Globex" not in c["text"] for c in alice["citations"])

    carol_search = carol_api.get("/api/v1/search", {"q": "garage B badges"}).json()
    assert all("garage" not in r["text"] for r in carol_search["results"])


def test_other_organizations_document_ids_are_404(two_orgs, carol_api, carol_portal):
    acme_only = two_orgs["acme_only"]
    assert carol_api.get(f"/api/v1/documents/{acme_only}").status_code == 404
    assert carol_api.delete(f"/api/v1/documents/{acme_only}").status_code == 404
    listed = carol_api.get("/api/v1/documents").json()["results"]
    assert [d["id"] for d in listed] == two_orgs["globex"]
    assert carol_portal.get(f"/documents/{acme_only}/").status_code == 404
    assert carol_portal.get(f"/documents/{acme_only}/original").status_code == 404


def test_session_of_one_organization_is_not_valid_at_another(world, db, carol_portal):
    # carol's browser, sent to Acme's domain: Acme does not know her session.
    response = carol_portal.get("/documents/", HTTP_HOST=world.acme.domain)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_member_of_another_workspace_gets_404(two_orgs, world, bob_api):
    # bob belongs to Sales only; the parking policy is in General.
    general_doc = two_orgs["acme"][1]
    assert bob_api.get(f"/api/v1/documents/{general_doc}").status_code == 404
    assert bob_api.get("/api/v1/documents", {"workspace": "general"}).status_code == 404
    assert bob_api.post("/api/v1/ask", {**QUESTION, "workspace": "general"}).status_code == 404
    # His own workspace has no documents, and asking there reveals nothing of General.
    answer = bob_api.post("/api/v1/ask", QUESTION).json()
    assert answer["citations"] == []
    assert "garage" not in answer["answer"]
    assert bob_api.get("/api/v1/documents").json()["results"] == []


def test_anonymous_requests_are_refused(world, db):
    from rest_framework.test import APIClient

    client = APIClient(HTTP_HOST=world.acme.domain)
    assert client.get("/api/v1/documents").status_code == 401
    assert client.post("/api/v1/ask", QUESTION).status_code == 401


def test_the_document_browser_finds_nothing_of_another_organization_or_workspace(
    two_orgs, world, carol_portal
):
    """Searching the documents page (titles and text), in one workspace or all of one's
    own, never lists, counts or offers another organization's or workspace's documents."""
    from tests.conftest import portal_client

    for params in ({"q": "garage"}, {"q": "kitchen"}, {"workspace": "all", "q": "badges"}):
        page = carol_portal.get("/documents/", params)
        assert page.status_code == 200
        assert b"garage B" not in page.content  # the search box shows the query itself
        assert b"Kitchen" not in page.content
        assert b"<mark>" not in page.content  # no passage matched
    own = carol_portal.get("/documents/", {"workspace": "all"}).content.decode()
    assert own.count('<td class="doc-title">') == len(two_orgs["globex"])
    for acme_id in two_orgs["acme"]:
        assert f"/documents/{acme_id}/" not in own or acme_id in two_orgs["globex"]
    # bob (Sales only): General's parking policy is not in his "all my workspaces".
    connection.set_tenant(world.acme.organization)
    bob = portal_client(world.acme, "bob@acme.example")
    everything = bob.get("/documents/", {"workspace": "all", "q": "garage"})
    assert everything.status_code == 200
    assert b"garage B" not in everything.content
    assert b"<mark>" not in everything.content
    assert b"0 of 0 documents match" in everything.content
    assert bob.get("/documents/", {"workspace": "general", "q": "garage"}).status_code == 404
