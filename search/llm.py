"""Answers from any OpenAI-compatible chat-completions endpoint.

Works with OpenAI itself and with servers that copy its protocol (Ollama,
vLLM, LM Studio, LiteLLM and other proxies): one
``POST {api_base}/chat/completions`` per question (streamed or not), no SDK.

The model sees the passages as numbered, delimited data and is told to cite
them as ``[n]`` (``search.prompts``); its markers are then checked and renumbered by
``renumber_citations``. The API key is sent only in the Authorization header:
it is kept out of ``repr``, logs and error messages.
"""

from __future__ import annotations

import html
import json
import os
import re
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from infra import metrics
from search.answering import NO_ANSWER_TEXT, Answer, Passage, no_answer, renumber_citations
from search.prompts import build_messages


@dataclass(frozen=True)
class LLMConfig:
    api_base: str  # e.g. "http://127.0.0.1:11434/v1" — POST {api_base}/chat/completions
    model: str
    api_key: str = field(default="", repr=False)  # sent as "Authorization: Bearer ..." when set
    timeout: float = 30.0
    temperature: float = 0.1
    max_tokens: int = 700

    @property
    def chat_url(self) -> str:
        return self.api_base.rstrip("/") + "/chat/completions"


class LLMError(Exception):
    """The endpoint could not produce an answer.

    The message says why (status code and the server's own error message when
    there is one) and never contains the API key. ``status_code`` is set when
    the server answered with an HTTP error.
    """

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


# Server error bodies are quoted in LLMError; an HTML error page is not worth more.
_MAX_ERROR_DETAIL = 300

# One HTTP client per process, for every LLM call: building one costs about 30 ms of CPU
# (its TLS context), a quarter of a question's (bench/RESULTS.md). httpx clients are
# thread-safe; keyed by process id, so a forked process never shares its parent's
# connections.
_clients: dict[int, httpx.Client] = {}
_clients_lock = threading.Lock()


def shared_client() -> httpx.Client:
    """This process's HTTP client for LLM endpoints (pooled connections, kept open)."""
    pid = os.getpid()
    client = _clients.get(pid)
    if client is None:
        with _clients_lock:
            client = _clients.get(pid)
            if client is None:
                client = _clients[pid] = httpx.Client(follow_redirects=False)
    return client


def answer_with_llm(
    question: str,
    passages: Sequence[Passage],
    config: LLMConfig,
    *,
    client: httpx.Client | None = None,
) -> Answer:
    """Ask the model ``config.model`` to answer ``question`` from ``passages``.

    Contract:
    - No passages: returns ``no_answer()`` without calling the endpoint.
    - Otherwise one request, bounded by ``config.timeout``, through ``client``
      or else this process's shared one (both left open).
    - The reply's markers are renumbered 1..m over the passages cited
      (invalid ones dropped); ``mode`` is "llm", with ``model`` and token
      usage from the response (0 when the server reports none).
    - A reply that cites nothing valid and says the documents do not answer
      becomes ``no_answer()`` (keeping model and usage). One that cites
      nothing valid but answers is returned as it is, with no citations.
    - Any failure (network, timeout, HTTP error status, non-JSON body, missing
      ``choices[0].message.content``, empty content) raises :class:`LLMError`.
    """
    if not passages:
        return no_answer(model=config.model)

    payload = {
        "model": config.model,
        "messages": build_messages(question, passages),
        "temperature": config.temperature,
        "max_tokens": config.max_tokens,
        "stream": False,
    }
    data = _post(client or shared_client(), config, payload, _headers(config, "application/json"))

    content = _reply_content(data)
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    model = data.get("model") if isinstance(data.get("model"), str) else config.model
    return _answer_from_reply(content, usage, model, passages)


