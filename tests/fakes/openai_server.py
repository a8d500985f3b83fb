"""A real HTTP server on loopback that speaks the OpenAI REST protocol.

Implements, from OpenAI's documented formats, what OPAA talks to:

- ``POST /v1/chat/completions``: a ``chat.completion`` object, or with
  ``"stream": true`` a ``text/event-stream`` of ``chat.completion.chunk``
  deltas ending in ``data: [DONE]``;
- ``POST /v1/embeddings``: deterministic unit vectors derived from a hash of
  each input (``encoding_format`` "float" or "base64", optional ``dimensions``);
- ``GET /v1/models``.

Chat completions answer OPAA's own prompts deterministically (``default_reply``): the
answer prompt by quoting its first passage; the query-rewrite prompt
(``search.prompts.QUERY_REWRITE_PROMPT``) with ``{"queries": [the question's words
without stop words and punctuation, up to the number asked], "translations": []}``; the
rerank prompt (``search.prompts.RERANK_PROMPT``) with ``{"ranking": [ids]}``: the
passages sharing a word with the question, by the share of its words they hold (ties
by id). A test wraps ``default_reply`` for other replies (a translation, a failure).

Errors use OpenAI's shape ``{"error": {"message", "type", "param", "code"}}``.
Tests script it through attributes (``reply``, ``fail_status``,
``hang_seconds``, ``raw_body``) and read what it received from ``requests``.

    with FakeOpenAIServer(api_key="sk-test") as server:
        server.base_url  # "http://127.0.0.1:PORT/v1"
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from search.answering import NO_ANSWER_TEXT
from search.prompts import QUERY_REWRITE_PROMPT, RERANK_PROMPT

Messages = list[dict[str, Any]]

_PASSAGE_RE = re.compile(r"<passage\b[^>]*>(.*?)</passage>", re.DOTALL)
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s")


_NUMBERED_PASSAGE_RE = re.compile(r'<passage id="(\d+)"[^>]*>(.*?)</passage>', re.DOTALL)
_QUESTION_RE = re.compile(r"^Question: (.*)$", re.MULTILINE)
_ALTERNATIVES_RE = re.compile(r"^Alternative queries: up to (\d+)$", re.MULTILINE)
_FAKE_STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "do",
        "does",
        "for",
        "how",
        "i",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "the",
        "to",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
    ]
)


def system_prompt(messages: Messages) -> str:
    """The system message's text ("" without one)."""
    texts = [m.get("content") for m in messages if m.get("role") == "system"]
    return texts[0] if texts and isinstance(texts[0], str) else ""


def last_user_message(messages: Messages) -> str:
    user_texts = [m.get("content") for m in messages if m.get("role") == "user"]
    return user_texts[-1] if user_texts and isinstance(user_texts[-1], str) else ""


def rewrite_reply(messages: Messages) -> str:
    """The query-rewrite prompt's reply: the question as keywords, no translation."""
    prompt = last_user_message(messages)
    question = _QUESTION_RE.search(prompt)
    wanted = _ALTERNATIVES_RE.search(prompt)
    words = re.findall(r"\w+", question.group(1).lower()) if question else []
    keywords = " ".join(w for w in words if w not in _FAKE_STOP_WORDS)
    queries = [keywords] if keywords and wanted and int(wanted.group(1)) > 0 else []
    return json.dumps({"queries": queries, "translations": []})


def _words_shared(question: str, passage: str) -> float:
    words = set(re.findall(r"\w+", question.lower())) - _FAKE_STOP_WORDS
    return len(words & set(re.findall(r"\w+", passage.lower()))) / max(len(words), 1)


def rerank_reply(messages: Messages) -> str:
    """The rerank prompt's reply: passages sharing words with the question, most first."""
    prompt = last_user_message(messages)
    question = _QUESTION_RE.search(prompt)
    text = question.group(1) if question else ""
    scored = [
        (_words_shared(text, passage), int(number))
        for number, passage in _NUMBERED_PASSAGE_RE.findall(prompt)
    ]
    ranking = [number for score, number in sorted(scored, key=lambda p: (-p[0], p[1])) if score]
    return json.dumps({"ranking": ranking})


def default_reply(messages: Messages) -> str:
    """Quote the first sentence of the first passage in the last user message, citing [1].

    Without a passage in the prompt, answers with the product's no-answer sentence. The
    rewrite and rerank prompts get ``rewrite_reply`` and ``rerank_reply``.
    """
    if system_prompt(messages) == QUERY_REWRITE_PROMPT:
        return rewrite_reply(messages)
    if system_prompt(messages) == RERANK_PROMPT:
        return rerank_reply(messages)
    prompt = last_user_message(messages)
    passage = _PASSAGE_RE.search(prompt)
    if passage is None or not passage.group(1).strip():
        return NO_ANSWER_TEXT
    first_sentence = _SENTENCE_END_RE.split(passage.group(1).strip(), maxsplit=1)[0]
    return f"{' '.join(first_sentence.split())} [1]"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lowercased
    body: Any  # parsed JSON, or the raw text when the body was not JSON, or None


