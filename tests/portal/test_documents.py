"""The documents page: find, filter and sort the list; when each was indexed."""

from __future__ import annotations

from tests.portal.conftest import OWNER, SLOW_MS

# Unrelated to the travel policy the other tests ask about.
EXTRA = {
    "garden-rota.txt": b"Garden rota\n\nThe plants on the third floor are watered on Mondays.\n",
    "zebra-crossing-notes.md": b"# Zebra crossing notes\n\nThe crossing at the north gate.\n",
}


def _titles(page) -> list[str]:
    return page.locator("table.documents tbody tr:visible td:first-child").all_inner_texts()


def test_documents_are_found_filtered_and_sorted(
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
    assert page.locator("[data-doc-count]").inner_text() == "3 documents"
    page.get_by_role("searchbox").fill("rota")
    assert _titles(page) == ["Garden rota"]
    assert page.locator("[data-doc-count]").inner_text() == "1 of 3 documents shown"
    page.get_by_role("searchbox").fill("")
    page.get_by_label("Type").select_option("md")
    assert sorted(_titles(page)) == ["Travel policy", "Zebra crossing notes"]
    page.get_by_label("Status").select_option("failed")
    assert _titles(page) == []
    assert page.get_by_text("No document matches").is_visible()
    page.get_by_role("button", name="Show all").click()
    assert len(_titles(page)) == 3

    title = page.locator("table.documents th", has_text="Title")
    title.get_by_role("button").click()
    assert title.get_attribute("aria-sort") == "ascending"
    assert _titles(page) == ["Garden rota", "Travel policy", "Zebra crossing notes"]
    title.get_by_role("button").click()
    assert title.get_attribute("aria-sort") == "descending"
    assert _titles(page) == ["Zebra crossing notes", "Travel policy", "Garden rota"]
    # Each row says when it was indexed, in the reader's words.
    indexed = page.locator("table.documents tbody tr td:last-child time")
    assert indexed.count() == 3
    shoot(page, "documents-filtered-sorted")
