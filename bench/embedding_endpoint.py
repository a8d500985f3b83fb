"""A loopback embedding endpoint speaking OpenAI's ``POST /v1/embeddings``, almost free.

Stands in for an embedding model on a separate machine (a GPU server, a hosted API) in
``bench/ingestion_workers.py`` and in the tests of ``ingestion.embedding.OpenAIProvider``:

- request ``{"model": ..., "input": [texts] | text}``; response
  ``{"object": "list", "data": [{"object": "embedding", "index": i, "embedding": [...]}],
  "model": ..., "usage": {"prompt_tokens", "total_tokens"}}`` (OpenAI's documented
  shape; errors as ``{"error": {"message", "type", "param", "code"}}``);
- each vector is a deterministic unit vector of ``dimensions`` floats seeded by a hash
  of its text, so this process costs the machine almost nothing (microseconds per
  text) and the figures measure the pipeline around the endpoint;
- ``latency_s`` is added to every request (sleeping, not computing): the remote
  model's time, which a pipeline can only hide by keeping requests in flight;
- ``fail_next(status, count)`` answers the next ``count`` requests with that status
  (429 with ``Retry-After``, 5xx), to test retries;
- it counts requests, inputs and the most requests it held at once (``max_in_flight``).

    with EmbeddingEndpoint(latency_s=0.1) as endpoint:
        endpoint.base_url  # "http://127.0.0.1:PORT/v1"

    .venv/bin/python bench/embedding_endpoint.py --port 8765 --latency-ms 100
"""

from __future__ import annotations

import argparse
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np


def endpoint_vector(text: str, dimensions: int) -> list[float]:
    """The unit vector of ``dimensions`` floats this endpoint answers for ``text``."""
    seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
    vector = np.random.default_rng(seed).standard_normal(dimensions)
    return (vector / np.linalg.norm(vector)).tolist()


def _error(message: str, type_: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


class EmbeddingEndpoint:
    """The server, on 127.0.0.1 and a free port (or ``port``), in a thread of its own."""

    def __init__(
        self,
        *,
        dimensions: int = 384,
        latency_s: float = 0.0,
        api_key: str = "",
        port: int = 0,
        max_inputs: int = 2048,
    ) -> None:
        self.dimensions = dimensions
        self.latency_s = latency_s
        self.api_key = api_key
        self.max_inputs = max_inputs
        self._port = port
        self._lock = threading.Lock()
        self._failures: list[tuple[int, float | None]] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests = 0
        self.inputs = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.batch_sizes: list[int] = []

    # --- control ---

    def start(self) -> EmbeddingEndpoint:
        handler = type("Handler", (_Handler,), {"endpoint": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> EmbeddingEndpoint:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the embedding endpoint is not running")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def fail_next(self, status: int, count: int = 1, *, retry_after: float | None = None) -> None:
        """Answer the next ``count`` requests with ``status`` (an OpenAI error body)."""
        with self._lock:
            self._failures.extend([(status, retry_after)] * count)

    def counters_reset(self) -> None:
        with self._lock:
            self.requests = self.inputs = self.max_in_flight = 0
            self.batch_sizes = []

    # --- serving ---

    def _failure(self) -> tuple[int, float | None] | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def _enter(self) -> None:
        with self._lock:
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self, inputs: int) -> None:
        with self._lock:
            self.in_flight -= 1
            self.inputs += inputs
            if inputs:
                self.batch_sizes.append(inputs)


class _Handler(BaseHTTPRequestHandler):
    endpoint: EmbeddingEndpoint
    protocol_version = "HTTP/1.1"
    server_version = "LoopbackEmbeddings/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self) -> None:
        endpoint = self.endpoint
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        endpoint._enter()
        inputs = 0
        try:
            if endpoint.latency_s:
                time.sleep(endpoint.latency_s)
            inputs = self._answer(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout)
        finally:
            endpoint._leave(inputs)

    def _answer(self, raw: bytes) -> int:
        endpoint = self.endpoint
        if self.path.split("?", 1)[0].rstrip("/") != "/v1/embeddings":
            self._send(404, _error(f"Invalid URL (POST {self.path})", "invalid_request_error"))
            return 0
        if endpoint.api_key:
            scheme, _, given = (self.headers.get("Authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or given.strip() != endpoint.api_key:
                self._send(401, _error("Incorrect API key provided.", "invalid_request_error"))
                return 0
        failure = endpoint._failure()
        if failure is not None:
            status, retry_after = failure
            kind = "rate_limit_exceeded" if status == 429 else "server_error"
            headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
            self._send(status, _error(f"scripted failure {status}", kind), headers)
            return 0
        try:
            body = json.loads(raw)
            texts = body["input"]
            model = body["model"]
        except (ValueError, KeyError, TypeError):
            self._send(400, _error("'input' and 'model' are required", "invalid_request_error"))
            return 0
        if isinstance(texts, str):
            texts = [texts]
        if (
            not isinstance(texts, list)
            or not texts
            or len(texts) > endpoint.max_inputs
            or not all(isinstance(text, str) and text for text in texts)
        ):
            message = f"'input' must be 1 to {endpoint.max_inputs} non-empty strings"
            self._send(400, _error(message, "invalid_request_error"))
            return 0
        tokens = sum(len(text.split()) for text in texts)
        size = endpoint.dimensions
        data = [
            {"object": "embedding", "index": i, "embedding": endpoint_vector(text, size)}
            for i, text in enumerate(texts)
        ]
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        self._send(200, {"object": "list", "data": data, "model": model, "usage": usage})
        return len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--dimensions", type=int, default=384)
    args = parser.parse_args()
    endpoint = EmbeddingEndpoint(
        dimensions=args.dimensions, latency_s=args.latency_ms / 1000, port=args.port
    ).start()
    print(f"serving {endpoint.base_url}/embeddings (latency {args.latency_ms:g} ms)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        endpoint.stop()


if __name__ == "__main__":
    main()
