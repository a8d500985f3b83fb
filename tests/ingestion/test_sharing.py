"""Sharing a document into another workspace (ingestion.sharing, docs/sharing.md).

Acme: bob is an editor of Sales and of Team; dave is a viewer of Team only; erin is a
viewer of Sales only; grace is an admin of Team only; frank belongs to Other only.
bob's document about heliotrope lives in Sales; only it mentions the word.
"""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from accounts.audit import AuditContext
from accounts.models import AuditEvent, User
from ingestion.models import Chunk, Document, DocumentShare, ShareNotice
from ingestion.readers import document_readers_set
from ingestion.sharing import SHARE_ENDED, SHARE_REMOVED, SHARED, UNSHARED
from tests.conftest import PASSWORD, api_client, portal_client
from workspaces.models import Membership, Role, Workspace
from workspaces.rls import workspaces_scope

QUESTION = "What is the heliotrope vault passphrase?"
VAULT = (
    b"# Vault procedures\n\nThe heliotrope vault passphrase rotates every month; the "
    b"treasury keeps the heliotrope vault keys and opens the vault on weekdays.\n"
)


@pytest.fixture
def people(acme):
    sales = Workspace.objects.get(slug="sales")
    team = Workspace.objects.create(name="Team", slug="team")
    other = Workspace.objects.create(name="Other", slug="other")
    bob = User.objects.get(email="bob@acme.example")
    Membership.objects.create(workspace=team, user=bob, role=Role.EDITOR)
    made = {}
    for name, workspace, role in [
        ("dave", team, Role.VIEWER),
        ("erin", sales, Role.VIEWER),
        ("grace", team, Role.ADMIN),
        ("frank", other, Role.EDITOR),
    ]:
        user = User.objects.create_user(f"{name}@acme.example", PASSWORD)
        Membership.objects.create(workspace=workspace, user=user, role=role)
        made[name] = api_client(acme, f"{name}@acme.example")
    made["bob"] = api_client(acme, "bob@acme.example")
    made["alice"] = api_client(acme, "alice@acme.example")
    made.update(sales=sales, team=team, other=other)
    return made


@pytest.fixture
def vault(people, upload_indexed):
    return upload_indexed(people["bob"], "vault.md", VAULT, workspace="sales")["id"]


def _found(client, workspace: str) -> set[int]:
    response = client.get("/api/v1/search", {"q": QUESTION, "workspace": workspace, "k": 5})
    assert response.status_code == 200, response.content
    return {r["document_id"] for r in response.json()["results"]}


def _share(people, document_id: int, workspace: str = "team", who: str = "bob"):
    return people[who].put(f"/api/v1/documents/{document_id}/shares/{workspace}")


def test_a_shared_document_is_searched_and_read_in_the_target_and_nowhere_else(
    people, vault, carol_api
):
    dave, frank = people["dave"], people["frank"]
    assert vault not in _found(dave, "team")
    assert dave.get(f"/api/v1/documents/{vault}").status_code == 404

    response = _share(people, vault)
    assert response.status_code == 201, response.content
    assert response.json()["workspace"] == "team"
    assert response.json()["source_workspace"] == "sales"
    assert _share(people, vault).status_code == 200  # again: the same share

    assert vault in _found(dave, "team")
    assert dave.get(f"/api/v1/documents/{vault}").status_code == 200
    answer = dave.post("/api/v1/ask", {"question": QUESTION, "workspace": "team"})
    assert vault in {c["document_id"] for c in answer.json()["citations"]}
    incoming = dave.get("/api/v1/shared-documents", {"workspace": "team"}).json()
    assert [row["document"]["id"] for row in incoming["results"]] == [vault]
    # Read-only in the target: no delete, no readers, no re-share from there.
    assert dave.delete(f"/api/v1/documents/{vault}").status_code == 403
    grace = people["grace"]
    assert grace.patch(f"/api/v1/documents/{vault}", {"readers": []}).status_code == 403
    assert grace.delete(f"/api/v1/documents/{vault}").status_code == 403
    # Nobody outside the target: another workspace, another organization.
    assert vault not in _found(frank, "other")
    assert frank.get(f"/api/v1/documents/{vault}").status_code == 404
    assert frank.get(f"/api/v1/documents/{vault}/shares").status_code == 404
    assert frank.delete(f"/api/v1/documents/{vault}/shares/team").status_code == 404
    assert carol_api.get(f"/api/v1/documents/{vault}").status_code == 404
    assert carol_api.put(f"/api/v1/documents/{vault}/shares/team").status_code == 404
    # erin reads it in its own workspace, as before; the share changes nothing there.
    assert vault in _found(people["erin"], "sales")
    assert AuditEvent.objects.filter(action=SHARED, target_id=str(vault)).count() == 1
    # Team's members are told (not the sharer).
    told = set(ShareNotice.objects.values_list("user__email", flat=True))
    assert told == {"dave@acme.example", "grace@acme.example"}


