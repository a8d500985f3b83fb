"""The portal's layout at phone width (375 px) and the top bar's current page."""

from __future__ import annotations

from tests.portal.conftest import OWNER, PHONE


def _page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_at_phone_width_the_top_bar_wraps_and_nothing_is_cut_off(
    sign_in, portal, indexed_document, shoot
):
    """Issue 16: at 375 px the top bar did not wrap; the page was 1152 px wide and the
    documents table was cut off."""
    page = sign_in(OWNER, viewport=PHONE)
    pages = ("/ask/", "/documents/", "/accounts/tokens/", "/sources/", "/accounts/members/")
    for path in (*pages, "/accounts/audit/", "/groups/", "/usage/", "/sso/settings/"):
        page.goto(portal.url(f"{path}?workspace={portal.workspace}"))
        assert _page_width(page) <= PHONE["width"], path
        # Every link of the top bar is on the page, none pushed off its right edge: those
        # shown at once, and those of each menu once it is opened.
        for menu in [None, *page.locator("header nav details[data-menu]").all()]:
            if menu is not None:
                menu.locator("summary").click()
            for link in page.locator("header nav a:visible, header nav summary").all():
                box = link.bounding_box()
                assert box["x"] >= 0, path
                assert box["x"] + box["width"] <= PHONE["width"], path
            if menu is not None:
                page.keyboard.press("Escape")

    page.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    table = page.locator("table.documents")
    assert table.is_visible()
    # The table keeps its columns and scrolls inside its card.
    scroller = page.locator(".table-scroll").first
    assert scroller.evaluate("e => e.scrollWidth > e.clientWidth")
    assert scroller.evaluate("e => getComputedStyle(e).overflowX") == "auto"
    shoot(page, "documents-owner")


def test_the_top_bar_marks_the_current_page(sign_in, portal):
    page = sign_in(OWNER)
    nav = page.locator("header nav")
    page.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    assert nav.locator("[aria-current=page]").all_inner_texts() == ["Documents"]
    page.goto(portal.url("/accounts/tokens/"))
    # API tokens is in the account's menu: marked there, and the menu's button with it.
    assert nav.locator("[aria-current=page]").all_text_contents() == ["API tokens"]
    account = nav.locator("details.account")
    assert account.locator("summary").evaluate("e => getComputedStyle(e).fontWeight") == "700"
    account.locator("summary").click()
    assert nav.locator("[aria-current=page]").all_inner_texts() == ["API tokens"]