def _answer_from_reply(
    content: str, usage: dict[str, Any], model: str, passages: Sequence[Passage]
) -> Answer:
    """The model's reply as an Answer: citations validated and renumbered."""
    prompt_tokens = _int(usage.get("prompt_tokens"))
    completion_tokens = _int(usage.get("completion_tokens"))
    text, citations = renumber_citations(content, passages)
    text = text.strip()
    if not citations and _says_no_answer(text):
        return no_answer(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    return Answer(
        text=text,
        citations=citations,
        mode="llm",
        model=model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
    )


def stream_with_llm(
    question: str, passages: Sequence[Passage], config: LLMConfig
) -> Iterator[str | Answer]:
    """Like :func:`answer_with_llm`, streaming: yields text deltas, then the Answer.

    The deltas are the model's raw text, whose ``[n]`` markers number ``passages`` in
    the order given; the final Answer has them validated and renumbered. Failures
    before the first delta raise :class:`LLMError` (so the caller can fall back);
    a failure mid-stream also raises it, after the deltas already yielded.
    """
    if not passages:
        yield no_answer(model=config.model)
        return
    content, usage, model = yield from _stream_deltas(
        config, _stream_request(question, passages, config)
    )
    yield _stream_finish(content, usage, model, config, passages)


def _stream_request(
    question: str, passages: Sequence[Passage], config: LLMConfig
) -> dict[str, Any]:
    """The JSON body that asks for the answer as server-sent events, token usage last."""
    return {
        "model": config.model,
        "messages": build_messages(question, passages),
        "temperature": config.temperature,
        "max_tokens": config.max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def _stream_deltas(
    config: LLMConfig, payload: dict[str, Any]
) -> Generator[str, None, tuple[str, dict[str, Any], str]]:
    """Yields the reply's text deltas as they arrive; returns the whole text, the token
    usage and the model's name (as the stream reports them, else the configured one)."""
    where = _display_url(config.chat_url)
    parts: list[str] = []
    usage: dict[str, Any] = {}
    model = config.model
    headers = _headers(config, "text/event-stream")
    with (
        _request_errors(config, where),
        shared_client().stream(
            "POST", config.chat_url, json=payload, headers=headers, timeout=config.timeout
        ) as response,
    ):
        if response.status_code >= 400:
            response.read()
            raise _status_error(response, config, where)
        for chunk in _stream_events(response, where):
            if isinstance(chunk.get("usage"), dict):
                usage = chunk["usage"]
            if isinstance(chunk.get("model"), str):
                model = chunk["model"]
            for choice in chunk.get("choices") or []:
                delta = (choice.get("delta") or {}).get("content")
                if isinstance(delta, str) and delta:
                    parts.append(delta)
                    yield delta
    return "".join(parts), usage, model


def _stream_events(response: httpx.Response, where: str) -> Iterator[Any]:
    """The JSON of each server-sent ``data:`` line, up to ``[DONE]``."""
    for line in response.iter_lines():
        if not line.startswith("data:"):
            continue
        data = line[len("data:") :].strip()
        if data == "[DONE]":
            return
        try:
            chunk = json.loads(data)
        except ValueError:
            raise LLMError(f"LLM endpoint {where} sent a malformed stream event") from None
        yield chunk


def _stream_finish(
    content: str,
    usage: dict[str, Any],
    model: str,
    config: LLMConfig,
    passages: Sequence[Passage],
) -> Answer:
    """The streamed reply as the final Answer; an empty one is a failure."""
    if not content.strip():
        raise LLMError(f"LLM endpoint {_display_url(config.chat_url)} streamed an empty answer")
    return _answer_from_reply(content, usage, model, passages)


def _headers(config: LLMConfig, accept: str) -> dict[str, str]:
    headers = {"Accept": accept}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    return headers


@contextmanager
def _request_errors(config: LLMConfig, where: str) -> Iterator[None]:
    """The transport's failures (network, timeout) as :class:`LLMError`, key redacted."""
    try:
        yield
    except httpx.TimeoutException:
        raise LLMError(f"LLM request to {where} timed out after {config.timeout:g}s") from None
    except httpx.HTTPError as exc:
        detail = _redact(str(exc), config.api_key) or type(exc).__name__
        raise LLMError(f"LLM request to {where} failed: {detail}") from None


def _status_error(response: httpx.Response, config: LLMConfig, where: str) -> LLMError:
    """The error for an HTTP error status, with the server's own message (key redacted)."""
    detail = _redact(_error_detail(response), config.api_key)
    message = f"LLM endpoint {where} returned HTTP {response.status_code}"
    return LLMError(f"{message}: {detail}" if detail else message, status_code=response.status_code)


def _post(
    client: httpx.Client, config: LLMConfig, payload: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    where = _display_url(config.chat_url)
    with _request_errors(config, where):
        response = client.post(
            config.chat_url, json=payload, headers=headers, timeout=config.timeout
        )
    if response.status_code >= 400:
        raise _status_error(response, config, where)
    try:
        data = response.json()
    except ValueError:
        content_type = response.headers.get("content-type", "no content type")
        raise LLMError(
            f"LLM endpoint {where} returned a non-JSON response "
            f"(HTTP {response.status_code}, {content_type})"
        ) from None
    if not isinstance(data, dict):
        raise LLMError(f"LLM endpoint {where} returned JSON that is not an object")
    return data


def _reply_content(data: dict[str, Any]) -> str:
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise LLMError("LLM response has no choices[0].message.content") from None
    if not isinstance(content, str):
        raise LLMError("LLM response choices[0].message.content is not text")
    if not content.strip():
        raise LLMError("LLM response content is empty")
    return content


def _error_detail(response: httpx.Response) -> str:
    """The server's own error message, from the shapes servers actually use.

    OpenAI and most proxies: ``{"error": {"message": ...}}``; Ollama:
    ``{"error": "..."}``; vLLM and FastAPI-based servers: ``{"message": ...}``
    or ``{"detail": ...}``. Otherwise the start of the body as text.
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    message: Any = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = error.get("message")
        elif isinstance(error, str):
            message = error
        message = message or body.get("message") or body.get("detail")
    if message is None:
        message = response.text
    text = " ".join(str(message).split())
    if len(text) > _MAX_ERROR_DETAIL:
        text = text[:_MAX_ERROR_DETAIL] + "..."
    return text


def _redact(text: str, secret: str) -> str:
    # Some proxies echo the key they rejected; the key must not reach logs.
    return text.replace(secret, "[redacted]") if secret else text


def _display_url(url: str) -> str:
    """``url`` without user info or query string, which may hold credentials."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _normalize(text: str) -> str:
    text = text.lower().replace("\u2019", "'").replace("n't", " not")
    return " ".join(re.findall(r"[a-z0-9]+", text))


_NO_ANSWER_NORMALIZED = _normalize(NO_ANSWER_TEXT)


def _says_no_answer(text: str) -> bool:
    return _NO_ANSWER_NORMALIZED in _normalize(text)


@dataclass
class LLMUsage:
    """Tokens spent on the steps before the answer (query rewrite, reranking), added to
    the answer's own so that they are counted and priced like it (``search.services``)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0

    def add(self, prompt_tokens: int, completion_tokens: int) -> None:
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.calls += 1


def chat_text(
    config: LLMConfig,
    messages: list[dict[str, str]],
    *,
    usage: LLMUsage | None = None,
    temperature: float = 0.0,
) -> str:
    """One non-streamed chat completion: the reply's text, its tokens added to ``usage``.

    Bounded by ``config.timeout`` and ``config.max_tokens``; any failure (as for
    :func:`answer_with_llm`) raises :class:`LLMError`, never with the API key.
    """
    payload = {
        "model": config.model,
        "messages": messages,
        "temperature": temperature,
        "max_tokens": config.max_tokens,
        "stream": False,
    }
    started = time.perf_counter()
    try:
        data = _post(shared_client(), config, payload, _headers(config, "application/json"))
        content = _reply_content(data)
    except LLMError:
        metrics.llm_call_observe(seconds=time.perf_counter() - started, ok=False)
        raise
    reported = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    prompt_tokens = _int(reported.get("prompt_tokens"))
    completion_tokens = _int(reported.get("completion_tokens"))
    # Counted as the answer's own call is (search.services): duration and tokens.
    metrics.llm_call_observe(
        seconds=time.perf_counter() - started,
        ok=True,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
    )
    if usage is not None:
        usage.add(prompt_tokens, completion_tokens)
    return content


REWRITE_PROMPT = (
    "You rewrite a follow-up question from a conversation into one standalone question "
    "that can be understood without the conversation. Keep the user's language and "
    "meaning, resolve words like 'it' or 'that' from the conversation, add nothing "
    "else. Reply with the rewritten question only."
)


def rewrite_standalone(question: str, history: Sequence[tuple[str, str]], config: LLMConfig) -> str:
    """The follow-up ``question`` made standalone from ``history`` (question, answer) pairs.

    The conversation is data for the model, never instructions. Raises
    :class:`LLMError` on failure; an empty rewrite also counts as a failure.
    """
    turns = "\n".join(
        f"<turn><question>{html.escape(q)}</question><answer>{html.escape(a)}</answer></turn>"
        for q, a in history
    )
    payload = {
        "model": config.model,
        "messages": [
            {"role": "system", "content": REWRITE_PROMPT},
            {
                "role": "user",
                "content": f"<conversation>\n{turns}\n</conversation>\n\n"
                f"Follow-up question: {question.strip()}",
            },
        ],
        "temperature": 0,
        "max_tokens": 200,
        "stream": False,
    }
    data = _post(shared_client(), config, payload, _headers(config, "application/json"))
    rewritten = " ".join(_reply_content(data).split())
    if not rewritten:
        raise LLMError("the LLM returned an empty rewrite")
    return rewritten[:2000]
