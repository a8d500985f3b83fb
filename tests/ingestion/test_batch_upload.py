"""Several uploads at once: the batch API, the portal's per-file answers, the size limit
of the organization's plan against the deployment's default."""

from __future__ import annotations

import hashlib

import pytest
from django.test import override_settings

from ingestion.models import Document, DocumentStatus
from tenants.models import Organization, Plan
from tests.conftest import named_file

BADGES = b"# Badge policy\n\nReport a lost badge to reception within a day.\n"
PARKING = b"# Parking\n\nVisitors park on level -2; ask reception for a ticket.\n"
BIG = b"# Big\n\n" + b"lorem ipsum dolor sit amet " * 100  # 2.7 kB


def batch(client, *files, **extra):
    return client.post(
        "/api/v1/documents/batch",
        {"file": [named_file(name, data) for name, data in files], **extra},
        format="multipart",
    )


@pytest.fixture
def acme_plan(world, db):
    """Acme on a plan with the given limits for the test (rolled back with it)."""

    def on_plan(**limits) -> Plan:
        plan = Plan.objects.create(code="batch", name="Batch", **limits)
        Organization.objects.filter(pk=world.acme.organization.pk).update(plan=plan)
        return plan

    return on_plan


def test_batch_reports_each_file_and_indexes_the_good_ones(
    acme, alice_api, upload_indexed, django_capture_on_commit_callbacks
):
    already = upload_indexed(alice_api, "parking.md", PARKING)
    with (
        override_settings(MAX_UPLOAD_BYTES=1024),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = batch(
            alice_api,
            ("badges.md", BADGES),
            ("parking-copy.md", PARKING),
            ("empty.txt", b""),
            ("movie.avi", b"not a film"),
            ("big.md", BIG),
        )
    assert response.status_code == 207, response.content
    results = response.json()["results"]
    assert [(r["filename"], r["status"], r["outcome"]) for r in results] == [
        ("badges.md", 201, "created"),
        ("parking-copy.md", 200, "duplicate"),
        ("empty.txt", 400, "refused"),
        ("movie.avi", 415, "refused"),
        ("big.md", 413, "refused"),
    ]
    assert [r.get("code") for r in results[2:]] == ["empty", "unsupported_type", "too_large"]
    assert results[2]["detail"] == "The file is empty."
    assert ".avi" in results[3]["detail"]
    assert "larger than the upload limit" in results[4]["detail"]
    assert results[1]["document"]["id"] == already["id"]
    assert results[2]["document"] is None

    created = Document.objects.get(pk=results[0]["document"]["id"])
    assert created.status == DocumentStatus.INDEXED
    assert created.title == "Badge policy"
    # Only the two distinct good files are stored; nothing of the refused ones.
    assert sorted(Document.objects.values_list("original_filename", flat=True)) == [
        "badges.md",
        "parking.md",
    ]


def test_batch_new_version_of_a_file_with_the_same_name(acme, alice_api, upload_indexed):
    first = upload_indexed(alice_api, "badges.md", BADGES)
    response = batch(alice_api, ("badges.md", BADGES + b"\nBadges are blue.\n"))
    result = response.json()["results"][0]
    assert (result["status"], result["outcome"]) == (200, "new_version")
    assert result["document"]["id"] == first["id"]
    assert Document.objects.get().version == 2


def test_batch_refuses_no_files_and_too_many_files(acme, alice_api):
    response = alice_api.post("/api/v1/documents/batch", {}, format="multipart")
    assert response.status_code == 400
    assert "at least one file" in response.json()["file"][0]
    many = [(f"note{i}.md", f"# Note {i}\n\nText {i}.\n".encode()) for i in range(21)]
    response = batch(alice_api, *many)
    assert response.status_code == 400
    assert "At most 20 files" in response.json()["file"][0]
    assert not Document.objects.exists()  # refused as a whole: nothing stored


def test_batch_needs_the_write_scope_and_a_workspace_of_the_caller(
    acme, world, make_token, bob_api, carol_api
):
    from tests.conftest import token_client

    reader = token_client(
        world.acme, make_token(world.acme, "alice@acme.example", scopes=["documents:read"])
    )
    assert batch(reader, ("badges.md", BADGES)).status_code == 403
    writer = token_client(
        world.acme, make_token(world.acme, "alice@acme.example", scopes=["documents:write"])
    )
    assert batch(writer, ("badges.md", BADGES)).status_code == 207
    # Bob edits Sales only: Acme's General does not exist for him.
    assert batch(bob_api, ("x.md", PARKING), workspace="general").status_code == 404
    # Carol's batch lands in her own organization (Globex), never in Acme.
    assert batch(carol_api, ("x.md", PARKING), workspace="general").status_code == 207
    assert batch(bob_api, ("x.md", PARKING), workspace="sales").status_code == 207
    assert sorted(Document.objects.values_list("workspace__slug", flat=True)) == [
        "general",
        "sales",
    ]


def test_plan_upload_limit_replaces_the_default(acme, acme_plan, alice_api):
    # Default (no plan limit): the deployment's MAX_UPLOAD_BYTES, 413.
    with override_settings(MAX_UPLOAD_BYTES=1024):
        assert batch(alice_api, ("big.md", BIG)).json()["results"][0]["status"] == 413
        # A plan allowing more lifts the default for this organization.
        acme_plan(max_upload_bytes=10_000)
        assert batch(alice_api, ("big.md", BIG)).json()["results"][0]["status"] == 201


def test_plan_upload_limit_lower_than_the_default_refuses_with_402(acme, acme_plan, alice_api):
    acme_plan(max_upload_bytes=100)
    results = batch(alice_api, ("badges.md", BADGES), ("big.md", BIG)).json()["results"]
    assert [r["status"] for r in results] == [201, 402]
    assert results[1]["code"] == "quota"
    assert results[1]["limit"] == "max_upload_bytes"
    assert "Batch plan" in results[1]["detail"]


def test_portal_multi_file_post_answers_json_per_file(
    acme, alice_portal, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_portal.post(
            "/documents/?workspace=general",
            {"files": [named_file("badges.md", BADGES), named_file("notes.exe", b"MZ")]},
            HTTP_ACCEPT="application/json",
        )
    assert response.status_code == 207
    results = response.json()["results"]
    assert [(r["filename"], r["outcome"]) for r in results] == [
        ("badges.md", "created"),
        ("notes.exe", "refused"),
    ]
    assert results[1]["status"] == 415
    document = Document.objects.get()
    assert results[0]["document"]["id"] == document.pk
    assert (document.status, document.title) == (DocumentStatus.INDEXED, "Badge policy")
    # A second drop of the same content is reported as a duplicate, not stored again.
    again = alice_portal.post(
        "/documents/?workspace=general",
        {"files": [named_file("badges-again.md", BADGES)]},
        HTTP_ACCEPT="application/json",
    )
    assert again.json()["results"][0]["outcome"] == "duplicate"
    assert Document.objects.count() == 1


def test_portal_without_javascript_posts_the_form_and_reads_messages(acme, alice_portal):
    response = alice_portal.post(
        "/documents/?workspace=general",
        {"files": [named_file("badges.md", BADGES), named_file("empty.txt", b"")]},
        follow=True,
    )
    html = response.content.decode()
    assert "badges.md: uploaded, indexing has started." in html
    assert "empty.txt: The file is empty." in html
    # The page carries the drop zone and the script that enhances it.
    assert 'class="upload dropzone"' in html
    assert "opaa/upload.js" in html
    assert 'name="files" multiple' in html


def test_portal_json_post_without_files_is_400(acme, alice_portal):
    response = alice_portal.post(
        "/documents/?workspace=general", {}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 400
    assert "Send between 1 and 20 files" in response.json()["detail"]


def _restricted_to_alice(client, upload_indexed, name: str, data: bytes) -> Document:
    from accounts.audit import AuditContext
    from ingestion.readers import document_readers_set

    secret = upload_indexed(client, name, data, workspace="sales")
    return document_readers_set(
        document=Document.objects.get(pk=secret["id"]),
        readers=["user:alice@acme.example"],
        audit=AuditContext(),
    )


def test_a_document_the_uploader_may_not_read_is_not_there_for_their_uploads(
    acme, alice_api, bob_api, upload_indexed
):
    """Neither a duplicate (which would confirm its content exists) nor a new version
    (which would overwrite it): bob's uploads make documents of his own."""
    secret = _restricted_to_alice(alice_api, upload_indexed, "salaries.md", PARKING)

    result = batch(bob_api, ("copy.md", PARKING), workspace="sales").json()["results"][0]
    assert (result["status"], result["outcome"]) == (201, "created")
    assert result["document"]["id"] != secret.pk
    single = bob_api.post(
        "/api/v1/documents",
        {"file": named_file("copy2.md", PARKING), "workspace": "sales"},
        format="multipart",
    )
    # Once more: now a duplicate, of bob's own copy.
    assert (single.status_code, single.json()["outcome"]) == (200, "duplicate")
    assert single.json()["id"] == result["document"]["id"]
    assert "salaries" not in str(result) + str(single.json())

    # The same name with other content: a new document, not a new version of alice's.
    renamed = bob_api.post(
        "/api/v1/documents",
        {"file": named_file("salaries.md", b"# Mine\n\nBob's own notes.\n"), "workspace": "sales"},
        format="multipart",
    )
    assert renamed.status_code == 201
    secret.refresh_from_db()
    assert (secret.version, secret.sha256) == (1, hashlib.sha256(PARKING).hexdigest())
    # Alice, who reads both, gets hers back as the duplicate.
    again = batch(alice_api, ("copy.md", PARKING), workspace="sales").json()["results"][0]
    assert (again["outcome"], again["document"]["id"]) == ("duplicate", secret.pk)
