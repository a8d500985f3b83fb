"""The ask page in a real browser: questions, follow-ups, citations."""

from __future__ import annotations

import re

from tests.portal.conftest import OWNER, SLOW_MS


def _ask(page, question: str) -> None:
    page.fill("#question", question)
    page.click("form.ask button[type=submit]")


def test_a_follow_up_shows_the_finished_answer_with_its_tools(
    sign_in, portal, indexed_document, shoot
):
    """Issue 16: a follow-up in an existing conversation left a temporary card (no
    feedback, copy or regenerate, no confidence) and the question in the box."""
    page = sign_in(OWNER)
    page.goto(portal.url(f"/ask/?workspace={portal.workspace}"))
    _ask(page, "How much is the per diem for a trip abroad?")
    page.wait_for_url(re.compile(r"conversation=\d+"), timeout=SLOW_MS)
    page.locator("section.answer form.feedback").first.wait_for()

    _ask(page, "And what is the nightly hotel limit?")
    follow_up = page.locator("section.answer[id^=question-]").filter(
        has_text="And what is the nightly hotel limit?"
    )
    follow_up.locator("form.feedback").wait_for(timeout=SLOW_MS)
    assert follow_up.locator(".confidence").count() == 1
    assert follow_up.get_by_role("button", name="Regenerate").count() == 1
    assert page.locator("#live-answer").is_hidden()
    assert page.input_value("#question") == ""
    assert page.locator("section.answer[id^=question-]").count() == 2
    shoot(page, "ask-follow-up")
