"""The interface every chat platform's adapter implements, and the events it produces.

The framework (``chat.handling``) works on ``Incoming`` events and asks the adapter to
post, update and download; it never speaks a platform's protocol itself. A platform
whose requests arrive over HTTP (Slack, Mattermost, and Microsoft Teams' Bot Framework
activities, whose bearer JWT ``verify`` validates against the Bot Framework's OpenID
keys) implements ``verify`` and ``parse``; one the bot polls (Matrix' client-server
``/sync``) produces the same ``Incoming`` events from a periodic task instead and
implements ``verify``/``parse`` by raising ``RequestRefused(404)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import httpx
from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException

from infra.outbound import OutboundRefused, httpx_request_check, url_check

# The words after the command (``/opaa ask ...``) every platform understands.
SUBCOMMANDS = frozenset({"ask", "search", "sources", "help"})


class RequestRefused(Exception):
    """An incoming request that is not the platform's, or not for this organization.

    The message is for the log (never a secret); ``status`` the HTTP answer."""

    def __init__(self, message: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


def raw_body(request: HttpRequest) -> bytes:
    """The request's body as sent (signatures are over these bytes). A multipart body
    already parsed by a middleware is gone: no platform sends one, so it is refused."""
    try:
        return request.body
    except RawPostDataException as exc:
        raise RequestRefused("unsupported content type", status=400) from exc


class PlatformError(Exception):
    """The platform refused or failed a call; the message says which (no secret).
    ``status`` is the platform's HTTP status when it answered (0: no answer)."""

    def __init__(self, message: str = "", *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class PlatformRateLimited(PlatformError):
    """The platform answered 429: try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited, retry after {retry_after:g} s", status=429)
        self.retry_after = retry_after


def platform_request(
    what: str, method: str, url: str, *, timeout: float, **kwargs
) -> httpx.Response:
    """One call of an adapter to its platform, through the outbound guard (``url`` and
    every request after it, redirects too, checked), a refusal or transport failure
    raised as ``PlatformError`` naming ``what`` (never the URL: it may hold a token).
    ``kwargs`` go to ``httpx.Client.request`` (headers, json, data, params)."""
    try:
        url_check(url)
        with httpx.Client(
            timeout=timeout, event_hooks={"request": [httpx_request_check]}
        ) as client:
            return client.request(method, url, **kwargs)
    except OutboundRefused as exc:
        raise PlatformError(str(exc)) from exc
    except httpx.HTTPError as exc:
        raise PlatformError(f"{what}: {exc.__class__.__name__}") from exc


class EventKind:
    QUESTION = "question"  # a mention, a direct message, a thread reply, /opaa ask|search|...
    FEEDBACK = "feedback"  # a reaction or a button on an answer


@dataclass(frozen=True)
class IncomingFile:
    id: str
    name: str
    size: int = 0
    url: str = ""  # where the adapter downloads it (Slack: url_private_download)


@dataclass(frozen=True)
class Incoming:
    """One thing a chat user did that the bot must answer, in platform-neutral terms.

    Sent to Celery as a dict (``as_dict``/``from_dict``): primitives only.
    """

    kind: str
    event_id: str  # the platform's id for de-duplication (Slack event_id, a post id, ...)
    user_id: str
    channel_id: str
    text: str = ""
    # ask | search | sources | help (mentions, DMs and thread replies are "ask")
    command: str = "ask"
    # The thread to answer in (its root message); empty: answer starts one under message_id.
    thread_id: str = ""
    message_id: str = ""
    is_direct: bool = False
    # A reply in a thread the bot did not start: answered only if it continues one of ours.
    only_if_thread_known: bool = False
    # Slash commands: where the private answer goes (Slack/Mattermost response_url).
    response_url: str = ""
    user_name: str = ""
    # Feedback: True (👍) or False (👎), and the answer or message it is about.
    helpful: bool | None = None
    answer_id: int | None = None
    target_message_id: str = ""
    files: tuple[IncomingFile, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Incoming:
        files = tuple(IncomingFile(**f) for f in data.get("files") or ())
        return cls(**{**data, "files": files})


@dataclass(frozen=True)
class Parsed:
    """What ``parse`` found in a request: the events to handle later, and the answer to
    give the platform now (within its deadline: Slack's is 3 seconds)."""

    events: list[Incoming]
    response: HttpResponse


@dataclass(frozen=True)
class Source:
    number: int
    title: str
    where: str  # the heading path, " > "-joined
    url: str  # the passage in the portal


@dataclass(frozen=True)
class AnswerView:
    """An answer as the renderer sees it: text with [n] markers and its numbered sources."""

    text: str
    sources: list[Source]
    answer_id: int | None = None  # for feedback buttons
    note: str = ""  # e.g. "Answered from Sales."


class ChatAdapter(Protocol):
    """One platform. Built per use with its configuration and decrypted secrets."""

    kind: str
    # The longest message the platform takes (characters); the renderer splits below it.
    max_message_chars: int
    # What "help" answers (``chat.rendering.HELP`` or ``MENTION_HELP``).
    help_text: str

    # --- inbound (platforms that call us) ---
    def verify(self, request: HttpRequest, endpoint: str) -> None:
        """Raise ``RequestRefused`` unless ``request`` is the platform's, for this
        organization (signature or token, timestamp tolerance, constant-time compare)."""

    def parse(self, request: HttpRequest, endpoint: str) -> Parsed: ...

    # --- outbound (every call through the outbound guard) ---
    def post(self, *, channel_id: str, thread_id: str, part: dict) -> str:
        """Post one rendered part; returns the message's id."""
        ...

    def update(self, *, channel_id: str, message_id: str, part: dict) -> None: ...

    def respond(self, *, response_url: str, part: dict, first: bool = True) -> None:
        """Answer a slash command privately through its response URL; the ``first`` part
        replaces the "Thinking…" reply, the others follow it."""

    def post_private(self, *, channel_id: str, user_id: str, thread_id: str, text: str) -> None:
        """A message only ``user_id`` sees (the link to their account travels so)."""

    def thread_of(self, incoming: Incoming) -> str:
        """The thread to answer ``incoming`` in (its root message's id)."""
        ...

    def user_email(self, user_id: str) -> str | None:
        """The user's email when the platform vouches for it (verified); else None."""
        ...

    def file_download(self, file: IncomingFile) -> bytes: ...

    def bot_identity(self) -> str:
        """The bot's own user id (checks the token works)."""
        ...

    def render(self, answer: AnswerView) -> list[dict]:
        """The answer as the platform's messages, each within ``max_message_chars``."""
        ...

    def render_text(self, text: str) -> dict:
        """A plain notice (thinking, refusals, upload results) as one part."""
        ...
