"""A running sync in the browser: true progress from the start, items done, time left;
and every problem the server finds in a submit, shown at once."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.portal.conftest import OWNER, SLOW_MS, axe_violations

FILES = 4


class _GatedFiles(SimpleHTTPRequestHandler):
    """A directory listing; the first file is served at once, the others once ``gate`` is
    open, so the sync stays running after one item for as long as the test looks."""

    gate: threading.Event
    served: list[str]

    def do_GET(self) -> None:
        if self.path.endswith(".md"):
            self.served.append(self.path)
            if len(self.served) > 1:
                self.gate.wait(timeout=SLOW_MS / 1000)
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def gated_share(tmp_path) -> Iterator[tuple[str, threading.Event]]:
    folder = tmp_path / "policies"
    folder.mkdir()
    for n in range(FILES):
        (folder / f"policy-{n}.md").write_text(f"# Policy {n}\n\nRule number {n} applies.\n")
    gate = threading.Event()
    handler = type("Handler", (_GatedFiles,), {"gate": gate, "served": []})
    httpd = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(tmp_path))
    )
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/policies/", gate
    finally:
        gate.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_a_first_sync_shows_true_progress_and_the_time_left(sign_in, portal, gated_share, shoot):
    """Issue 16: a first sync showed 99% from the start (its total was set only when it
    ended), with no idea of how long it would take; a submit showed one problem at a time."""
    url, gate = gated_share
    page = sign_in(OWNER)
    page.goto(portal.url(f"/sources/new?workspace={portal.workspace}&kind=web"))
    page.fill("#name", "Gated share")
    page.fill("#paths", url)
    # Problems only the server finds (a cron field out of range, too many patterns):
    # all of them come back from one submit.
    page.get_by_label("How often").select_option(label="Custom (cron expression)")
    page.fill("#schedule", "99 * * * *")
    page.fill("#exclude_globs", "\n".join(f"*.tmp{n}" for n in range(51)))
    with page.expect_navigation():
        page.get_by_role("button", name="Add source").click()
    summary = page.locator(".error-summary")
    assert summary.locator("li").count() == 2, summary.inner_text()
    assert summary.locator("a[href='#schedule']").count() == 1
    assert summary.locator("a[href='#exclude_globs']").count() == 1
    shoot(page, "source-new-server-problems")

    page.fill("#exclude_globs", "")
    page.get_by_label("How often").select_option(label="Every hour")
    page.get_by_role("button", name="Add source").click()
    page.wait_for_url(re.compile(r"/sources/\?workspace="))
    row = page.locator("table.sources-table tr", has_text="Gated share")
    row.get_by_role("button", name="Sync now").click()
    page.wait_for_url(re.compile(r"/sources/\?workspace="))

    # One item of four is in; the sync waits for the others. The bar says 25%, not 99%.
    row = page.locator("table.sources-table tr", has_text="Gated share")
    eta = row.locator(".run-eta")
    eta.filter(has_text=f"1 of {FILES} items").wait_for(timeout=SLOW_MS)
    bar = row.locator("progress")
    assert bar.is_visible()
    assert bar.get_attribute("value") == "25"
    assert re.search(r"(about \d+ (h|min)|less than a minute)", eta.inner_text()), eta.inner_text()
    # The live refresh counts the source's documents in a sentence ("1 document").
    counted = re.match(r"(\d+) (documents?)", row.locator(".indexing").inner_text())
    assert counted, row.locator(".indexing").inner_text()
    assert counted[2] == ("document" if counted[1] == "1" else "documents")
    assert axe_violations(page) == []
    shoot(page, "sources-running-sync")

    gate.set()
    row.locator(".run-status.status-succeeded").wait_for(timeout=SLOW_MS)
    assert bar.is_hidden()
    assert eta.is_hidden()
    assert f"{FILES} seen" in row.locator(".counts").inner_text()

    # Remove the source and its documents, so other tests see the workspace as before.
    row.get_by_role("link", name="Gated share").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=re.compile("Delete source")).click()
    page.wait_for_url(re.compile(r"/sources/\?workspace="))
