"""The portal by keyboard: a skip link first on every page, Enter sends a question."""

from __future__ import annotations

import re

import pytest

from tests.portal.conftest import DESKTOP, EDITOR, OWNER, SLOW_MS

FIRST_FOCUSABLE = """() => document.querySelector(
    'a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex="-1"])'
).textContent"""


def _skip_link_works(page, *, autofocus: bool = False) -> None:
    assert page.evaluate(FIRST_FOCUSABLE) == "Skip to content", page.url
    if autofocus:  # the sign-in form starts in its first field
        page.focus("a.skip-link")
    else:
        page.keyboard.press("Tab")
    focused = page.evaluate(
        "() => [document.activeElement.textContent, document.activeElement.className]"
    )
    assert focused == ["Skip to content", "skip-link"], page.url
    assert page.locator("a.skip-link").is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "content"
    assert page.evaluate("() => document.activeElement.tagName") == "MAIN"


@pytest.mark.parametrize(
    "path",
    [
        "/ask/?workspace={ws}",
        "/documents/?workspace={ws}",
        "/accounts/tokens/",
        "/documents/999999/",
    ],
)
def test_the_first_tab_offers_a_skip_link_to_the_content(sign_in, portal, shoot, path):
    """Issue 16: no skip link; keyboard users tabbed through a dozen top-bar links first."""
    # An editor: the owner on loopback is the developer, who gets Django's technical 404.
    page = sign_in(EDITOR)
    page.goto(portal.url(path.format(ws=portal.workspace)))
    _skip_link_works(page)
    if path.startswith("/ask/"):
        page.goto(portal.url(path.format(ws=portal.workspace)))
        page.keyboard.press("Tab")
        shoot(page, "skip-link-focused")


def test_the_sign_in_page_offers_a_skip_link(browser, portal):
    context = browser.new_context(viewport=DESKTOP)
    try:
        page = context.new_page()
        page.goto(portal.url("/accounts/login/"))
        _skip_link_works(page, autofocus=True)
    finally:
        context.close()


def test_enter_sends_the_question_and_shift_enter_starts_a_new_line(
    sign_in, portal, indexed_document, shoot
):
    """Issue 16: Enter did not send; only the Ask button did."""
    page = sign_in(OWNER)
    page.goto(portal.url(f"/ask/?workspace={portal.workspace}"))
    box = page.locator("#question")
    box.click()
    box.type("What is the per diem")
    box.press("Shift+Enter")
    box.type("abroad?")
    assert page.input_value("#question") == "What is the per diem\nabroad?"
    assert "conversation=" not in page.url
    shoot(page, "ask-keys-hint")

    box.press("Enter")
    page.wait_for_url(re.compile(r"conversation=\d+"), timeout=SLOW_MS)
    card = page.locator("section.answer[id^=question-]").last
    assert "per diem" in card.locator("h2.question").inner_text()
    assert "42 euros" in card.locator(".answer-text").inner_text()
    assert page.input_value("#question") == ""
