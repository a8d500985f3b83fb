"""The top bar for two audiences, and light and dark themes."""

from __future__ import annotations

import re

import pytest

from tests.portal.conftest import OWNER, PHONE, SLOW_MS, VIEWER, contrast_failures

ADMIN_PAGES = ["Sources", "Analytics", "Members", "Groups", "Access", "SSO", "Audit log"]
ADMIN_PAGES += ["Usage & plan", "Workspaces"]


def _top(locator) -> float:
    return locator.bounding_box()["y"]


def test_the_worker_pages_come_first_and_the_admin_pages_are_one_menu(sign_in, portal, shoot):
    """Issue 16: twelve top-level links wrapped onto two lines at desktop width."""
    page = sign_in(OWNER)
    page.goto(portal.url(f"/ask/?workspace={portal.workspace}"))
    nav = page.locator("header nav")
    links = nav.locator("> a:visible")
    assert links.all_inner_texts() == ["Ask", "Documents"]
    admin = nav.locator("details.menu", has=page.locator("summary", has_text="Admin"))
    summary = admin.locator("summary")
    # One line at desktop width: the worker's links, the menus and the account share a row.
    tops = {round(_top(e)) for e in [*links.all(), *nav.locator("summary").all()]}
    assert max(tops) - min(tops) <= 8, tops
    for name in ADMIN_PAGES:
        assert not nav.get_by_role("link", name=name, exact=True).is_visible()

    summary.click()
    assert summary.get_attribute("aria-expanded") in (None, "true")  # <details> says so itself
    for name in ADMIN_PAGES:
        assert nav.get_by_role("link", name=name, exact=True).is_visible(), name
    # Workspaces are managed in the portal (they were in the Django admin only).
    workspaces = nav.get_by_role("link", name="Workspaces", exact=True)
    assert workspaces.get_attribute("href") == "/workspaces/"
    shoot(page, "nav-admin-menu-open")
    # Escape closes the menu and leaves the focus on its button; so does a click elsewhere.
    page.keyboard.press("Escape")
    assert not admin.evaluate("e => e.open")
    assert summary.evaluate("e => e === document.activeElement")
    summary.click()
    page.mouse.click(20, 700)  # on the page, away from the menu
    assert not admin.evaluate("e => e.open")

    # The page shown is marked: its link (aria-current) and, visibly, its menu's button.
    nav.get_by_role("link", name="Ask").click()
    assert summary.evaluate("e => getComputedStyle(e).fontWeight") != "700"
    page.goto(portal.url(f"/sources/?workspace={portal.workspace}"))
    assert nav.locator("[aria-current=page]").all_text_contents() == ["Sources"]
    assert summary.evaluate("e => getComputedStyle(e).fontWeight") == "700"
    summary.click()
    current = nav.get_by_role("link", name="Sources")
    assert current.get_attribute("aria-current") == "page"
    assert current.evaluate("e => getComputedStyle(e).borderLeftWidth") == "3px"


def test_a_viewer_has_no_admin_menu(sign_in, portal):
    page = sign_in(VIEWER)
    nav = page.locator("header nav")
    assert nav.locator("> a:visible").all_inner_texts() == ["Ask", "Documents"]
    assert nav.locator("summary", has_text="Admin").count() == 0
    nav.locator("details.account summary").click()
    assert nav.get_by_role("link", name="API tokens").is_visible()
    assert nav.get_by_role("button", name="Sign out").is_visible()


def test_at_phone_width_a_menu_opens_across_the_bar(sign_in, portal, shoot):
    page = sign_in(OWNER, viewport=PHONE)
    page.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    page.locator("header nav summary", has_text="Admin").click()
    panel = page.locator("header nav details[open] .menu-panel")
    box = panel.bounding_box()
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= PHONE["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shoot(page, "nav-admin-menu-phone")


def _background(page) -> str:
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


def _is_dark(page) -> bool:
    return page.evaluate(
        """() => { const [r, g, b] = getComputedStyle(document.body).backgroundColor
                     .match(/\\d+/g).map(Number); return r + g + b < 200; }"""
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_theme_follows_the_system_and_a_choice_is_remembered(sign_in, portal, scheme):
    page = sign_in(OWNER, color_scheme=scheme)
    # The first frame is painted in the final theme: record the theme then.
    page.add_init_script(
        "requestAnimationFrame(() => { window.firstFrameDark ="
        " getComputedStyle(document.documentElement).colorScheme === 'dark'; });"
    )
    page.goto(portal.url(f"/ask/?workspace={portal.workspace}"))
    assert _is_dark(page) is (scheme == "dark")
    # The theme is set by a blocking script before the styles, never after a paint.
    assert page.evaluate(
        """() => { const script = document.querySelector("head script[src*='theme.js']");
                   const styles = document.querySelector("head link[rel=stylesheet]");
                   const after = script.compareDocumentPosition(styles);
                   return !script.defer && !script.async &&
                     !!(after & Node.DOCUMENT_POSITION_FOLLOWING); }"""
    )

    other = "light" if scheme == "dark" else "dark"
    page.locator("header nav details.account summary").click()
    page.get_by_label("Theme").select_option(other)
    assert _is_dark(page) is (other == "dark")
    page.reload()
    assert _is_dark(page) is (other == "dark")
    assert page.evaluate("window.firstFrameDark") is (other == "dark")
    page.locator("header nav details.account summary").click()
    assert page.get_by_label("Theme").input_value() == other
    # Back to the system's preference.
    page.get_by_label("Theme").select_option("system")
    page.reload()
    assert _is_dark(page) is (scheme == "dark")
    assert page.evaluate("localStorage.getItem('opaa-theme')") is None


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_is_readable_in_both_themes(sign_in, portal, indexed_document, shoot, scheme):
    """WCAG AA contrast for every visible text of the main pages, menus open too."""
    page = sign_in(OWNER, color_scheme=scheme)
    pages = ("/ask/", "/documents/", "/sources/", "/accounts/tokens/", "/accounts/members/")
    pages += ("/accounts/audit/", "/accounts/settings/", "/groups/", "/sso/settings/", "/usage/")
    pages += ("/analytics/",)
    for path in pages:
        page.goto(portal.url(f"{path}?workspace={portal.workspace}"))
        assert contrast_failures(page) == [], path
        shoot(page, f"{path.strip('/').replace('/', '-')}-{scheme}")
    page.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    page.get_by_role("link", name="Travel policy").click()
    page.wait_for_load_state()
    assert contrast_failures(page) == [], "document"
    for menu in ("Admin", "olive@portal.example"):
        page.locator("header nav summary", has_text=menu).click()
        assert contrast_failures(page) == [], menu
    shoot(page, f"document-{scheme}")
    page.goto(portal.url(f"/ask/?workspace={portal.workspace}"))
    page.fill("#question", "What is the per diem abroad?")
    page.click("form.ask button[type=submit]")
    page.wait_for_url(re.compile(r"conversation=\d+"), timeout=SLOW_MS)
    page.locator("section.answer form.feedback").first.wait_for()
    assert contrast_failures(page) == [], "answer"
    shoot(page, f"ask-answer-{scheme}")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_sign_in_page_is_readable_in_both_themes(browser, portal, shoot, scheme):
    context = browser.new_context(color_scheme=scheme)
    try:
        page = context.new_page()
        page.goto(portal.url("/accounts/login/"))
        assert _is_dark(page) is (scheme == "dark")
        assert page.get_by_label("Theme").is_visible()  # anyone may switch
        assert contrast_failures(page) == []
        shoot(page, f"sign-in-{scheme}")
    finally:
        context.close()
