"""Times are shown in the reader's own time zone and words, not as UTC or ISO strings."""

from __future__ import annotations

import re

from tests.portal.conftest import OWNER

ISO_DATE = re.compile(r"\d{4}-\d\d-\d\d")


def test_lists_show_local_human_times(sign_in, portal, indexed_document):
    """Issue 16: raw ISO timestamps (in UTC, without saying so)."""
    page = sign_in(OWNER, timezone_id="Europe/Berlin", locale="en-GB")
    for path in ("/documents/", "/accounts/members/", "/accounts/audit/"):
        page.goto(portal.url(f"{path}?workspace={portal.workspace}"))
        times = page.locator("main time[datetime]")
        assert times.count(), path
        for time in times.all()[:5]:
            text = time.inner_text()
            assert not ISO_DATE.search(text), (path, text)
            assert "UTC" not in text, (path, text)
            # The full local date and time on hover, in the reader's zone (CET/CEST).
            assert re.search(r"(CET|CEST|GMT\+[12]|Central European)", time.get_attribute("title"))
