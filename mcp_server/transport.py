"""Streamable HTTP under WSGI: one Django request in, the SDK's transport, one response out.

OPAA is served by WSGI (``make run``'s development server, gunicorn in the image, the
test client), so the MCP endpoint is a Django view like any other: the organization
comes from the host, the API token is checked by the REST API's authentication (rate
limit, last use, audit), and the row-level security scope is the caller's. The view
hands the request to this module, which runs the official SDK's
``StreamableHTTPSessionManager`` for that one request:

- **stateless** (no ``Mcp-Session-Id``, nothing kept between requests, so any web
  process or pod can answer any request) and in **JSON-response mode** (each POST gets
  one ``application/json`` answer, no SSE stream is held open, so a request holds a
  worker thread only while its tool runs, as a REST call does);
- one manager per request, inside ``async_to_sync``: its event loop lives only for the
  request; the tools' synchronous work is sent back to the request's own thread
  (``mcp_server.server``), where its database connection and scope are;
- the SDK's DNS-rebinding check allows only the organization's own host and origin.

The request body is at most ``MAX_BODY_BYTES``; only POST reaches here (the view answers
GET and DELETE with 405); an SDK that has not started its answer after
``ANSWER_WITHIN_S`` is given up with 504 rather than holding the thread; nothing of the
SDK reaches the caller but its HTTP answer.
"""

from __future__ import annotations

from typing import Any

import anyio
from asgiref.sync import async_to_sync
from django.http import HttpRequest, HttpResponse
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

from mcp_server.server import caller_set, server
from mcp_server.tools import Caller

# A JSON-RPC call with its arguments; a question is at most 2,000 characters.
MAX_BODY_BYTES = 256 * 1024
# Longer than any tool takes (an ask: the LLM chain's timeouts and retrieval); the tools'
# own work runs on the request's thread and is not cut short by this.
ANSWER_WITHIN_S = 240
# Not handed to the SDK: the view has authenticated the request already.
_PRIVATE_HEADERS = {"authorization", "cookie"}


def _asgi_scope(request: HttpRequest) -> dict[str, Any]:
    host = request.get_host()
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in request.headers.items()
        if name.lower() not in _PRIVATE_HEADERS and name.lower() != "host"
    ]
    headers.append((b"host", host.encode("latin-1")))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": request.scheme,
        "path": request.path,
        "raw_path": request.path.encode("utf-8"),
        "root_path": "",
        "query_string": request.META.get("QUERY_STRING", "").encode("latin-1"),
        "headers": headers,
        "server": (request.get_host().rsplit(":", 1)[0], int(request.get_port())),
        "client": (request.META.get("REMOTE_ADDR") or "127.0.0.1", 0),
    }


async def _serve(scope: dict[str, Any], body: bytes, origin: str) -> HttpResponse:
    """The SDK's answer to one request (``scope`` and its whole ``body``)."""
    host = dict(scope["headers"])[b"host"].decode("latin-1")
    manager = StreamableHTTPSessionManager(
        # The SDK's own client reaches an MCPServer's protocol server the same way.
        app=server._lowlevel_server,
        json_response=True,
        stateless=True,
        security_settings=TransportSecuritySettings(
            enable_dns_rebinding_protection=True, allowed_hosts=[host], allowed_origins=[origin]
        ),
        max_request_body_size=MAX_BODY_BYTES,
    )
    status = 500
    headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []
    answered = anyio.Event()
    body_sent = False

    async def receive() -> dict[str, Any]:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await answered.wait()  # the client "disconnects" once it has its answer
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                answered.set()

    with anyio.move_on_after(ANSWER_WITHIN_S):
        async with manager.run():
            await manager.handle_request(scope, receive, send)
    answered.set()
    if not chunks and not headers:
        return HttpResponse(
            b'{"detail": "The MCP request did not finish in time."}',
            status=504,
            content_type="application/json",
        )
    response = HttpResponse(b"".join(chunks), status=status)
    for name, value in headers:
        if name.lower() not in (b"content-length", b"transfer-encoding", b"connection"):
            response[name.decode("latin-1")] = value.decode("latin-1")
    return response


def mcp_respond(request: HttpRequest, caller: Caller) -> HttpResponse:
    """Answer the MCP request ``request`` (authenticated as ``caller``) with the SDK."""
    body = request.body
    if len(body) > MAX_BODY_BYTES:
        return HttpResponse("Request body too large", status=413, content_type="text/plain")
    origin = f"{request.scheme}://{request.get_host()}"
    with caller_set(caller):
        return async_to_sync(_serve)(_asgi_scope(request), body, origin)
