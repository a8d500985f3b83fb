"""axe-core (vendored) on each main page: no serious or critical violation."""

from __future__ import annotations

import re

import pytest

from tests.portal.conftest import OWNER, axe_violations

PAGES = (
    "/ask/",
    "/documents/",
    "/sources/",
    "/sources/new",
    "/analytics/",
    "/accounts/tokens/",
    "/accounts/members/",
    "/accounts/audit/",
    "/accounts/settings/",
    "/groups/",
    "/workspaces/",
    "/sso/settings/",
    "/usage/",
    "/no/such/page/",
)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_main_pages_have_no_serious_accessibility_violation(
    sign_in, portal, indexed_document, scheme
):
    page = sign_in(OWNER, color_scheme=scheme)
    found = {}
    for path in PAGES:
        page.goto(portal.url(f"{path}?workspace={portal.workspace}"))
        found[path] = axe_violations(page)
    page.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    page.get_by_role("link", name="Travel policy").click()
    page.wait_for_url(re.compile(r"/documents/\d+/$"))
    found["document"] = axe_violations(page)
    page.locator("header nav summary", has_text="Admin").click()
    found["admin menu"] = axe_violations(page)
    assert {path: problems for path, problems in found.items() if problems} == {}


def test_the_sign_in_page_has_no_serious_accessibility_violation(browser, portal):
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(portal.url("/accounts/login/"))
        assert axe_violations(page) == []
    finally:
        context.close()
