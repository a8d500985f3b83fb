"""The document browser: search titles and text on the server, filter, sort and page with
the URL as the state; a document's preview under its headings and its original."""

from __future__ import annotations

import re

from tests.portal.conftest import OWNER, PHONE, SLOW_MS, axe_violations

# Unrelated to the travel policy the other tests ask about.
EXTRA = {
    "garden-rota.txt": b"Garden rota\n\nThe plants on the third floor are watered on Mondays.\n",
    "zebra-crossing-notes.md": b"# Zebra crossing notes\n\nThe crossing at the north gate.\n",
}


def _titles(page) -> list[str]:
    return page.locator("table.documents tbody td.doc-title > a").all_inner_texts()


def test_documents_are_searched_filtered_and_sorted_on_the_server(
    sign_in, portal, indexed_document, tmp_path, shoot
):
    page = sign_in(OWNER)
    page.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    paths = []
    for name, content in EXTRA.items():
        (tmp_path / name).write_bytes(content)
        paths.append(str(tmp_path / name))
    page.set_input_files("#files", paths)
    results = page.locator(".upload-results li")
    for index in range(len(paths)):
        results.nth(index).get_by_text("Indexed").wait_for(timeout=SLOW_MS)

    page.reload()
    assert page.locator(".doc-count").inner_text() == "3 documents"
    # A word of the text (not of any title), sent with Enter: the URL holds the search.
    page.get_by_label("Search titles and text").fill("watered")
    with page.expect_navigation():
        page.get_by_label("Search titles and text").press("Enter")
    assert "q=watered" in page.url
    assert _titles(page) == ["Garden rota"]
    assert page.locator(".doc-count").inner_text() == "1 of 3 documents match"
    assert page.locator("td.doc-title mark").inner_text() == "watered"
    shoot(page, "documents-search")

    page.get_by_role("link", name="Clear").click()
    page.get_by_label("Type").select_option("md")
    with page.expect_navigation():
        page.get_by_role("button", name="Show").click()
    assert sorted(_titles(page)) == ["Travel policy", "Zebra crossing notes"]
    page.get_by_label("Status").select_option("failed")
    with page.expect_navigation():
        page.get_by_role("button", name="Show").click()
    assert _titles(page) == []
    assert page.get_by_text("No document matches").is_visible()
    page.get_by_role("link", name="Show all").click()
    page.wait_for_url(re.compile(r"/documents/\?workspace="))
    assert len(_titles(page)) == 3

    title = page.locator("table.documents th", has_text="Title")
    title.get_by_role("link").click()
    page.wait_for_url(re.compile(r"sort=title"))
    assert title.get_attribute("aria-sort") == "ascending"
    assert _titles(page) == ["Garden rota", "Travel policy", "Zebra crossing notes"]
    title.get_by_role("link").click()
    page.wait_for_url(re.compile(r"sort=-title"))
    assert title.get_attribute("aria-sort") == "descending"
    assert _titles(page) == ["Zebra crossing notes", "Travel policy", "Garden rota"]
    # Each row says when it was indexed; a reload keeps the order (the URL is the state).
    page.reload()
    assert _titles(page) == ["Zebra crossing notes", "Travel policy", "Garden rota"]
    assert page.locator("table.documents tbody tr td:last-child time").count() == 3
    assert axe_violations(page) == []
    shoot(page, "documents-filtered-sorted")

    page.set_viewport_size(PHONE)
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert axe_violations(page) == []


def test_a_document_shows_its_text_under_its_headings_and_downloads(
    sign_in, portal, indexed_document, shoot
):
    page = sign_in(OWNER)
    page.goto(portal.url(f"/documents/?workspace={portal.workspace}&q=hotel"))
    page.locator("td.doc-title > a", has_text="Travel policy").click()
    page.wait_for_url(re.compile(r"/documents/\d+/$"))
    preview = page.locator("article.preview")
    assert preview.get_by_role("heading", name="Hotels", level=4).is_visible()
    assert preview.get_by_text("The nightly limit is 150 euros.").count() == 1
    assert "Last indexed" in page.locator("dl.metadata").inner_text()
    assert axe_violations(page) == []
    shoot(page, "document-preview")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download original").click()
    assert download.value.suggested_filename == "travel-policy.md"

    # A citation's link lands on its passage, highlighted.
    passage = preview.locator(".passage").first
    page.goto(page.url + "#" + passage.get_attribute("id"))
    assert passage.evaluate("e => getComputedStyle(e).outlineStyle") == "solid"
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
