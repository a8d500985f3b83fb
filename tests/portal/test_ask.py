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


def test_citation_markers_link_to_their_source_and_show_the_passage(
    sign_in, portal, indexed_document, shoot
):
    """Issue 16: the [n] markers of an answer were plain text."""
    page = sign_in(OWNER)
    page.goto(portal.url(f"/ask/?workspace={portal.workspace}"))
    _ask(page, "What is the per diem abroad?")
    page.wait_for_url(re.compile(r"conversation=\d+"), timeout=SLOW_MS)
    card = page.locator("section.answer[id^=question-]").last
    marker = card.locator(".answer-text a.cite").first
    marker.wait_for()
    assert marker.inner_text().startswith("[1]")
    passage = marker.locator(".cite-passage")
    assert passage.is_hidden()

    marker.hover()
    assert passage.is_visible()
    assert "42 euros" in passage.inner_text()
    shoot(page, "ask-citation-hover")

    page.mouse.move(0, 0)
    assert passage.is_hidden()
    marker.focus()
    assert passage.is_visible()

    marker.click()
    source = card.locator("ol.sources > li").first
    assert page.url.endswith("#" + source.get_attribute("id"))
    assert "42 euros" in source.inner_text()
