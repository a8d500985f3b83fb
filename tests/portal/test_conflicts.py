"""Conflicting sources on the ask page and in the admins' list, in a real browser."""

from __future__ import annotations

import re

from tests.portal.conftest import OWNER, SLOW_MS, db_in_thread

# Two versions of one rule that disagree. Their words stay away from the travel policy
# the other tests ask about, so that no other answer cites them.
PARKING_OLD = b"""# Visitor Parking Rules 2023

Visitors pay a parking fee of EUR 8 for each started day in the garage.
"""
PARKING_NEW = b"""# Visitor Parking Rules 2024

Visitors pay a parking fee of EUR 10 for each started day in the garage.
"""


def _parking_erase(org_schema: str) -> None:
    """The two parking rules leave the shared portal workspace (the document browser's
    test counts and sorts what is there)."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from ingestion.erasure import documents_erase
    from ingestion.models import Document
    from workspaces.rls import organization_scope

    try:
        with schema_context(org_schema), organization_scope():
            documents_erase(
                documents=Document.objects.filter(original_filename__startswith="parking-")
            )
    finally:
        connection.close()


def test_an_answer_from_disagreeing_documents_shows_both_side_by_side(
    sign_in, portal, portal_org, django_db_blocker, tmp_path, shoot
):
    try:
        _conflict_shown(sign_in, portal, tmp_path, shoot)
    finally:
        db_in_thread(django_db_blocker, _parking_erase, portal_org[0].schema)


def _conflict_shown(sign_in, portal, tmp_path, shoot) -> None:
    files = []
    for name, body in (("parking-2023.md", PARKING_OLD), ("parking-2024.md", PARKING_NEW)):
        path = tmp_path / name
        path.write_bytes(body)
        files.append(str(path))
    page = sign_in(OWNER)
    page.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    page.set_input_files("#files", files)
    page.locator(".upload-results").get_by_text("Indexed").nth(1).wait_for(timeout=SLOW_MS)

    page.goto(portal.url(f"/ask/?workspace={portal.workspace}"))
    page.fill("#question", "What parking fee do visitors pay in the garage?")
    page.click("form.ask button[type=submit]")
    page.wait_for_url(re.compile(r"conversation=\d+"), timeout=SLOW_MS)
    card = page.locator("section.answer[id^=question-]").last
    notice = card.locator(".conflict")
    notice.wait_for()
    assert "The sources disagree" in notice.inner_text()
    sides = notice.locator(".conflict-side")
    assert sides.count() == 2
    texts = sorted(sides.nth(i).inner_text() for i in range(2))
    assert "EUR 10" in texts[0] or "EUR 10" in texts[1]
    assert any("EUR 8" in text for text in texts)
    # Side by side at desktop width: the two statements share a row.
    first, second = sides.nth(0).bounding_box(), sides.nth(1).bounding_box()
    assert abs(first["y"] - second["y"]) < 2
    assert second["x"] > first["x"]
    shoot(page, "ask-conflicting-sources")

    page.goto(portal.url(f"/ask/conflicts?workspace={portal.workspace}"))
    report = page.locator("article.conflict-report").first
    report.wait_for()
    assert "Visitor Parking Rules 2023" in report.inner_text()
    assert "Visitor Parking Rules 2024" in report.inner_text()
    shoot(page, "ask-conflicts-list")
