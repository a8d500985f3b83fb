"""Readers set while a document is being indexed reach its chunks (issue 11, finding 1).

Indexing loads a document, embeds its chunks (seconds, minutes for a long file), then
writes them. Readers changed in between used to be lost: the chunks took the readers
loaded at the start, so the document answered 404 to a viewer outside the new readers
while search, ask and the streamed sources returned its passages. The database now
gives every chunk its document's readers as it is written (ingestion migration 0009).

bob is an editor of Acme's Sales workspace and in no group; the restricted document is
the only one that mentions "heliotrope".
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction
from django_tenants.utils import schema_context

from accounts.audit import AuditContext
from ingestion import index, indexing
from ingestion.chunking import ChunkDraft
from ingestion.embedding import embed_texts
from ingestion.models import Chunk, Document
from ingestion.readers import document_readers_set
from tests.conftest import PASSWORD, api_client, named_file
from workspaces.models import Group, Membership, Role, Workspace
from workspaces.rls import organization_scope

SECRET = "heliotrope"
QUESTION = "What is the treasury vault passphrase?"
VAULT = (
    "# Treasury vault\n\n"
    + "\n\n".join(
        f"## Section {i}\n\nThe treasury vault passphrase is {SECRET}; section {i} of the "
        "vault procedures says who may open the vault and when the passphrase changes."
        for i in range(1, 9)
    )
).encode()
NOTE = b"# Vault hours\n\nThe treasury vault is open on weekdays; the team keeps the keys.\n"


def _bob_sees_nothing_of(document_id: int, bob_api) -> None:
    """The document and every passage of it are hidden from bob on every read path."""
    assert bob_api.get(f"/api/v1/documents/{document_id}").status_code == 404
    found = bob_api.get("/api/v1/search", {"q": QUESTION, "workspace": "sales", "k": 5})
    assert found.status_code == 200
    assert document_id not in {r["document_id"] for r in found.json()["results"]}
    assert SECRET not in found.content.decode()
    answer = bob_api.post("/api/v1/ask", {"question": QUESTION, "workspace": "sales"})
    assert answer.status_code == 200
    assert document_id not in {c["document_id"] for c in answer.json()["citations"]}
    assert SECRET not in answer.content.decode()
    streamed = bob_api.post("/api/v1/ask?stream=true", {"question": QUESTION, "workspace": "sales"})
    body = b"".join(streamed.streaming_content).decode()
    assert "event: sources" in body
    assert SECRET not in body


def test_readers_set_while_embedding_reach_the_chunks(
    acme, alice_api, bob_api, upload_indexed, django_capture_on_commit_callbacks, monkeypatch
):
    upload_indexed(alice_api, "hours.md", NOTE, workspace="sales")
    with django_capture_on_commit_callbacks(execute=False):
        created = alice_api.post(
            "/api/v1/documents",
            {"file": named_file("vault.md", VAULT), "workspace": "sales"},
            format="multipart",
        )
    assert created.status_code == 201, created.content
    document_id = created.json()["id"]

    # The admin restricts the document after the indexer loaded it, before it writes.
    plan = indexing.chunks_plan

    def plan_then_restrict(*args, **kwargs):
        planned = plan(*args, **kwargs)
        document_readers_set(
            document=Document.objects.get(pk=document_id),
            readers=["group:finance"],
            audit=AuditContext(),
        )
        return planned

    monkeypatch.setattr(indexing, "chunks_plan", plan_then_restrict)
    # The text is written first; the vectors follow from the embedding queue (on commit).
    with django_capture_on_commit_callbacks(execute=True):
        indexing.document_index(document_id=document_id)
    indexed = Document.objects.get(pk=document_id)

    assert indexed.status == "indexed"
    chunks = list(Chunk.objects.filter(document_id=document_id))
    assert chunks
    assert {tuple(chunk.readers) for chunk in chunks} == {("group:finance",)}
    _bob_sees_nothing_of(document_id, bob_api)
    # alice (the owner) still finds it: the check above could fail.
    found = alice_api.get("/api/v1/search", {"q": QUESTION, "workspace": "sales", "k": 5})
    assert document_id in {r["document_id"] for r in found.json()["results"]}


def test_no_writer_can_give_chunks_readers_of_their_own(
    acme, alice_api, upload_indexed, django_capture_on_commit_callbacks
):
    document_id = upload_indexed(alice_api, "vault.md", VAULT, workspace="sales")["id"]
    Document.objects.filter(pk=document_id).update(readers=["group:finance"])
    # A bulk update of the chunks alone (a script, a future code path) cannot widen them.
    Chunk.objects.filter(document_id=document_id).update(readers=[])
    assert all(
        chunk.readers == ["group:finance"] for chunk in Chunk.objects.filter(document=document_id)
    )


def test_chunks_written_while_a_readers_change_is_uncommitted_take_the_new_readers(
    committed_org,
):
    """Two connections: an admin's transaction has changed the readers but not yet
    committed when the indexer writes the chunks. The chunks must end with the new
    readers whichever commits first."""
    org = committed_org("finrace", "fiona@finrace.example")
    client = api_client(org, "fiona@finrace.example")
    with schema_context(org.schema), organization_scope():
        created = client.post("/api/v1/documents", {"file": named_file("vault.md", VAULT)})
        assert created.status_code == 201, created.content
        document_id = created.json()["id"]
        document = Document.objects.get(pk=document_id)
        assert document.status == "indexed"  # eager in this test: indexed on commit
        assert Chunk.objects.filter(document_id=document_id).exists()

    restricted = threading.Event()
    finished = threading.Event()
    errors: list[BaseException] = []

    def admin() -> None:
        try:
            with schema_context(org.schema), organization_scope(), transaction.atomic():
                locked = Document.objects.select_for_update().get(pk=document_id)
                locked.readers = ["group:finance"]
                locked.save(update_fields=["readers"])
                restricted.set()
                # Still uncommitted while the indexer writes its chunks.
                finished.wait(timeout=1.0)
        except BaseException as exc:  # pragma: no cover - reported by the main thread
            errors.append(exc)
            restricted.set()
        finally:
            connection.close()

    thread = threading.Thread(target=admin)
    thread.start()
    assert restricted.wait(timeout=30)
    with schema_context(org.schema), organization_scope():
        stale = Document.objects.get(pk=document_id)  # what the indexer loaded: no readers
        assert stale.readers == []
        drafts = [ChunkDraft(ordinal=0, text="vault passphrase", heading_path=(), token_count=2)]
        vectors = embed_texts(["vault passphrase"])
        with transaction.atomic():
            index.chunks_write(document=stale, drafts=drafts, vectors=vectors)
        finished.set()
    thread.join(timeout=30)
    assert not errors, errors
    with schema_context(org.schema), organization_scope():
        chunks = Chunk.objects.filter(document_id=document_id)
        readers = {tuple(chunk.readers) for chunk in chunks}
    assert readers == {("group:finance",)}


@pytest.mark.worker
def test_restricting_a_document_while_the_worker_indexes_it_hides_its_passages(
    worker, committed_org
):
    """The issue's scenario with a real worker: upload a long file, restrict it while it
    is ``processing``, wait for ``indexed``, ask as a viewer outside the readers."""
    org = committed_org("slowvault", "sam@slowvault.example")
    owner = api_client(org, "sam@slowvault.example")
    with schema_context(org.schema), organization_scope():
        from accounts.models import User

        viewer = User.objects.create_user("vic@slowvault.example", PASSWORD)
        Membership.objects.create(
            workspace=Workspace.objects.get(slug="general"), user=viewer, role=Role.VIEWER
        )
        # The readers the owner sets must name a group the organization has.
        Group.objects.create(name="Finance", slug="finance")
    vic = api_client(org, "vic@slowvault.example")
    # Long enough that embedding takes a while: the restriction lands mid-indexing.
    long_vault = (
        VAULT
        + b"\n\n"
        + b"\n\n".join(
            f"## Appendix {i}\n\nAppendix {i} lists the treasury ledgers, the auditors and the "
            f"retention rules for quarter {i}; keys are kept in the safe of room {i}.".encode()
            for i in range(160)
        )
    )
    created = owner.post("/api/v1/documents", {"file": named_file("vault.md", long_vault)})
    assert created.status_code == 201, created.content
    document_id = created.json()["id"]

    deadline = time.monotonic() + 60
    status = created.json()["status"]
    while status == "pending" and time.monotonic() < deadline:
        time.sleep(0.05)
        status = owner.get(f"/api/v1/documents/{document_id}").json()["status"]
    restricted = owner.patch(
        f"/api/v1/documents/{document_id}", {"readers": ["group:finance"]}, format="json"
    )
    assert restricted.status_code == 200, restricted.content

    deadline = time.monotonic() + 180
    while status not in {"indexed", "failed"} and time.monotonic() < deadline:
        time.sleep(0.5)
        status = owner.get(f"/api/v1/documents/{document_id}").json()["status"]
    assert status == "indexed"

    assert vic.get(f"/api/v1/documents/{document_id}").status_code == 404
    for path, params in [("/api/v1/search", {"q": QUESTION, "k": 5})]:
        found = vic.get(path, params)
        assert found.status_code == 200
        assert SECRET not in found.content.decode()
    answer = vic.post("/api/v1/ask", {"question": QUESTION})
    assert answer.status_code == 200
    assert SECRET not in answer.content.decode()
    streamed = vic.post("/api/v1/ask?stream=true", {"question": QUESTION})
    assert SECRET not in b"".join(streamed.streaming_content).decode()
    # The owner still finds it, so the checks above could fail.
    assert SECRET in owner.get("/api/v1/search", {"q": QUESTION, "k": 5}).content.decode()
