"""Embedding providers: the bundled local model and an OpenAI-compatible endpoint."""

import math

import pytest
from django.core.exceptions import ImproperlyConfigured

from ingestion import embedding
from tests.fakes.openai_server import FakeOpenAIServer, fake_embedding


def _cosine(a, b):
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_local_model_loads_offline_and_captures_meaning():
    provider = embedding.LocalProvider()
    vpn, tunnel, lunch = provider.embed(
        ["How do I connect to the VPN?", "Setting up the remote-access tunnel", "Lunch menu"]
    )
    assert len(vpn) == 384
    assert math.isclose(_cosine(vpn, vpn), 1.0, rel_tol=1e-4)
    assert _cosine(vpn, tunnel) > _cosine(vpn, lunch) + 0.1


def test_local_model_batches_texts_of_similar_lengths_together():
    # A queue batch: long chunks, a few middling ones and short last chunks, mixed.
    lengths = [250, 60, 250, 210, 250, 60, 210, 250, 60, 250, 210, 60, 250, 210, 60, 60]
    groups = embedding.padding_groups(lengths, most=8)
    assert sorted(index for group in groups for index in group) == list(range(16))
    assert all(1 <= len(group) <= 8 for group in groups)
    # No short text is padded to a long one's length; the longest come first.
    assert [{lengths[index] for index in group} for group in groups] == [{250}, {210}, {60}]
    # Texts of one length: batches as large as allowed.
    assert [len(group) for group in embedding.padding_groups([128] * 16, most=8)] == [8, 8]
    assert embedding.padding_groups([], most=8) == []


def test_local_model_returns_each_texts_vector_in_order_whatever_its_batch(settings):
    settings.EMBEDDING_BATCH_SIZE = 2
    texts = [
        "Lunch menu",
        "How do I connect to the VPN from home when the office network is down? " * 6,
        "Setting up the remote-access tunnel",
        "Expense reports are due on the fifth working day of each month.",
        "VPN",
    ]
    provider = embedding.LocalProvider()
    together = provider.embed(texts)
    for text, vector in zip(texts, together, strict=True):
        (alone,) = provider.embed([text])
        assert _cosine(vector, alone) > 0.999


def test_local_model_vectors_are_sentence_transformers_own(settings):
    # The provider feeds its own tokens to the model; the vectors must be those of
    # SentenceTransformer.encode, for a text past the window (cut as it cuts), accents,
    # an empty text and texts of very different lengths in one batch.
    settings.EMBEDDING_BATCH_SIZE = 3
    texts = [
        "Wie verbinde ich mich über das VPN? Café, naïve façade.",
        "",
        "The quarterly report lists every open risk and its owner. " * 60,
        "VPN",
        "Setting up the remote-access tunnel",
    ]
    provider = embedding.LocalProvider()
    assert provider.token_count(texts[2]) > provider.window
    ours = provider.embed(texts)
    theirs = provider._load().encode(texts, normalize_embeddings=True, show_progress_bar=False)
    for vector, reference in zip(ours, theirs.tolist(), strict=True):
        assert max(abs(x - y) for x, y in zip(vector, reference, strict=True)) < 1e-5


def test_openai_provider_calls_the_embeddings_endpoint():
    with FakeOpenAIServer(api_key="sk-emb", embedding_dimensions=384) as server:
        provider = embedding.OpenAIProvider(
            api_base=server.base_url,
            model="text-embedding-3-small",
            api_key="sk-emb",
            dimensions=384,
        )
        vectors = provider.embed(["alpha", "beta"])
        request = server.last_request
    assert vectors == [fake_embedding("alpha", 384), fake_embedding("beta", 384)]
    assert request.body == {"model": "text-embedding-3-small", "input": ["alpha", "beta"]}
    assert request.headers["authorization"] == "Bearer sk-emb"


def test_openai_provider_errors_are_clear_and_keyless():
    with FakeOpenAIServer(api_key="sk-emb", embedding_dimensions=16) as server:
        wrong_size = embedding.OpenAIProvider(
            api_base=server.base_url, model="m", api_key="sk-emb", dimensions=384
        )
        with pytest.raises(embedding.EmbeddingError, match="wrong count or size"):
            wrong_size.embed(["x"])
        bad_key = embedding.OpenAIProvider(
            api_base=server.base_url, model="m", api_key="sk-wrong", dimensions=16
        )
        with pytest.raises(embedding.EmbeddingError, match="HTTP 401") as caught:
            bad_key.embed(["x"])
    assert "sk-wrong" not in str(caught.value)


def test_unknown_provider_is_a_configuration_error(settings):
    embedding.get_provider.cache_clear()
    settings.EMBEDDING_PROVIDER = "magic"
    try:
        with pytest.raises(ImproperlyConfigured, match="magic"):
            embedding.get_provider()
    finally:
        embedding.get_provider.cache_clear()
