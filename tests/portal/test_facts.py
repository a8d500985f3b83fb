"""Facts in the answer on the ask page, in a real browser: a range question shows the
matching entities as a small table, each fact linked to the passage it was read from."""

from __future__ import annotations

import re

from tests.portal.conftest import OWNER, SLOW_MS, db_in_thread

# Two short entity pages; their words stay away from what the other tests ask about.
KETTLES = {
    "kettle-aurora.md": b"# Aurora Kettle\n\nThe Aurora is an electric kettle.\n\n"
    b"- **Weight:** 640 g\n- **Capacity:** 1.5 l\n- **Price:** 39 EUR\n",
    "kettle-boreal.md": b"# Boreal Kettle\n\nThe Boreal is an electric kettle.\n\n"
    b"- **Weight:** 1.1 kg\n- **Capacity:** 1.7 l\n- **Price:** 59 EUR\n",
}


def _kettles_erase(org_schema: str) -> None:
    """The kettle pages leave the shared portal workspace (other tests count it)."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from ingestion.erasure import documents_erase
    from ingestion.models import Document
    from workspaces.rls import organization_scope

    try:
        with schema_context(org_schema), organization_scope():
            documents_erase(
                documents=Document.objects.filter(original_filename__startswith="kettle-")
            )
    finally:
        connection.close()


def test_a_range_question_shows_the_matching_facts_with_their_passages(
    sign_in, portal, portal_org, django_db_blocker, tmp_path, shoot
):
    try:
        _facts_shown(sign_in, portal, tmp_path, shoot)
    finally:
        db_in_thread(django_db_blocker, _kettles_erase, portal_org[0].schema)


def _facts_shown(sign_in, portal, tmp_path, shoot) -> None:
    files = []
    for name, body in KETTLES.items():
        path = tmp_path / name
        path.write_bytes(body)
        files.append(str(path))
    page = sign_in(OWNER)
    page.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    page.set_input_files("#files", files)
    page.locator(".upload-results").get_by_text("Indexed").nth(1).wait_for(timeout=SLOW_MS)

    page.goto(portal.url(f"/ask/?workspace={portal.workspace}"))
    page.fill("#question", "Which kettles are lighter than 800 g?")
    page.click("form.ask button[type=submit]")
    page.wait_for_url(re.compile(r"conversation=\d+"), timeout=SLOW_MS)
    card = page.locator("section.answer[id^=question-]").last
    table = card.locator(".facts table")
    table.wait_for()
    assert "Matching facts" in card.locator(".facts").inner_text()
    rows = table.locator("tbody tr")
    assert rows.count() == 1
    row = rows.first.inner_text()
    assert "Aurora Kettle" in row
    assert "640 g" in row
    assert "Boreal" not in table.inner_text()
    if "do not answer" in card.locator(".answer-text").inner_text():
        assert "these facts from your documents satisfy" in card.locator(".facts").inner_text()
    shoot(page, "ask-facts")

    # The fact's link opens the document at its passage, like a citation.
    link = rows.first.locator("a", has_text="640 g")
    href = link.get_attribute("href")
    assert re.fullmatch(r"/documents/\d+/#chunk-\d+", href)
    link.click()
    page.wait_for_url(re.compile(r"/documents/\d+/"), timeout=SLOW_MS)
    chunk = href.split("#", 1)[1]
    assert page.locator(f"#{chunk}").count() == 1
    assert "640 g" in page.locator(f"#{chunk}").inner_text()
