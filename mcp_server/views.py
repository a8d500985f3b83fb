"""``/mcp`` at an organization's domain: the MCP endpoint (streamable HTTP, docs/mcp.md)."""

from __future__ import annotations

from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from accounts.audit import audit_context
from accounts.authentication import ApiTokenAuthentication
from accounts.models import ApiToken
from mcp_server.tools import Caller
from mcp_server.transport import mcp_respond


class _JsonErrors(BaseContentNegotiation):
    """Refusals before the SDK (401, 429) are JSON whatever ``Accept`` says: an MCP client
    may accept only ``text/event-stream`` on some requests."""

    def select_parser(self, request, parsers):
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class McpView(APIView):
    """The MCP endpoint: an OPAA API token as bearer, nothing else.

    Authentication is the REST API's token class (malformed, unknown, expired or revoked
    tokens and another organization's: the same 401 with ``WWW-Authenticate``; the
    per-token rate limit: 429 with ``Retry-After``; last use and ``token.used`` in the
    audit log). No session or password: an agent holds a token, and without cookies no
    other site can make a signed-in browser call it. Each tool then checks the token's
    scope and the person's role itself (``mcp_server.tools``). The body is read by the
    SDK, never by DRF's parsers; the MCP protocol is not part of the OpenAPI schema.
    """

    authentication_classes = [ApiTokenAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _JsonErrors
    schema = None

    def _respond(self, request):
        auth = request.auth
        caller = Caller(
            user=request.user,
            token=auth if isinstance(auth, ApiToken) else None,
            audit=audit_context(request),
            site=f"{request.scheme}://{request.get_host()}",
        )
        return mcp_respond(request._request, caller)

    # POST only: stateless, there is no server-to-client stream to open (GET) and no
    # session to end (DELETE); both answer 405, as the protocol allows. (Handed to the
    # SDK, a GET would open a stream that holds the worker thread until the client goes.)
    def post(self, request):
        return self._respond(request)