def test_an_unshare_takes_effect_at_the_next_search_and_answer(people, vault):
    dave = people["dave"]
    _share(people, vault)
    first = dave.post("/api/v1/ask", {"question": QUESTION, "workspace": "team"})
    assert vault in {c["document_id"] for c in first.json()["citations"]}

    response = people["bob"].delete(f"/api/v1/documents/{vault}/shares/team")
    assert response.status_code == 204, response.content
    assert vault not in _found(dave, "team")
    again = dave.post("/api/v1/ask", {"question": QUESTION, "workspace": "team"})
    assert vault not in {c["document_id"] for c in again.json()["citations"]}
    assert "rotates every month" not in again.content.decode()
    assert dave.get(f"/api/v1/documents/{vault}").status_code == 404
    assert AuditEvent.objects.filter(action=UNSHARED, target_id=str(vault)).exists()
    assert not ShareNotice.objects.exists()


def test_sharing_needs_the_editor_role_in_both_workspaces(people, vault):
    # erin is a viewer of Sales; frank is an editor elsewhere; dave a viewer of Team.
    assert _share(people, vault, who="erin").status_code == 403
    assert _share(people, vault, who="frank").status_code == 404
    assert _share(people, vault, "other").status_code == 404  # bob is not in Other
    Membership.objects.filter(user__email="bob@acme.example", workspace__slug="team").update(
        role=Role.VIEWER
    )
    assert _share(people, vault).status_code == 403
    assert _share(people, vault, "sales").status_code in (400, 404)
    assert not DocumentShare.objects.exists()


def test_a_target_admin_removes_an_incoming_document_a_viewer_cannot(people, vault):
    _share(people, vault)
    assert people["dave"].delete(f"/api/v1/documents/{vault}/shares/team").status_code == 403
    response = people["grace"].delete(f"/api/v1/documents/{vault}/shares/team")
    assert response.status_code == 204, response.content
    assert not DocumentShare.objects.exists()
    assert AuditEvent.objects.filter(action=SHARE_REMOVED, target_id=str(vault)).exists()
    assert vault not in _found(people["dave"], "team")
    assert vault in _found(people["erin"], "sales")  # the document itself stays


def test_revoking_the_sharers_editor_role_ends_the_share(people, vault):
    """The rule: a share lasts while the person who made it is an editor of both
    workspaces. Taken down to viewer in Team, bob's share ends at the next read, with
    an audit event: dave no longer finds it, and it does not come back when bob is an
    editor again (he would share it again)."""
    _share(people, vault)
    assert vault in _found(people["dave"], "team")
    Membership.objects.filter(user__email="bob@acme.example", workspace__slug="team").update(
        role=Role.VIEWER
    )
    assert vault not in _found(people["dave"], "team")
    assert people["dave"].get(f"/api/v1/documents/{vault}").status_code == 404
    ended = AuditEvent.objects.get(action=SHARE_ENDED, target_id=str(vault))
    assert "no longer an editor" in ended.extra["reason"]
    assert not DocumentShare.objects.exists()
    Membership.objects.filter(user__email="bob@acme.example", workspace__slug="team").update(
        role=Role.EDITOR
    )
    assert vault not in _found(people["dave"], "team")


def test_losing_the_role_in_the_source_workspace_ends_it_too(people, vault):
    _share(people, vault)
    Membership.objects.filter(user__email="bob@acme.example", workspace__slug="sales").delete()
    assert vault not in _found(people["dave"], "team")
    assert AuditEvent.objects.filter(action=SHARE_ENDED, target_id=str(vault)).exists()


def test_readers_follow_the_document_into_the_target(people, vault, acme):
    """Restricted to bob, the shared document is hidden in Team from dave and from
    Team's admin grace alike (a shared document's readers apply as they are)."""
    _share(people, vault)
    document_readers_set(
        document=Document.objects.get(pk=vault),
        readers=["user:bob@acme.example"],
        audit=AuditContext(),
    )
    for name in ("dave", "grace"):
        assert vault not in _found(people[name], "team")
        assert people[name].get(f"/api/v1/documents/{vault}").status_code == 404
        listed = people[name].get("/api/v1/shared-documents", {"workspace": "team"}).json()
        assert listed["results"] == []
    assert vault in _found(people["bob"], "team")
    # Not even the title, in the notice of new shared documents.
    listing = portal_client(acme, "dave@acme.example").get("/documents/?workspace=team")
    assert "Vault procedures" not in listing.content.decode()


def test_erasing_the_document_erases_its_shares(people, vault):
    _share(people, vault)
    assert people["bob"].delete(f"/api/v1/documents/{vault}").status_code == 204
    assert not DocumentShare.objects.exists()
    assert not ShareNotice.objects.exists()
    assert AuditEvent.objects.filter(action=SHARE_ENDED, target_id=str(vault)).exists()
    assert vault not in _found(people["dave"], "team")