class FakeOpenAIServer:
    """An OpenAI-compatible server in a background thread, on 127.0.0.1 and a free port.

    Attributes tests may change at any time (read per request):
    - ``reply``: ``messages -> content`` for chat completions.
    - ``fail_status``: when set, every request (after the key check) gets this
      status with an OpenAI error body carrying ``fail_message``.
    - ``hang_seconds``: every request waits this long before being answered
      (cut short when the server stops), to exercise client timeouts.
    - ``raw_body``: when set, chat completions answer 200 with these bytes as
      ``text/html``, to exercise non-JSON handling.
    - ``requests``: every request received, in order, including rejected ones.
    """

    # The request handler (None: ``_Handler``); a test may subclass it to change replies.
    handler_class: type | None = None

    def __init__(
        self,
        *,
        api_key: str = "",
        reply: Callable[[Messages], str] | None = None,
        model: str = "fake-chat",
        embedding_model: str = "fake-embedding",
        embedding_dimensions: int = 16,
        relevance: Callable[[str, str], float] | None = None,
    ) -> None:
        self.api_key = api_key
        self.reply: Callable[[Messages], str] = reply or default_reply
        self.model = model
        self.embedding_model = embedding_model
        self.embedding_dimensions = embedding_dimensions
        # The /v1/rerank endpoint's score of (query, document); word overlap by default.
        self.relevance: Callable[[str, str], float] = relevance or word_overlap
        self.fail_status: int | None = None
        self.fail_message = "The server had an error while processing your request."
        self.hang_seconds = 0.0
        self.raw_body: bytes | None = None
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._counter = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---

    def start(self) -> FakeOpenAIServer:
        handler = type("Handler", (self.handler_class or _Handler,), {"fake": self})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        # A hanging handler must not keep stop() (or the test run) waiting.
        httpd.daemon_threads = True
        httpd.block_on_close = False
        self._httpd = httpd
        self._stopping.clear()
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeOpenAIServer is not running")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # --- recorded traffic ---

    @property
    def last_request(self) -> RecordedRequest:
        with self._lock:
            return self.requests[-1]

    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == "/v1/chat/completions"]

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{prefix}-fake{self._counter:06d}"


