"""An embedding endpoint failing in the queue path is shown to the organization's admins
(``ingestion.embedding_failure``), against the loopback endpoint (real HTTP).

The documents waiting stay "searchable, improving"; the document page, the document
list and their status JSON tell the admins that embedding is failing, with the
provider's reason as it gave it (never the key); members see the progress only. A batch
that embeds clears it. The status JSON's ``?document=`` (the document page's poll) finds
only what the person may read.
"""

from __future__ import annotations

import pytest

from ingestion import embedding, embedding_queue
from ingestion.embedding_failure import embedding_failing, embedding_failing_clear
from ingestion.models import Chunk, Document, DocumentStatus
from tests.conftest import named_file, portal_client
from tests.fakes.openai_server import FakeOpenAIServer
from tests.test_embedding_endpoint import KEY, endpoint, fast_retries, handbook, remote

__all__ = ["endpoint", "fast_retries", "remote"]  # fixtures used here

# The status, then the endpoint's own reason (bench/embedding_endpoint.py's error body).
REASON = "embedding endpoint answered HTTP 500 (2 attempts): scripted failure 500"


@pytest.fixture
def bob_portal(world, db):
    return portal_client(world.acme, "bob@acme.example")


@pytest.fixture
def no_marker(acme):
    embedding_failing_clear()
    yield
    embedding_failing_clear()


def _polled(client, document_id: int) -> dict:
    response = client.get("/documents/status", {"workspace": "sales", "document": document_id})
    assert response.status_code == 200, response.content
    (row,) = response.json()["documents"]
    return row


def test_a_failing_endpoint_is_shown_to_admins_until_a_batch_embeds(
    acme,
    no_marker,
    bob_api,
    alice_portal,
    bob_portal,
    remote,
    settings,
    fast_retries,
    upload_written,
    caplog,
):
    settings.EMBEDDING_API_RETRIES = 1
    # One request at a time: the two failures are both tries of the batch's first.
    settings.EMBEDDING_API_CONCURRENCY = 1
    # Bob's upload to Sales, its text written, its vectors not yet (as on a worker).
    document_id = upload_written(bob_api, "rules.md", handbook(3), workspace="sales")
    assert Document.objects.get(pk=document_id).workspace.slug == "sales"
    total = Chunk.objects.filter(document_id=document_id).count()
    assert total > 2

    # The endpoint answers 500 (both tries of the batch): the batch fails, the document
    # stays searchable and is not given up; the organization's marker has the reason.
    remote.fail_next(500, count=2)
    with pytest.raises(embedding.EmbeddingError, match=r"HTTP 500 \(2 attempts\)"):
        embedding_queue.embedding_batch()
    document = Document.objects.get(pk=document_id)
    assert (document.status, document.error_message) == (DocumentStatus.SEARCHABLE, "")
    assert embedding_failing() == REASON

    # The admin (alice owns Acme): the page, the list and both polls say it, with the
    # endpoint's reason as given; the status stays "Searchable, improving".
    page = alice_portal.get(f"/documents/{document_id}/").content.decode()
    assert "Embedding is failing. The embedding service says: “" + REASON + "”" in page
    assert "Searchable, improving" in page
    assert f"0 of {total} passages embedded" in page
    listed = alice_portal.get("/documents/", {"workspace": "sales"}).content.decode()
    assert "Embedding is failing: “" + REASON + "”" in listed
    row = _polled(alice_portal, document_id)
    assert row["status"] == "searchable"
    assert row["embedding_failing"] == REASON
    assert row["passages"] == {"embedded": 0, "total": total}
    whole = alice_portal.get("/documents/status", {"workspace": "sales"}).json()["documents"]
    assert {d["id"]: d["embedding_failing"] for d in whole}[document_id] == REASON
    german = alice_portal.get(f"/documents/{document_id}/", HTTP_ACCEPT_LANGUAGE="de")
    assert "Das Einbetten schlägt fehl. Der Embedding-Dienst meldet: „" + REASON in (
        german.content.decode()
    )
    for shown in (page, listed, str(row), caplog.text):
        assert KEY not in shown

    # A member (bob, editor of Sales): the progress, not the endpoint's trouble.
    page = bob_portal.get(f"/documents/{document_id}/").content.decode()
    assert f"0 of {total} passages embedded" in page
    assert "Embedding is failing" not in page
    assert REASON not in bob_portal.get("/documents/", {"workspace": "sales"}).content.decode()
    assert _polled(bob_portal, document_id)["embedding_failing"] == ""

    # The endpoint answers 200 again: the first batch that embeds clears the marker,
    # while the rest of the document still waits.
    assert embedding_queue.embedding_batch(size=1) == 1
    assert embedding_failing() is None
    row = _polled(alice_portal, document_id)
    assert (row["status"], row["embedding_failing"]) == ("searchable", "")
    assert row["passages"] == {"embedded": 1, "total": total}
    page = alice_portal.get(f"/documents/{document_id}/").content.decode()
    assert "Embedding is failing" not in page
    assert f"1 of {total} passages embedded" in page
    while embedding_queue.embedding_batch():
        pass
    assert _polled(alice_portal, document_id)["status"] == "indexed"


