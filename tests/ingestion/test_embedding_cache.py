"""The embedding cache: re-indexing sends only changed chunks to the embedding model.

The model is an OpenAI-compatible server on loopback that records every request, so
the tests count what was really sent over HTTP.
"""

from __future__ import annotations

import pytest

from ingestion import embedding
from ingestion.enqueue import document_reindex
from ingestion.models import Chunk
from tests.conftest import named_file
from tests.fakes.openai_server import FakeOpenAIServer, fake_embedding

HANDBOOK = """# Handbook

## Travel

Trains are booked in second class for trips under four hours.

## Expenses

Receipts are scanned within thirty days of the purchase.

## Security

Badges are worn visibly inside the building at all times.
"""


@pytest.fixture
def model(settings):
    """The embedding model behind the loopback server, configured for the process."""
    with FakeOpenAIServer(api_key="sk-emb", embedding_dimensions=384) as server:
        settings.EMBEDDING_PROVIDER = "openai"
        settings.EMBEDDING_API_BASE = server.base_url
        settings.EMBEDDING_API_KEY = "sk-emb"
        settings.EMBEDDING_MODEL = "text-embedding-3-small"
        settings.EMBEDDING_DIMENSIONS = 384
        embedding.get_provider.cache_clear()
        try:
            yield server
        finally:
            embedding.get_provider.cache_clear()


def embedded_texts(server: FakeOpenAIServer) -> list[str]:
    """Every text sent to the embeddings endpoint so far, and forget them."""
    texts = [
        text
        for request in server.requests
        if request.path.endswith("/embeddings")
        for text in request.body["input"]
    ]
    server.requests.clear()
    return texts


def upload(client, capture, data: str) -> dict:
    with capture(execute=True):
        response = client.post(
            "/api/v1/documents",
            {"file": named_file("handbook.md", data.encode())},
            format="multipart",
        )
    assert response.status_code in (200, 201), response.content
    return response.json()


def test_a_new_version_embeds_only_the_changed_section(
    alice_api, model, django_capture_on_commit_callbacks
):
    first = upload(alice_api, django_capture_on_commit_callbacks, HANDBOOK)
    assert len(embedded_texts(model)) == 3

    changed = HANDBOOK.replace("thirty days", "sixty days")
    second = upload(alice_api, django_capture_on_commit_callbacks, changed)

    assert second["outcome"] == "new_version"
    assert second["id"] == first["id"]
    [sent] = embedded_texts(model)
    assert "sixty days" in sent
    chunks = list(Chunk.objects.filter(document_id=first["id"]).order_by("ordinal"))
    assert [c.heading_path for c in chunks] == [
        ["Handbook", "Travel"],
        ["Handbook", "Expenses"],
        ["Handbook", "Security"],
    ]
    # Every chunk, reused or new, carries the vector the model gives its own text: the
    # title once (it is also the first heading), the rest of the heading path, the text.
    for chunk in chunks:
        text = " > ".join(chunk.heading_path) + "\n" + chunk.text
        assert list(chunk.embedding) == pytest.approx(fake_embedding(text, 384), abs=1e-6)

    found = alice_api.get("/api/v1/search", {"q": "receipts sixty days", "k": 3}).json()
    assert found["results"][0]["document_id"] == first["id"]
    assert "sixty days" in found["results"][0]["text"]
    found = alice_api.get("/api/v1/search", {"q": "badges worn visibly", "k": 3}).json()
    assert "Badges are worn" in found["results"][0]["text"]


def test_a_forced_reindex_embeds_nothing_but_another_model_embeds_all(
    alice_api, model, settings, django_capture_on_commit_callbacks
):
    from ingestion.models import Document

    body = upload(alice_api, django_capture_on_commit_callbacks, HANDBOOK)
    embedded_texts(model)
    document = Document.objects.get(pk=body["id"])

    with django_capture_on_commit_callbacks(execute=True):
        document_reindex(document=document)
    assert embedded_texts(model) == []
    assert Chunk.objects.filter(document=document).count() == 3

    settings.EMBEDDING_MODEL = "text-embedding-3-large"
    embedding.get_provider.cache_clear()
    with django_capture_on_commit_callbacks(execute=True):
        document_reindex(document=document)
    assert len(embedded_texts(model)) == 3