def error_body(message: str, type_: str, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error object."""
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def fake_embedding(text: str, dimensions: int) -> list[float]:
    """A unit vector of ``dimensions`` floats determined by ``text`` alone."""
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        for (raw,) in struct.iter_unpack(">I", digest):
            values.append(raw / 0xFFFFFFFF * 2 - 1)
        counter += 1
    values = values[:dimensions]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def word_overlap(query: str, document: str) -> float:
    """Share of the query's words found in the document: a crude relevance score."""
    words = set(query.lower().split())
    return len(words & set(document.lower().split())) / max(len(words), 1)


def _count_tokens(text: str) -> int:
    # Not a tokenizer: a deterministic stand-in so usage numbers can be asserted.
    return len(text.split())


def _mask_key(key: str) -> str:
    # OpenAI echoes a rejected key with its middle starred out.
    return f"{key[:3]}{'*' * 4}{key[-2:]}" if len(key) > 8 else "*" * 4


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAIServer
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        fake = self.fake
        path = self.path.split("?", 1)[0].rstrip("/")
        body = self._read_body()
        headers = {name.lower(): value for name, value in self.headers.items()}
        fake._record(RecordedRequest(method=method, path=path, headers=headers, body=body))

        if fake.hang_seconds and fake._stopping.wait(fake.hang_seconds):
            return
        try:
            if not self._authorized(headers.get("authorization", "")):
                return
            if fake.fail_status is not None:
                kind = "server_error" if fake.fail_status >= 500 else "invalid_request_error"
                self._send_json(fake.fail_status, error_body(fake.fail_message, kind))
                return
            route = {
                ("POST", "/v1/chat/completions"): self._chat_completions,
                ("POST", "/v1/embeddings"): self._embeddings,
                ("GET", "/v1/models"): self._models,
                ("POST", "/v1/rerank"): self._rerank,
            }.get((method, path))
            if route is None:
                message = f"Invalid URL ({method} {path})"
                self._send_json(404, error_body(message, "invalid_request_error"))
                return
            route(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout fired); nothing to answer

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return None
        raw = self.rfile.read(length).decode("utf-8", errors="replace")
        try:
            return json.loads(raw)
        except ValueError:
            return raw

    def _authorized(self, authorization: str) -> bool:
        key = self.fake.api_key
        if not key:
            return True
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() == "bearer" and given.strip() == key:
            return True
        if not given.strip():
            message = (
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
            self._send_json(401, error_body(message, "invalid_request_error"))
        else:
            message = f"Incorrect API key provided: {_mask_key(given.strip())}."
            self._send_json(401, error_body(message, "invalid_request_error", "invalid_api_key"))
        return False

    # --- endpoints ---

    def _chat_completions(self, body: Any) -> None:
        fake = self.fake
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            message = "'messages' is a required property"
            self._send_json(400, error_body(message, "invalid_request_error"))
            return
        if not body.get("model"):
            message = "you must provide a model parameter"
            self._send_json(400, error_body(message, "invalid_request_error"))
            return
        if fake.raw_body is not None:
            self._send(200, "text/html; charset=utf-8", fake.raw_body)
            return

        messages: Messages = body["messages"]
        content = fake.reply(messages)
        prompt_tokens = sum(
            _count_tokens(m["content"]) for m in messages if isinstance(m.get("content"), str)
        )
        completion_tokens = _count_tokens(content)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        completion_id = fake._next_id("chatcmpl")
        created = int(time.time())
        model = body["model"]

        if body.get("stream"):
            options = body.get("stream_options") or {}
            self._stream_chat(completion_id, created, model, content, usage, options)
            return
        self._send_json(
            200,
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            },
        )

    def _stream_chat(
        self,
        completion_id: str,
        created: int,
        model: str,
        content: str,
        usage: dict[str, int],
        options: dict[str, Any],
    ) -> None:
        def chunk(delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
            return {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
                ],
            }

        events = [chunk({"role": "assistant", "content": ""}, None)]
        # Word-sized pieces, spaces kept, so joining the deltas gives the content back.
        events += [chunk({"content": piece}, None) for piece in re.findall(r"\S+\s*", content)]
        events.append(chunk({}, "stop"))
        if options.get("include_usage"):
            final = chunk({}, None)
            final["choices"] = []
            final["usage"] = usage
            events.append(final)

        # No Content-Length: with "Connection: close" the body ends when the socket does.
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        for event in events:
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _embeddings(self, body: Any) -> None:
        fake = self.fake
        inputs = body.get("input") if isinstance(body, dict) else None
        if isinstance(inputs, str):
            inputs = [inputs]
        if (
            not isinstance(inputs, list)
            or not inputs
            or not all(isinstance(i, str) for i in inputs)
        ):
            message = "'input' must be a non-empty string or array of strings"
            self._send_json(400, error_body(message, "invalid_request_error"))
            return
        dimensions = body.get("dimensions") or fake.embedding_dimensions
        if not isinstance(dimensions, int) or dimensions < 1:
            self._send_json(400, error_body("'dimensions' must be >= 1", "invalid_request_error"))
            return
        encoding = body.get("encoding_format") or "float"
        data = []
        for index, text in enumerate(inputs):
            vector: Any = fake_embedding(text, dimensions)
            if encoding == "base64":
                # OpenAI's base64 format: little-endian float32s.
                vector = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": vector})
        tokens = sum(_count_tokens(text) for text in inputs)
        self._send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": body.get("model") or fake.embedding_model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    def _rerank(self, body: Any) -> None:
        """The /rerank protocol shared by Cohere, Jina, vLLM and LiteLLM."""
        documents = body.get("documents") if isinstance(body, dict) else None
        query = body.get("query") if isinstance(body, dict) else None
        if not isinstance(query, str) or not isinstance(documents, list) or not documents:
            message = "'query' and a non-empty 'documents' array are required"
            self._send_json(400, error_body(message, "invalid_request_error"))
            return
        texts = [d["text"] if isinstance(d, dict) else str(d) for d in documents]
        scored = sorted(
            ((index, self.fake.relevance(query, text)) for index, text in enumerate(texts)),
            key=lambda pair: -pair[1],
        )
        top_n = body.get("top_n") or len(texts)
        results = [{"index": index, "relevance_score": score} for index, score in scored[:top_n]]
        tokens = _count_tokens(query) + sum(_count_tokens(text) for text in texts)
        self._send_json(
            200,
            {
                "id": self.fake._next_id("rerank"),
                "model": body.get("model") or "fake-rerank",
                "results": results,
                "usage": {"total_tokens": tokens},
            },
        )

    def _models(self, body: Any) -> None:
        models = [self.fake.model, self.fake.embedding_model]
        self._send_json(
            200,
            {
                "object": "list",
                "data": [
                    {"id": name, "object": "model", "created": 0, "owned_by": "opaa-tests"}
                    for name in models
                ],
            },
        )

    # --- responses ---

    def _send_json(self, status: int, payload: Any) -> None:
        self._send(status, "application/json", json.dumps(payload).encode())

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
