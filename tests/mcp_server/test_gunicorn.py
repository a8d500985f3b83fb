"""The MCP endpoint under the Docker image's web server: gunicorn with threads
(opaa/gunicorn.py) and the production settings, driven by the SDK's client."""

from __future__ import annotations

import os
import sys
import uuid
from dataclasses import replace
from pathlib import Path

from tests.conftest import free_port
from tests.mcp_server.conftest import McpSite, mcp_call


def test_the_images_gunicorn_serves_mcp(mcp_site: McpSite, django_db_blocker, tmp_path):
    from django.conf import settings

    from tests.opaa.test_connections import _database_env, _server

    port = free_port()
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        *("-c", "python:opaa.gunicorn", "opaa.wsgi:application"),
    ]
    env = {
        **os.environ,
        **_database_env(),
        "DJANGO_SETTINGS_MODULE": "opaa.settings.production",
        "OPAA_EMBEDDED_SERVICES": "false",
        "SECRET_KEY": "test-mcp-gunicorn-not-secret",
        # The tokens' digests were made with the test settings' pepper.
        "TOKEN_PEPPER": settings.TOKEN_PEPPER or settings.SECRET_KEY,
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "2",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_TIMEOUT": "180",
        "WEB_WARM_UP": "false",
        "DATABASE_APPLICATION_NAME": f"opaa-gunicorn-mcp-{uuid.uuid4().hex[:8]}",
    }
    site = replace(
        mcp_site,
        base_url=f"http://127.0.0.1:{port}",
        host=f"{mcp_site.host.rsplit(':', 1)[0]}:{port}",
    )

    async def body(client):
        tools = await client.list_tools()
        found = await client.call_tool("search", {"query": "per diem abroad", "k": 2})
        answer = await client.call_tool("ask", {"question": "What is the per diem abroad?"})
        return tools.tools, found, answer

    with django_db_blocker.unblock(), _server(command, env, port, tmp_path / "gunicorn.log"):
        tools, found, answer = mcp_call(site, site.tokens["owner"], body)
    assert len(tools) == 6
    assert not found.is_error, found.content
    assert found.structured_content["results"][0]["document_id"] == site.policy_id
    # Links name the organization's own site, as the request reached it.
    assert found.structured_content["results"][0]["url"].startswith(f"http://{site.host}/")
    assert not answer.is_error, answer.content
    assert "42" in answer.structured_content["answer"]
