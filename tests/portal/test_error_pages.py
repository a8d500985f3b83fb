"""The product's own error pages, in the demo ``make run`` serves (DEBUG on)."""

from __future__ import annotations

from tests.portal.conftest import VIEWER


def test_a_member_gets_the_products_404_not_the_url_patterns(sign_in, portal, shoot):
    """Issue 16: in the demo a 404 was Django's debug page listing every URL pattern."""
    page = sign_in(VIEWER)
    response = page.goto(portal.url("/no/such/page"))
    assert response.status == 404
    body = page.locator("body").inner_text()
    assert "Page not found" in body
    assert "URLconf" not in body
    assert "api/v1/" not in body
    assert page.locator("header nav").get_by_role("link", name="Ask").is_visible()
    assert page.get_by_role("link", name="Back to the start page").is_visible()
    shoot(page, "not-found-member")


def test_a_missing_document_is_the_products_404(sign_in, portal):
    page = sign_in(VIEWER)
    response = page.goto(portal.url("/documents/999999/"))
    assert response.status == 404
    assert page.get_by_role("heading", name="Page not found").is_visible()
    assert "Django" not in page.content()


def test_an_anonymous_visitor_gets_the_products_404(browser, portal):
    context = browser.new_context()
    try:
        page = context.new_page()
        response = page.goto(portal.url("/no/such/page"))
        assert response.status == 404
        assert page.get_by_role("heading", name="Page not found").is_visible()
        assert "URLconf" not in page.content()
    finally:
        context.close()


def test_an_unrouted_api_url_stays_json(browser, portal):
    context = browser.new_context()
    try:
        response = context.new_page().goto(portal.url("/api/v1/no-such-endpoint"))
        assert response.status == 404
        assert response.json() == {"detail": "Not found."}
    finally:
        context.close()
