"""The document readers box: validated against members and groups, with a picker."""

from __future__ import annotations

import re

from tests.portal.conftest import EDITOR, OWNER, axe_violations


def test_the_readers_box_completes_names_and_refuses_unknown_readers(
    sign_in, portal, indexed_document, shoot
):
    """Issue 16: "finance team" silently became two groups that do not exist, and an
    outside email was accepted, hiding the document from everyone."""
    page = sign_in(OWNER)
    # A group of the organization, made where the owner makes groups.
    page.goto(portal.url(f"/groups/?workspace={portal.workspace}"))
    if page.get_by_text("Finance team").count() == 0:
        page.get_by_label("Name", exact=True).fill("Finance team")
        page.get_by_role("button", name="Create group").click()
        page.get_by_text("Finance team").first.wait_for()

    page.goto(portal.url(f"/documents/?workspace={portal.workspace}"))
    page.get_by_role("link", name=re.compile("travel", re.I)).first.click()
    page.wait_for_url(re.compile(r"/documents/\d+/"))
    document_url = page.url
    box = page.get_by_label("Readers", exact=True)
    box.fill("")
    # The picker completes over the workspace's members and groups.
    options = page.locator("#reader-choices option")
    labels = [options.nth(i).get_attribute("label") for i in range(options.count())]
    assert "Group · Finance team" in labels, labels
    assert any(label.startswith("Person · ") and EDITOR in label for label in labels), labels
    picker = page.get_by_label("Add a member or a group")
    picker.fill("Finance team")
    page.get_by_role("button", name="Add", exact=True).click()
    picker.fill(EDITOR)
    picker.press("Enter")
    assert box.input_value() == f"Finance team\n{EDITOR}"
    readers = page.locator(".reader-list li")
    assert readers.all_inner_texts() == ["Group Finance team", f"Person {EDITOR}"]

    # Typed by hand: a group's name is matched whatever its case; a group that does not
    # exist and an outside email are marked before saving...
    box.fill(f"finance team\nFinance\nout@elsewhere.example\n{EDITOR}")
    assert page.locator(".reader-list .reader-group").count() == 1
    assert page.locator(".reader-list .reader-unknown").count() == 2
    assert "2 not known" in page.locator("#reader-summary").inner_text()
    shoot(page, "document-readers-picker")
    # ... and refused by the server, each by name, with nothing saved.
    page.get_by_role("button", name="Save readers").click()
    page.wait_for_url(document_url)
    error = page.locator(".messages li").filter(has_text="Nothing was saved")
    error.first.wait_for()
    text = error.first.inner_text()
    assert "'out@elsewhere.example' is not a member of this organization" in text
    assert "'Finance' is not a group of this organization" in text
    assert EDITOR not in text
    assert page.locator(".reader-list li").count() == 0  # still every member
    assert "Every member of the workspace" in page.locator("#reader-summary").inner_text()

    box.fill(f"Finance team\n{EDITOR}")
    page.get_by_role("button", name="Save readers").click()
    page.wait_for_url(document_url)
    saved = page.get_by_text("Readers saved:")
    saved.wait_for()
    assert f"Finance team (group), {EDITOR} (person)" in saved.inner_text()
    assert page.locator(".reader-list li").all_inner_texts() == [
        "Group Finance team",
        f"Person {EDITOR}",
    ]
    assert axe_violations(page) == []
    shoot(page, "document-readers-saved")

    # Back to every member, so other tests read the document as before.
    box.fill("")
    page.get_by_role("button", name="Save readers").click()
    page.get_by_text("every member of the workspace").first.wait_for()
