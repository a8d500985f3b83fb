"""The API docs (Swagger UI, ReDoc) render in a browser from the site alone: every request
the page makes stays on loopback, and each operation says which token scope it needs."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.portal.conftest import OWNER, SLOW_MS

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _offline(page) -> list[str]:
    """Refuse, and list, every request that would leave loopback."""
    left: list[str] = []

    def guard(route):
        url = route.request.url
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme in ("data", "blob") or host in LOOPBACK or host.endswith(".localhost"):
            route.continue_()
        else:
            left.append(url)
            route.abort()

    page.context.route("**/*", guard)
    return left


@pytest.mark.parametrize(("link", "path"), [("Swagger UI", "/api/docs/"), ("ReDoc", "/api/redoc/")])
def test_api_docs_render_without_leaving_the_site(sign_in, portal, shoot, link, path):
    page = sign_in(OWNER)
    left = _offline(page)
    page.goto(portal.url("/accounts/tokens/"))
    page.get_by_role("link", name=link).click()
    page.wait_for_url(f"**{path}")
    if link == "Swagger UI":
        # Operations are listed folded: open the first one to read its description.
        page.locator("#swagger-ui .opblock-summary").first.click(timeout=SLOW_MS)
    # ReDoc lays out the whole schema at once: slow on a busy machine.
    page.get_by_text("Token scope:").first.wait_for(timeout=SLOW_MS)
    assert page.locator("code", has_text=":read").count() > 0
    page.wait_for_load_state("networkidle")
    shoot(page, f"api-docs-{path.strip('/').replace('/', '-')}")
    assert left == []
