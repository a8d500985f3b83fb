"""Rating an answer in a real browser: named buttons, and the vote given stays shown."""

from __future__ import annotations

import re

from tests.portal.conftest import OWNER, SLOW_MS


def test_feedback_buttons_are_named_and_show_the_vote_given(
    sign_in, portal, indexed_document, shoot
):
    """Issue 16: 👍/👎 were emoji-only buttons (empty boxes without an emoji font) with no
    accessible name, and after voting the page did not show which vote was given."""
    page = sign_in(OWNER)
    page.goto(portal.url(f"/ask/?workspace={portal.workspace}"))
    page.fill("#question", "What is the nightly hotel limit?")
    page.click("form.ask button[type=submit]")
    page.wait_for_url(re.compile(r"conversation=\d+"), timeout=SLOW_MS)
    card = page.locator("section.answer[id^=question-]").last
    helpful = card.get_by_role("button", name="Helpful", exact=True)
    unhelpful = card.get_by_role("button", name="Not helpful", exact=True)
    helpful.wait_for()
    # Words, not emoji: they render with any font.
    assert helpful.inner_text().strip() == "Helpful"
    assert unhelpful.inner_text().strip() == "Not helpful"
    assert helpful.get_attribute("aria-pressed") == "false"
    assert unhelpful.get_attribute("aria-pressed") == "false"

    card.get_by_label("Comment").fill("Misses the limit abroad")
    with page.expect_navigation():
        unhelpful.click()
    card = page.locator("section.answer[id^=question-]").last
    for _ in range(2):  # after voting, and after a reload
        unhelpful = card.get_by_role("button", name="Not helpful", exact=True)
        helpful = card.get_by_role("button", name="Helpful", exact=True)
        assert unhelpful.get_attribute("aria-pressed") == "true"
        assert helpful.get_attribute("aria-pressed") == "false"
        assert card.get_by_text("You rated this answer not helpful.").is_visible()
        pressed_colour = unhelpful.evaluate("b => getComputedStyle(b).backgroundColor")
        assert pressed_colour != helpful.evaluate("b => getComputedStyle(b).backgroundColor")
        page.reload()
    shoot(page, "ask-feedback-given")

    # The admins' review of unhelpful answers says so in words, not with an emoji.
    ask_url = page.url
    page.goto(portal.url(f"/ask/review?workspace={portal.workspace}"))
    verdict = page.locator("article.review li").filter(has_text="Misses the limit abroad")
    assert verdict.inner_text() == "Not helpful: Misses the limit abroad"
    shoot(page, "ask-review")
    page.goto(ask_url)
    card = page.locator("section.answer[id^=question-]").last

    with page.expect_navigation():
        card.get_by_role("button", name="Helpful", exact=True).click()
    card = page.locator("section.answer[id^=question-]").last
    assert (
        card.get_by_role("button", name="Helpful", exact=True).get_attribute("aria-pressed")
        == "true"
    )
    assert (
        card.get_by_role("button", name="Not helpful", exact=True).get_attribute("aria-pressed")
        == "false"
    )
    assert card.get_by_text("You rated this answer helpful.").is_visible()
