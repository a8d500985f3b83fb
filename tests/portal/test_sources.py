"""The sources page: its empty state, a failed sync, local times, the danger button, errors."""

from __future__ import annotations

import re

from tests.portal.conftest import OWNER, SLOW_MS

# Nothing listens on the discard port: a sync of this folder fails at once.
UNREACHABLE = "http://127.0.0.1:9/policies/"


def _sources(page, portal) -> None:
    page.goto(portal.url(f"/sources/?workspace={portal.workspace}"))


def _contrast(locator) -> float:
    """The WCAG contrast ratio of the element's text against its own background."""
    return locator.evaluate(
        """e => {
          const rgb = c => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
          const lum = c => { const [r, g, b] = rgb(c).map(v => { v /= 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
            return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
          const s = getComputedStyle(e);
          const [a, b] = [lum(s.color), lum(s.backgroundColor)].sort((x, y) => y - x);
          return (a + 0.05) / (b + 0.05);
        }"""
    )


def test_a_source_from_the_empty_page_to_a_failed_sync_and_its_deletion(sign_in, portal, shoot):
    """Issue 16: the empty page said sources are added in the admin right under "Add a
    source"; a failed sync showed a full blue progress bar and raw ISO timestamps; "Delete
    source and its documents" was blue on red; a submit showed one problem at a time."""
    page = sign_in(OWNER, timezone_id="Europe/Berlin")
    _sources(page, portal)
    sources_card = page.locator("section.card").first
    text = sources_card.inner_text()
    assert "No sources yet" in text
    assert "admin" not in text.lower(), text  # one way to add a source, and it is here
    assert sources_card.get_by_role("link", name="Add a source").count() == 1
    shoot(page, "sources-empty")

    sources_card.get_by_role("link", name="Add a source").click()
    page.wait_for_url(re.compile(r"/sources/new"))
    kinds = page.locator("main p").filter(has_text="Kind:")
    if kinds.get_by_role("link", name="Web directory").count():
        kinds.get_by_role("link", name="Web directory").click()
        page.wait_for_url(re.compile(r"kind=web"))
    # Presets first, the cron expression is the advanced option; the next runs are shown
    # in the reader's time (cron runs in UTC: 03:00 UTC is 04:00 in Berlin in winter).
    how_often = page.get_by_label("How often")
    assert how_often.input_value() == "0 * * * *"
    assert page.locator("#schedule").is_hidden()
    how_often.select_option(label="Every day at 03:00 UTC")
    assert page.locator("#schedule").input_value() == "0 3 * * *"
    runs = page.locator("[data-next-runs] time")
    assert runs.count() == 3
    assert all(re.search(r"\b0?4:00\b", text) for text in runs.all_inner_texts())
    shoot(page, "source-new-schedule")

    # Every problem of a submit at once: no name, no http(s) address, no cron schedule.
    posts = []
    page.on("request", lambda request: posts.append(request) if request.method == "POST" else 0)
    page.fill("#paths", "files.example.com/policies/")
    how_often.select_option(label="Custom (cron expression)")
    page.fill("#schedule", "every hour")
    assert "Not a cron expression" in page.locator("[data-next-runs]").inner_text()
    page.get_by_role("button", name="Add source").click()
    summary = page.locator(".error-summary")
    summary.wait_for()
    assert summary.get_attribute("role") == "alert"
    assert summary.locator("li").count() == 3, summary.inner_text()
    for field in ("name", "paths", "schedule"):
        # Each problem leads to its field, which is marked invalid.
        assert summary.locator(f"a[href='#{field}']").count() == 1, field
        assert page.locator(f"#{field}").get_attribute("aria-invalid") == "true", field
    assert posts == []  # nothing was sent
    shoot(page, "source-new-problems")

    # What only the server can judge comes back from it, the same way.
    page.fill("#name", "Policies share")
    page.fill("#paths", UNREACHABLE)
    page.fill("#schedule", "99 * * * *")
    with page.expect_navigation():
        page.get_by_role("button", name="Add source").click()
    assert len(posts) == 1
    assert "cron" in summary.inner_text()
    assert summary.locator("a[href='#schedule']").count() == 1
    assert page.locator("#schedule").get_attribute("aria-invalid") == "true"
    assert page.locator("#name").input_value() == "Policies share"  # what was typed is kept
    shoot(page, "source-new-errors")

    assert page.locator("#schedule").is_visible()  # a schedule to correct stays open
    assert page.locator("[data-next-runs]").inner_text() == ""  # said once, by the server
    page.get_by_label("How often").select_option(label="Every hour")
    page.get_by_role("button", name="Add source").click()
    page.wait_for_url(re.compile(r"/sources/\?workspace="))
    row = page.locator("table.sources-table tr", has_text="Policies share")
    assert "No sources yet" not in page.locator("main").inner_text()
    row.get_by_role("button", name="Sync now").click()
    page.wait_for_url(re.compile(r"/sources/\?workspace="))

    # The page polls while the sync runs; it fails, as nothing answers at that address.
    row = page.locator("table.sources-table tr", has_text="Policies share")
    row.locator(".run-status.status-failed").wait_for(timeout=SLOW_MS)
    run = row.locator("td.run")
    assert run.locator("progress").is_hidden()  # no full progress bar for a failed sync
    reason = run.locator(".error-message")
    assert reason.is_visible()
    assert reason.inner_text().strip()
    assert _contrast(run.locator(".run-status")) >= 4.5
    # Times are the reader's local, human ones ("finished 3 seconds ago"), not ISO.
    when = run.locator(".run-when time")
    assert re.match(r"\d{4}-\d\d-\d\dT", when.get_attribute("datetime"))
    assert not re.search(r"\d{4}-\d\d-\d\d", when.inner_text()), when.inner_text()
    assert "ago" in when.inner_text() or "now" in when.inner_text(), when.inner_text()
    next_run = row.locator("time").last
    assert "UTC" not in next_run.inner_text()
    assert next_run.get_attribute("title")
    shoot(page, "sources-failed-sync")

    # The page as it loads (no polling) shows the same.
    _sources(page, portal)
    run = page.locator("table.sources-table tr", has_text="Policies share").locator("td.run")
    assert run.locator("progress").is_hidden()
    assert run.locator(".error-message").is_visible()

    page.get_by_role("link", name="Policies share").click()
    page.wait_for_url(re.compile(r"/sources/\d+/$"))
    started = page.locator("table time").first
    assert not started.inner_text().endswith("UTC"), started.inner_text()
    delete = page.get_by_role("button", name="Delete source and its documents")
    assert _contrast(delete) >= 4.5  # white on red, not blue on red
    shoot(page, "source-detail")
    page.once("dialog", lambda dialog: dialog.accept())
    delete.click()
    page.wait_for_url(re.compile(r"/sources/\?workspace="))
    assert "Deleted Policies share" in page.locator(".messages").inner_text()
    assert "No sources yet" in page.locator("main").inner_text()
