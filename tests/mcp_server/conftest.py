"""The MCP server over real HTTP: ``make run``'s web server and the SDK's own client.

One organization (committed, so the server process sees it) with an owner, a viewer,
two indexed documents (one readable by the owner only) and API tokens; a second
organization whose token must mean nothing here. The server is the development server
``make run`` starts (``opaa.cli web``: WSGI, a thread per request); tests that need the
image's gunicorn start their own (test_transport.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import httpx2
import pytest
from django.db import connection
from django_tenants.utils import schema_context
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import _org, api_client, free_port, named_file

T = TypeVar("T")

OWNER = "owen@mcp.example"
VIEWER = "vic@mcp.example"
POLICY = b"""# Travel policy

Refunds for travel must be claimed within 30 days of the trip.
The per diem for a trip abroad is 42 euros per day.
"""
SECRET_NOTE = b"""# Board minutes

The codename of the merger is Bluefinch. Only the owner may read this.
"""


@dataclass(frozen=True)
class McpSite:
    """The organization's site as the live server serves it, and what it holds."""

    base_url: str  # http://127.0.0.1:<port>
    host: str  # mcptest-xxxx.localhost:<port>
    schema: str
    tokens: dict[str, str]  # name -> secret
    policy_id: int
    secret_id: int
    server_log: Any

    @property
    def site(self) -> str:
        return f"http://{self.host}"


def mcp_call(
    site: McpSite,
    token: str,
    body: Callable[[Client], Awaitable[T]],
    *,
    mode: str = "legacy",
    host: str | None = None,
    statuses: list[int] | None = None,
) -> T:
    """Connect the SDK's client to ``/mcp`` with ``token`` as bearer and run ``body``.

    ``*.localhost`` does not resolve here, so the client connects to 127.0.0.1 and names
    the organization in the Host header, as a browser would for ``acme.localhost``.
    ``statuses`` collects the HTTP status of every answer the client got.
    """

    async def record(response: httpx2.Response) -> None:
        if statuses is not None:
            statuses.append(response.status_code)

    async def main() -> T:
        headers = {"Host": host or site.host, "Authorization": f"Bearer {token}"}
        timeout = httpx2.Timeout(30, read=180)
        hooks = {"response": [record]}
        async with httpx2.AsyncClient(headers=headers, timeout=timeout, event_hooks=hooks) as http:
            transport = streamable_http_client(f"{site.base_url}/mcp", http_client=http)
            async with Client(transport, mode=mode) as client:
                return await body(client)

    return anyio.run(main)


def _tokens(org, owner, viewer) -> dict[str, str]:
    from accounts.audit import AuditContext
    from accounts.models import ApiToken
    from accounts.scopes import Scope
    from accounts.services import token_create, token_revoke

    def make(user, name: str, scopes: list[str]) -> str:
        return token_create(
            creator=user,
            kind="pat",
            name=name,
            scopes=scopes,
            workspace_slugs=["general"],
            expires_in_days=5,
            audit=AuditContext(),
        ).secret

    tokens = {
        "owner": make(owner, "owner, every scope", list(Scope.values)),
        "ask_only": make(owner, "owner, ask only", ["ask"]),
        "revoked": make(owner, "owner, revoked", list(Scope.values)),
    }
    if viewer is not None:
        tokens["viewer"] = make(viewer, "viewer", ["ask", "search:read", "documents:read"])
    token_revoke(token=ApiToken.objects.get(name="owner, revoked"), audit=AuditContext())
    return tokens


@pytest.fixture(scope="package")
def mcp_org(django_db_setup, django_db_blocker) -> Iterator[dict]:
    """A committed organization with its people, documents and tokens; dropped after."""
    from accounts.models import User
    from tenants.services import organization_delete
    from workspaces.models import Membership, Role, Workspace
    from workspaces.rls import organization_scope

    slug = f"mcp{uuid.uuid4().hex[:6]}"
    with django_db_blocker.unblock():
        org = _org(slug, OWNER)
        other = _org(f"{slug}x", "olga@other.example")
        with schema_context(org.schema), organization_scope():
            general = Workspace.objects.get(is_default=True)
            viewer = User.objects.create_user(VIEWER, "not used")
            Membership.objects.create(workspace=general, user=viewer, role=Role.VIEWER)
            owner = User.objects.get(email=OWNER)
            tokens = _tokens(org, owner, viewer)
        owner_api = api_client(org, OWNER)
        ids = {}
        for name, data in (("policy.md", POLICY), ("minutes.md", SECRET_NOTE)):
            # Autocommit: the upload's on-commit indexing runs at once (eager tasks).
            response = owner_api.post(
                "/api/v1/documents", {"file": named_file(name, data)}, format="multipart"
            )
            assert response.status_code == 201, response.content
            ids[name] = response.json()["id"]
        restricted = owner_api.patch(
            f"/api/v1/documents/{ids['minutes.md']}",
            {"readers": [f"user:{OWNER}"]},
            format="json",
        )
        assert restricted.status_code == 200, restricted.content
        with schema_context(other.schema), organization_scope():
            foreign = _tokens(other, User.objects.get(email="olga@other.example"), None)
        connection.set_schema_to_public()
    try:
        yield {
            "org": org,
            "tokens": {**tokens, "foreign": foreign["owner"]},
            "policy_id": ids["policy.md"],
            "secret_id": ids["minutes.md"],
        }
    finally:
        with django_db_blocker.unblock():
            connection.set_schema_to_public()
            organization_delete(organization=org.organization)
            organization_delete(organization=other.organization)


@pytest.fixture(scope="package")
def mcp_site(mcp_org, django_db_blocker, tmp_path_factory) -> Iterator[McpSite]:
    """``make run``'s web server (development settings) serving the organization."""
    from django.conf import settings

    from opaa import cli
    from tests.opaa.test_connections import _database_env, _server, _settled

    port = free_port()
    logs = tmp_path_factory.mktemp("mcp-server")
    command, env = cli.processes(port=port, data_dir=logs)["web"]
    application_name = f"opaa-web-mcp-{uuid.uuid4().hex[:8]}"
    env = {
        **env,
        **_database_env(),
        "DJANGO_SETTINGS_MODULE": "opaa.settings.dev",
        "DATABASE_APPLICATION_NAME": application_name,
        # The tokens' digests were made with the test settings' pepper.
        "TOKEN_PEPPER": settings.TOKEN_PEPPER or settings.SECRET_KEY,
    }
    log = logs / "runserver.log"
    with django_db_blocker.unblock():
        with _server(command, env, port, log):
            yield McpSite(
                base_url=f"http://127.0.0.1:{port}",
                host=f"{mcp_org['org'].domain}:{port}",
                schema=mcp_org["org"].schema,
                tokens=mcp_org["tokens"],
                policy_id=mcp_org["policy_id"],
                secret_id=mcp_org["secret_id"],
                server_log=log,
            )
        _settled(application_name, at_most=0)