def test_row_level_security_shows_a_shared_document_read_only_in_its_target(people, vault):
    """The database's second wall: with Team alone in scope, the shared document's
    rows are visible, and cannot be changed; with Other alone, nothing of it is."""
    team, other = people["team"], people["other"]
    _share(people, vault)
    chunks = Chunk.objects.filter(document_id=vault).count()
    assert chunks > 0
    with workspaces_scope([team.pk]), transaction.atomic():
        assert Document.objects.filter(pk=vault).count() == 1
        assert Chunk.objects.filter(document_id=vault).count() == chunks
        with connection.cursor() as cursor:
            # Keyword search reads a shared document's words from its chunks; the posting
            # lists of its workspace (every document's words) stay out of sight.
            cursor.execute(
                "SELECT count(*) FROM ingestion_chunk"
                " WHERE document_id = %s AND search_vector IS NOT NULL",
                [vault],
            )
            assert cursor.fetchone()[0] == chunks
            cursor.execute("SELECT DISTINCT workspace_id FROM ingestion_posting_list")
            assert {row[0] for row in cursor.fetchall()} <= {team.pk}
        assert Document.objects.filter(pk=vault).update(title="changed") == 0
        assert Chunk.objects.filter(document_id=vault).delete()[0] == 0
    with workspaces_scope([other.pk]), transaction.atomic():
        assert not Document.objects.filter(pk=vault).exists()
        assert not Chunk.objects.filter(document_id=vault).exists()
        assert not DocumentShare.objects.exists()
    # A share is made only with its target in scope: the document's workspace alone
    # cannot push its documents into another.
    with (
        workspaces_scope([people["sales"].pk]),
        pytest.raises(DatabaseError),
        transaction.atomic(),
    ):
        DocumentShare.objects.create(
            document_id=vault, workspace=other, source_workspace=people["sales"]
        )
    DocumentShare.objects.all().delete()
    with workspaces_scope([team.pk]), transaction.atomic():
        assert not Document.objects.filter(pk=vault).exists()
        assert not Chunk.objects.filter(document_id=vault).exists()


def test_every_member_gets_my_documents_that_nobody_else_sees(people, acme):
    bob_portal = portal_client(acme, "bob@acme.example")
    assert bob_portal.get("/documents/").status_code == 200
    mine = Workspace.objects.get(personal_of__email="bob@acme.example")
    assert mine.name == "My Documents"
    assert bob_portal.get(f"/documents/?workspace={mine.slug}").status_code == 200
    # bob's default workspace is still Sales (a team's before My Documents).
    upload = people["bob"].get("/api/v1/documents")
    assert upload.status_code == 200
    # The owner does not see it, nor reach it; the Workspaces page leaves it out.
    alice = people["alice"]
    assert alice.get("/api/v1/documents", {"workspace": mine.slug}).status_code == 404
    alice_portal = portal_client(acme, "alice@acme.example")
    assert alice_portal.get(f"/documents/?workspace={mine.slug}").status_code == 404
    assert mine.slug not in alice_portal.get("/workspaces/").content.decode()
    assert Membership.objects.filter(workspace=mine).count() == 1


def test_the_portal_shares_shows_tells_and_removes(people, vault, acme):
    bob = portal_client(acme, "bob@acme.example")
    page = bob.get(f"/documents/{vault}/").content.decode()
    assert 'name="workspace"' in page
    assert ">Team</option>" in page
    shared = bob.post(f"/documents/{vault}/share", {"workspace": "team"})
    assert shared.status_code == 302
    assert "Shared into Team" in bob.get(f"/documents/{vault}/").content.decode()

    dave = portal_client(acme, "dave@acme.example")
    listing = dave.get("/documents/?workspace=team").content.decode()
    assert "Shared from Sales" in listing
    assert "Shared into this workspace:" in listing
    detail = dave.get(f"/documents/{vault}/").content.decode()
    assert "read-only here" in detail
    assert "Remove from Team" not in detail
    assert ">Delete<" not in detail
    assert dave.post(f"/documents/{vault}/unshare", {"workspace": "team"}).status_code == 403
    assert dave.post(f"/documents/{vault}/delete").status_code == 403
    assert dave.post("/documents/shared/dismiss?workspace=team").status_code == 302
    assert (
        "Shared into this workspace:" not in dave.get("/documents/?workspace=team").content.decode()
    )

    grace = portal_client(acme, "grace@acme.example")
    assert "Remove from Team" in grace.get(f"/documents/{vault}/").content.decode()
    assert grace.post(f"/documents/{vault}/unshare", {"workspace": "team"}).status_code == 302
    assert dave.get(f"/documents/{vault}/").status_code == 404
    assert "heliotrope" not in dave.get("/documents/?workspace=team").content.decode().lower()
    # Outsiders: another workspace's member, another organization's.
    frank = portal_client(acme, "frank@acme.example")
    assert frank.post(f"/documents/{vault}/share", {"workspace": "other"}).status_code == 404


def test_a_document_whose_workspace_is_archived_is_out_of_the_target_until_restored(people, vault):
    from django.utils import timezone

    _share(people, vault)
    Workspace.objects.filter(slug="sales").update(archived_at=timezone.now())
    assert vault not in _found(people["dave"], "team")
    assert people["dave"].get(f"/api/v1/documents/{vault}").status_code == 404
    Workspace.objects.filter(slug="sales").update(archived_at=None)
    assert vault in _found(people["dave"], "team")
    assert DocumentShare.objects.count() == 1
