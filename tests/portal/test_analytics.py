"""The analytics dashboard in a real browser: an owner sees charts of a month of
questions, each with its table and CSV; a viewer gets the 403 page."""

from __future__ import annotations

import datetime as dt
import re
import threading
from pathlib import Path

import pytest

from tests.portal.conftest import (
    EDITOR,
    OWNER,
    SLOW_MS,
    VIEWER,
    contrast_failures,
    db_in_thread,
)

# Three things people ask, each in its own words, and one nobody could answer.
ASKED = [
    ("How many vacation days do I get per year?", "llm"),
    ("What is my annual leave allowance?", "llm"),
    ("What is the hotel limit per night on business trips?", "extractive"),
    ("How do I reset my VPN password?", "no_answer"),
    ("I forgot my VPN password, how can I change it?", "no_answer"),
]


def _seed(org_schema: str, days: int = 30) -> None:
    """A month of questions (none on Sundays) by three people, committed."""
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from accounts.models import User
    from search.models import Feedback, Question
    from workspaces.models import Workspace
    from workspaces.rls import organization_scope

    try:
        with schema_context(org_schema), organization_scope():
            general = Workspace.objects.get(is_default=True)
            people = list(User.objects.filter(email__in=(OWNER, EDITOR, VIEWER)).order_by("email"))
            today = timezone.now().replace(hour=10, minute=0, second=0, microsecond=0)
            for back in range(days):
                day = today - dt.timedelta(days=back)
                if day.weekday() == 6:
                    continue
                for i in range(1 + (back * 7) % 5):
                    text, mode = ASKED[(back + i) % len(ASKED)]
                    question = Question.objects.create(
                        workspace=general,
                        asked_by=people[(back + i) % len(people)],
                        text=text,
                        answer="…",
                        mode=mode,
                        confidence=0.1 if mode == "no_answer" else 0.8,
                        latency_ms=400 + 150 * ((back * 3 + i) % 7),
                        prompt_tokens=600 if mode == "llm" else 0,
                        completion_tokens=120 if mode == "llm" else 0,
                        cost_usd="0.0009" if mode == "llm" else "0",
                        channel="api" if i % 3 == 2 else "portal",
                    )
                    Question.objects.filter(pk=question.pk).update(
                        created_at=day + dt.timedelta(minutes=17 * i)
                    )
                    if (back + i) % 4 == 0:
                        Feedback.objects.create(
                            question=question, user=question.asked_by, helpful=mode != "no_answer"
                        )
    finally:
        connection.close()


@pytest.fixture(scope="package")
def analytics_history(portal_org, django_db_blocker) -> None:
    """Seeded in a thread of its own: the browser's event loop may already run in this
    one, where Django refuses database access (tests/portal/conftest.py)."""
    org, _ = portal_org
    failures: list[BaseException] = []

    def run() -> None:
        try:
            _seed(org.schema)
        except BaseException as error:  # re-raised in the test's thread
            failures.append(error)

    with django_db_blocker.unblock():
        worker = threading.Thread(target=run)
        worker.start()
        worker.join()
    if failures:
        raise failures[0]


def test_the_owner_sees_the_month_in_charts(analytics_history, sign_in, portal, shoot):
    page = sign_in(OWNER)
    page.goto(portal.url(f"/analytics/?workspace={portal.workspace}&days=30"))
    assert page.get_by_role("heading", name="Analytics", level=1).is_visible()
    assert int(page.locator("#total-questions").inner_text()) > 30
    charts = page.locator("figure.analytics-chart svg")
    assert charts.count() == 7
    assert page.locator("#chart-questions rect").count() == 30  # one bar a day, zeros too
    # Each chart has its table and a CSV link.
    table = page.locator("#chart-latency details")
    table.locator("summary").click()
    assert table.locator("tbody tr").count() == 30
    with page.expect_download() as download:
        page.locator("#chart-questions a.csv").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0] == "Day,Questions"
    assert len(lines) == 31
    assert contrast_failures(page) == []
    shoot(page, "analytics-dashboard")

    page.get_by_role("link", name="Top questions").click()
    page.locator(".analytics-group").first.wait_for(timeout=SLOW_MS)
    groups = page.locator(".analytics-group h3").all_inner_texts()
    # The paraphrases of leave and of the VPN each make one group.
    assert sum("vacation" in g or "annual leave" in g for g in groups) == 1
    assert sum("VPN" in g for g in groups) == 1
    shoot(page, "analytics-questions")

    page.get_by_role("link", name="Knowledge gaps").click()
    first = page.locator(".analytics-group").first
    assert "VPN" in first.locator("h3").inner_text()
    first.get_by_role("button", name="Mark resolved").click()
    page.wait_for_url("**/analytics/gaps/**")
    assert "Marked resolved" in page.locator(".messages").inner_text()
    assert "Resolved" in page.locator(".analytics-group").last.inner_text()
    assert contrast_failures(page) == []
    shoot(page, "analytics-gaps")

    page.locator(".analytics-tabs").get_by_role("link", name="Documents").click()
    assert page.get_by_role("heading", name="Documents that carry the load").is_visible()
    assert contrast_failures(page) == []
    shoot(page, "analytics-documents")

    # The dark theme keeps the charts' text readable too.
    page.emulate_media(color_scheme="dark")
    page.get_by_role("link", name="Usage").click()
    page.locator("#chart-questions svg").wait_for()
    assert contrast_failures(page) == []
    shoot(page, "analytics-dashboard-dark")


