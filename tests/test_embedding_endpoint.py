"""An embedding endpoint on another machine (``EMBEDDING_PROVIDER=openai``), here on
loopback: ``bench/embedding_endpoint.py``, a real HTTP server speaking OpenAI's
``/v1/embeddings`` with a per-request latency and scripted failures.

The provider sends requests of ``EMBEDDING_API_BATCH_SIZE`` inputs with several in
flight, tries 429 and 5xx again with backoff (the endpoint's ``Retry-After`` when it
sends one), gives a clear, keyless error otherwise; the embedding queue fills the
requests in flight; inline embedding that fails ends the document with a reason.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import pytest

from ingestion import embedding, embedding_queue, indexing
from ingestion.models import Chunk, Document, DocumentStatus
from tests.conftest import named_file
from tests.fakes.openai_server import FakeOpenAIServer

_PATH = Path(__file__).resolve().parents[1] / "bench" / "embedding_endpoint.py"
_spec = importlib.util.spec_from_file_location("bench_embedding_endpoint", _PATH)
endpoint_module = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = endpoint_module
_spec.loader.exec_module(endpoint_module)
EmbeddingEndpoint = endpoint_module.EmbeddingEndpoint
endpoint_vector = endpoint_module.endpoint_vector

KEY = "sk-loopback-secret"


def provider(endpoint, **options) -> embedding.OpenAIProvider:
    return embedding.OpenAIProvider(
        api_base=endpoint.base_url, model="remote-384", api_key=KEY, dimensions=384, **options
    )


@pytest.fixture
def endpoint():
    with EmbeddingEndpoint(api_key=KEY) as server:
        yield server


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setattr(embedding.OpenAIProvider, "RETRY_BASE_S", 0.01)


def test_texts_go_in_requests_of_the_batch_size_and_come_back_in_order(endpoint):
    texts = [f"passage number {n}" for n in range(10)]
    vectors = provider(endpoint, batch_size=3, concurrency=1).embed(texts)
    assert vectors == [pytest.approx(endpoint_vector(text, 384)) for text in texts]
    assert endpoint.requests == 4
    assert sorted(endpoint.batch_sizes) == [1, 3, 3, 3]
    assert endpoint.max_in_flight == 1


def test_several_requests_in_flight_hide_the_endpoints_latency(endpoint):
    endpoint.latency_s = 0.3
    texts = [f"passage {n}" for n in range(8)]
    started = time.monotonic()
    vectors = provider(endpoint, batch_size=2, concurrency=4).embed(texts)
    elapsed = time.monotonic() - started
    assert vectors == [pytest.approx(endpoint_vector(text, 384)) for text in texts]
    assert endpoint.requests == 4
    assert endpoint.max_in_flight >= 2
    # One at a time would take 4 x 0.3 s.
    assert elapsed < 1.0


def test_rate_limits_and_server_errors_are_tried_again(endpoint, fast_retries):
    endpoint.fail_next(429, retry_after=0.05)
    endpoint.fail_next(503)
    vectors = provider(endpoint, retries=2).embed(["alpha"])
    assert vectors == [pytest.approx(endpoint_vector("alpha", 384))]
    assert endpoint.requests == 3


def test_an_endpoint_that_keeps_failing_is_a_clear_error_without_the_key(endpoint, fast_retries):
    endpoint.fail_next(503, count=10)
    with pytest.raises(embedding.EmbeddingError) as caught:
        provider(endpoint, retries=2).embed(["alpha"])
    # The status, then the endpoint's own reason from its error body.
    assert str(caught.value) == (
        "embedding endpoint answered HTTP 503 (3 attempts): scripted failure 503"
    )
    assert endpoint.requests == 3
    assert KEY not in str(caught.value)


def test_the_endpoints_reason_is_cut_short_and_never_shows_the_key_or_a_text_sent():
    """From the loopback OpenAI fake: its error body's message follows the status, on
    one line and at most 200 characters; the key, should the endpoint echo it, is
    blanked; a reason quoting a passage sent is left out (admins of other workspaces see
    the organization's reason)."""
    passage = "The vault code is changed every Monday by the facilities team."
    with FakeOpenAIServer(api_key=KEY, embedding_dimensions=384) as server:
        client = provider(server, retries=0)
        server.fail_status = 400
        server.fail_message = f"Bad request from key {KEY}:\n  try\tagain " + "later " * 60
        with pytest.raises(embedding.EmbeddingError) as caught:
            client.embed([passage])
        said = str(caught.value).removeprefix("embedding endpoint answered HTTP 400: ")
        assert said.startswith("Bad request from key ***: try again later later ")
        assert len(said) <= 200
        assert said.endswith("…")
        assert server.last_request.headers["authorization"] == f"Bearer {KEY}"
        server.fail_message = f"Input rejected: '{passage[4:40]}' is not allowed"
        with pytest.raises(embedding.EmbeddingError) as quoting:
            client.embed([passage])
    assert KEY not in str(caught.value)
    assert str(quoting.value) == "embedding endpoint answered HTTP 400"


def test_a_refused_request_is_not_tried_again(endpoint, fast_retries):
    endpoint.max_inputs = 2
    with pytest.raises(embedding.EmbeddingError, match="HTTP 400"):
        provider(endpoint, batch_size=3, retries=3).embed(["a", "b", "c"])
    assert endpoint.requests == 1
    wrong_key = embedding.OpenAIProvider(
        api_base=endpoint.base_url, model="m", api_key="sk-wrong", dimensions=384, retries=3
    )
    with pytest.raises(embedding.EmbeddingError, match="HTTP 401") as caught:
        wrong_key.embed(["a"])
    assert endpoint.requests == 2
    assert "sk-wrong" not in str(caught.value)


def test_an_unreachable_endpoint_is_tried_again_then_named(fast_retries):
    with EmbeddingEndpoint() as gone:
        base_url = gone.base_url
    unreachable = embedding.OpenAIProvider(
        api_base=base_url, model="m", api_key=KEY, dimensions=384, retries=1
    )
    with pytest.raises(embedding.EmbeddingError, match="unreachable: ConnectError"):
        unreachable.embed(["a"])


@pytest.fixture
def remote(settings, endpoint):
    """The installation's model behind the loopback endpoint."""
    settings.EMBEDDING_PROVIDER = "openai"
    settings.EMBEDDING_API_BASE = endpoint.base_url
    settings.EMBEDDING_API_KEY = KEY
    settings.EMBEDDING_MODEL = "remote-384"
    settings.EMBEDDING_API_BATCH_SIZE = 4
    settings.EMBEDDING_API_CONCURRENCY = 3
    settings.EMBED_BATCH_CHUNKS = 2
    embedding.get_provider.cache_clear()
    try:
        yield endpoint
    finally:
        embedding.get_provider.cache_clear()


def handbook(sections: int) -> bytes:
    body = "\n\n".join(
        f"## Rule {n}\n\n"
        + " ".join(f"Rule {n} sentence {k} about topic {n * k}." for k in range(40))
        for n in range(sections)
    )
    return f"# Handbook\n\n{body}\n".encode()


def test_the_queue_fills_the_requests_in_flight(
    acme, alice_api, remote, django_capture_on_commit_callbacks
):
    # A batch of an endpoint's model: at least the requests in flight (4 x 3), whatever
    # EMBED_BATCH_CHUNKS says for the local model.
    assert embedding_queue.batch_size("openai:remote-384") == 12
    assert embedding_queue.batch_size(embedding.MINILM) == 2
    with django_capture_on_commit_callbacks(execute=True):
        created = alice_api.post(
            "/api/v1/documents", {"file": named_file("rules.md", handbook(12))}, format="multipart"
        )
    assert created.status_code == 201, created.content
    document = Document.objects.get(pk=created.json()["id"])
    assert document.status == DocumentStatus.INDEXED
    chunks = list(Chunk.objects.filter(document=document))
    assert len(chunks) > 4
    for chunk in chunks:
        assert chunk.embedding is not None
    assert max(remote.batch_sizes) == 4  # requests of EMBEDDING_API_BATCH_SIZE


def test_inline_embedding_that_fails_ends_the_document_with_a_reason(
    acme, alice_api, remote, settings, fast_retries, django_capture_on_commit_callbacks, caplog
):
    settings.INDEX_EMBED_INLINE = True
    settings.EMBEDDING_API_RETRIES = 1
    remote.fail_next(503, count=10)
    with django_capture_on_commit_callbacks(execute=True):
        created = alice_api.post(
            "/api/v1/documents", {"file": named_file("rules.md", handbook(1))}, format="multipart"
        )
    document = Document.objects.get(pk=created.json()["id"])
    assert document.status == DocumentStatus.FAILED
    assert document.error_message == indexing.EMBEDDING_UNAVAILABLE_REASON
    assert remote.requests == 2
    assert "HTTP 503" in caplog.text
    assert KEY not in caplog.text


def test_a_failing_endpoint_leaves_the_queued_document_searchable_and_says_why(
    acme, alice_api, remote, settings, fast_retries, upload_written, caplog
):
    settings.EMBEDDING_API_RETRIES = 1
    # As on a worker: the text is written, the embedding task only sent.
    document_id = upload_written(alice_api, "rules.md", handbook(2))
    remote.fail_next(429, count=2, retry_after=0.01)  # both tries of one batch
    with pytest.raises(embedding.EmbeddingError, match=r"HTTP 429 \(2 attempts\)"):
        embedding_queue.embedding_batch()
    document = Document.objects.get(pk=document_id)
    assert document.status == DocumentStatus.SEARCHABLE
    assert document.error_message == ""  # not given up: the task tries again
    assert not Chunk.objects.filter(document_id=document_id, embedding__isnull=False).exists()
    assert f"documents=[{document_id}]" in caplog.text
    assert KEY not in caplog.text
    # The endpoint back: the next batches embed them.
    while embedding_queue.embedding_batch():
        pass
    assert Document.objects.get(pk=document_id).status == DocumentStatus.INDEXED