def test_the_admin_reads_the_endpoints_own_reason_and_never_its_key(
    acme, no_marker, bob_api, alice_portal, settings, fast_retries, upload_written, caplog
):
    """The loopback OpenAI fake fails with a reason in its error body that echoes the key:
    the admin reads the reason after the status, the key blanked; the key is in no page,
    poll, marker or log."""
    with FakeOpenAIServer(api_key=KEY, embedding_dimensions=384) as server:
        settings.EMBEDDING_PROVIDER = "openai"
        settings.EMBEDDING_API_BASE = server.base_url
        settings.EMBEDDING_API_KEY = KEY
        settings.EMBEDDING_MODEL = "remote-384"
        settings.EMBEDDING_API_RETRIES = 1
        embedding.get_provider.cache_clear()
        try:
            document_id = upload_written(bob_api, "rules.md", handbook(2), workspace="sales")
            server.fail_status = 503
            server.fail_message = f"Model shard 7 is overloaded (key {KEY}), try later."
            with pytest.raises(embedding.EmbeddingError):
                embedding_queue.embedding_batch()
            assert server.last_request.headers["authorization"] == f"Bearer {KEY}"
        finally:
            embedding.get_provider.cache_clear()
    reason = (
        "embedding endpoint answered HTTP 503 (2 attempts): "
        "Model shard 7 is overloaded (key ***), try later."
    )
    assert embedding_failing() == reason
    page = alice_portal.get(f"/documents/{document_id}/").content.decode()
    assert "The embedding service says: “" + reason + "”" in page
    listed = alice_portal.get("/documents/", {"workspace": "sales"}).content.decode()
    assert "Embedding is failing: “" + reason + "”" in listed
    row = _polled(alice_portal, document_id)
    assert row["embedding_failing"] == reason
    german = alice_portal.get(f"/documents/{document_id}/", HTTP_ACCEPT_LANGUAGE="de")
    assert "Der Embedding-Dienst meldet: „" + reason + "“" in german.content.decode()
    for shown in (page, listed, german.content.decode(), str(row), caplog.text):
        assert KEY not in shown


def test_the_document_poll_finds_only_what_the_person_may_read(
    acme, no_marker, world, alice_api, bob_portal, carol_portal
):
    created = alice_api.post(
        "/api/v1/documents", {"file": named_file("general.md", handbook(1))}, format="multipart"
    )
    general = created.json()["id"]
    # Bob is no member of General: its document is not among his, whatever he names.
    for workspace in ("sales", "all"):
        polled = bob_portal.get("/documents/status", {"workspace": workspace, "document": general})
        assert polled.json()["documents"] == []
    assert bob_portal.get(
        "/documents/status", {"workspace": "general", "document": general}
    ).status_code in (403, 404)
    # Carol (Globex): Acme's ids name nothing in her organization.
    polled = carol_portal.get("/documents/status", {"workspace": "all", "document": general})
    assert polled.json()["documents"] == []
    # A document is named by its number: anything else is a 400, not a 500.
    for bad in ("abc", "-1", "1.5", "1 OR 1=1"):
        refused = bob_portal.get("/documents/status", {"workspace": "sales", "document": bad})
        assert refused.status_code == 400
        assert refused.json() == {"detail": "A document is named by its number."}