def test_a_viewer_gets_the_403_page(analytics_history, sign_in, portal):
    page = sign_in(VIEWER)
    response = page.goto(portal.url(f"/analytics/?workspace={portal.workspace}"))
    assert response.status == 403
    assert (
        "analytics" not in page.locator("main").inner_text().lower() or page.locator("h1").count()
    )


def _seed_quality_history(org_schema: str, days: int = 14) -> None:
    """Nightly runs of the last ``days`` days in which every golden question of the
    workspace was found first and answered as expected, committed."""
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from analytics.models import GoldenQuestion, GoldenRun
    from workspaces.models import Workspace
    from workspaces.rls import organization_scope

    try:
        with schema_context(org_schema), organization_scope():
            general = Workspace.objects.get(is_default=True)
            goldens = list(GoldenQuestion.objects.filter(workspace=general))
            now = timezone.now().replace(hour=4, minute=30, second=0, microsecond=0)
            for back in range(days, 0, -1):
                at = now - dt.timedelta(days=back)
                ndcg = 1.0 if back % 3 else 0.8
                run = GoldenRun.objects.create(
                    workspace=general,
                    trigger="schedule",
                    status="done",
                    started_at=at,
                    finished_at=at,
                    total=len(goldens),
                    done=len(goldens),
                    ndcg=ndcg,
                    recall=1.0,
                    correct=1.0,
                    model="extractive",
                    documents_indexed=1,
                    results=[
                        {
                            "golden": g.pk,
                            "ndcg": ndcg if g.documents else None,
                            "recall": 1.0 if g.documents else None,
                            "answered": g.expect_answer,
                            "correct": True,
                            "found": g.documents,
                        }
                        for g in goldens
                    ],
                )
                GoldenRun.objects.filter(pk=run.pk).update(created_at=at)
    finally:
        connection.close()


def test_the_answer_quality_dashboard(
    portal_org, indexed_document, sign_in, portal, shoot, django_db_blocker
):
    page = sign_in(OWNER)
    # One click on an answer makes it a golden question (its text, the cited document).
    page.goto(portal.url(f"/ask/?workspace={portal.workspace}"))
    page.locator("#question").fill("What is the nightly hotel limit?")
    page.click("form.ask button[type=submit]")
    page.wait_for_url(re.compile(r"conversation=\d+"), timeout=SLOW_MS)
    page.locator("section.answer form.feedback").first.wait_for()
    page.get_by_role("button", name="Add as golden question").click()
    page.wait_for_url(re.compile(r"conversation=\d+"))
    assert "Added to the golden questions" in page.locator(".messages").inner_text()

    # A question typed on the quality page, expected "not in the documents".
    page.goto(portal.url(f"/analytics/quality/?workspace={portal.workspace}&days=30"))
    assert page.get_by_role("heading", name="Answer quality", level=1).is_visible()
    page.locator("#golden-text").fill("What is the per diem for a trip abroad?")
    page.get_by_label("The right answer is").check()
    page.get_by_role("button", name="Add", exact=True).click()
    assert page.locator("#golden-list > li").count() == 2
    assert "Travel policy" in page.locator("#golden-list > li").first.inner_text()

    # Two weeks in which both were answered as expected; then a document now answers the
    # second one: the run started here finds a drop.
    org, _ = portal_org
    db_in_thread(django_db_blocker, _seed_quality_history, org.schema)
    page.reload()
    page.get_by_role("button", name="Run now").click()
    assert page.locator("#run-progress").is_visible()
    page.locator("#quality-drop").wait_for(timeout=SLOW_MS)  # the page reloads itself
    banner = page.locator("#quality-drop").inner_text()
    assert "correct answer/no answer 100% → 50%" in banner
    assert page.locator("#last-ndcg").inner_text() == "1.00"
    assert page.locator("#last-correct").inner_text() == "50%"
    assert page.locator("#chart-quality svg circle").count() >= 15 * 2
    first = page.locator("#golden-list > li").first.inner_text()
    assert "as expected" in first
    assert "not as expected" in page.locator("#golden-list > li").last.inner_text()
    assert page.locator("#runs tbody tr").count() == 15
    assert contrast_failures(page) == []
    shoot(page, "analytics-quality")

    page.emulate_media(color_scheme="dark")
    page.reload()
    assert contrast_failures(page) == []
    shoot(page, "analytics-quality-dark")


def test_a_viewer_sees_no_answer_quality(analytics_history, sign_in, portal):
    page = sign_in(VIEWER)
    response = page.goto(portal.url(f"/analytics/quality/?workspace={portal.workspace}"))
    assert response.status == 403
    page.goto(portal.url(f"/ask/?workspace={portal.workspace}"))
    assert page.get_by_role("button", name="Add as golden question").count() == 0
