"""The portal in German (issue 16): from the browser's language, and from the person's own
setting in the account menu; dates in German; nothing overflows at 375 px with the longer
German words."""

from __future__ import annotations

import re

from tests.portal.conftest import EDITOR, OWNER, PHONE, VIEWER

GERMAN = {"locale": "de-DE"}  # Accept-Language: de-DE and navigator.language
# A German date ("6. Dez. 2026, 14:05") or a German relative time ("vor 5 Minuten").
GERMAN_TIME = re.compile(r"\d{1,2}\. \w+\.? \d{4}|vor \d+ \w+|gerade eben|jetzt|in \d+ \w+")


def _page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def _nav_fits(page, width: int) -> None:
    """Every link of the top bar is inside the page, also in each opened menu."""
    for menu in [None, *page.locator("header nav details[data-menu]").all()]:
        if menu is not None:
            menu.locator("summary").click()
        for link in page.locator("header nav a:visible, header nav summary").all():
            box = link.bounding_box()
            assert box["x"] >= 0, link.inner_text()
            assert box["x"] + box["width"] <= width, link.inner_text()
        if menu is not None:
            page.keyboard.press("Escape")


def test_a_german_browser_gets_the_portal_in_german(sign_in, portal, indexed_document, shoot):
    page = sign_in(OWNER, **GERMAN)
    ws = f"?workspace={portal.workspace}"

    page.goto(portal.url(f"/ask/{ws}"))
    assert page.locator("html").get_attribute("lang") == "de"
    nav = page.locator("header nav")
    assert nav.get_by_role("link", name="Fragen").is_visible()
    assert nav.get_by_role("link", name="Dokumente").is_visible()
    assert page.get_by_role("link", name="Neue Unterhaltung").is_visible()
    assert page.get_by_role("button", name="Fragen").is_visible()
    assert page.get_by_text("Enter sendet, Umschalt+Enter beginnt eine neue Zeile.").is_visible()
    shoot(page, "de-ask")

    page.goto(portal.url(f"/documents/{ws}"))
    assert page.locator("main h1").first.inner_text().startswith("Dokumente")
    assert page.get_by_text("Dokumente finden").is_visible()
    assert re.search(r"\d+ Dokument", page.locator(".doc-count").inner_text())
    # Dates are written by time.js in the page's language.
    times = [t.inner_text() for t in page.locator("table.documents time").all()]
    assert times, "the documents table shows when each was added"
    assert all(GERMAN_TIME.search(t) for t in times), times
    shoot(page, "de-documents")

    page.goto(portal.url(f"/sources/{ws}"))
    assert page.get_by_role("link", name="Quelle hinzufügen").first.is_visible()
    shoot(page, "de-sources")

    # (The owner is staff on loopback: `make run` shows the developer Django's page.)
    viewer = sign_in(VIEWER, **GERMAN)
    response = viewer.goto(portal.url("/no/such/page"))
    assert response.status == 404
    assert viewer.get_by_role("heading", name="Seite nicht gefunden").is_visible()
    assert viewer.get_by_role("link", name="Zurück zur Startseite").is_visible()
    shoot(viewer, "de-not-found")

    # The longer German words still fit at 375 px: the bar wraps, no page is wider.
    page.set_viewport_size(PHONE)
    # /chat/ shows long endpoint URLs (in code, and in help texts): they wrap.
    pages = ("/ask/", "/documents/", "/sources/", "/accounts/members/", "/accounts/tokens/")
    for path in (*pages, "/chat/"):
        page.goto(portal.url(f"{path}{ws}"))
        assert _page_width(page) <= PHONE["width"], path
        _nav_fits(page, PHONE["width"])


def test_the_persons_setting_wins_over_an_english_browser(sign_in, portal, shoot):
    page = sign_in(EDITOR, locale="en-US")
    page.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    assert page.locator("html").get_attribute("lang") == "en"
    try:
        page.locator("details.account summary").click()
        page.select_option("#language-choice", "de")
        with page.expect_navigation():
            page.get_by_role("button", name="Switch").click()
        assert "/documents/" in page.url  # back where the switch was used
        assert page.locator("html").get_attribute("lang") == "de"
        assert page.locator("main h1").first.inner_text().startswith("Dokumente")
        page.locator("details.account summary").click()
        assert page.locator("#language-choice").input_value() == "de"
        shoot(page, "de-account-menu")
        # It is the person's: a new session in the same English browser is German too.
        again = sign_in(EDITOR, locale="en-US")
        assert again.locator("html").get_attribute("lang") == "de"
        assert again.locator("header nav").get_by_role("link", name="Dokumente").is_visible()
    finally:
        page.goto(portal.url("/documents/"))
        page.locator("details.account summary").click()
        page.select_option("#language-choice", "")
        with page.expect_navigation():
            page.locator(".language-switch button").click()
    assert page.locator("html").get_attribute("lang") == "en"


def test_an_upload_a_proxy_refuses_says_so_in_german(sign_in, portal, tmp_path, shoot):
    # A reverse proxy in front of the portal refuses a file over its own limit with its
    # own HTML page (no JSON): the upload's line says what happened, in German.
    page = sign_in(EDITOR, **GERMAN)
    page.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    page.route(
        "**/documents/**",
        lambda route: (
            route.fulfill(status=413, content_type="text/html", body="<h1>413</h1>")
            if route.request.method == "POST"
            else route.fallback()
        ),
    )
    upload = tmp_path / "gross.md"
    upload.write_text("# Groß\n\nZu groß für den Proxy.\n")
    page.set_input_files("#files", str(upload))
    result = page.locator(".upload-results li").first
    result.get_by_text("Das Hochladen ist fehlgeschlagen (HTTP 413).").wait_for()
    shoot(page, "de-upload-refused-by-proxy")
