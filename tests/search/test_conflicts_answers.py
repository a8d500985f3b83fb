"""Conflicting sources in real answers: the API field, the ask page, the admins' list."""

from __future__ import annotations

import pytest

OLD = b"""# Travel Policy 2023

## Per diem

Employees receive a per diem of EUR 65 for trips abroad.
"""
NEW = b"""# Travel Policy 2024

## Per diem

Employees receive a per diem of EUR 70 for trips abroad.
"""
QUESTION = "How much is the per diem for trips abroad?"


@pytest.fixture
def two_versions(acme, alice_api, upload_indexed):
    old = upload_indexed(alice_api, "travel-2023.md", OLD)["id"]
    new = upload_indexed(alice_api, "travel-2024.md", NEW)["id"]
    return old, new


def test_the_api_answer_names_the_conflict(two_versions, alice_api):
    body = alice_api.post("/api/v1/ask", {"question": QUESTION}).json()

    assert "EUR 65" in body["answer"]
    assert "EUR 70" in body["answer"]
    [conflict] = body["conflicts"]
    assert conflict["kind"] == "amount"
    assert sorted(s["value"] for s in conflict["statements"]) == ["EUR 65", "EUR 70"]
    assert {s["document_id"] for s in conflict["statements"]} == set(two_versions)
    numbers = {c["number"] for c in body["citations"]}
    assert {s["number"] for s in conflict["statements"]} <= numbers


def test_agreeing_sources_have_no_conflict(acme, alice_api, upload_indexed):
    upload_indexed(alice_api, "travel-2023.md", OLD)
    upload_indexed(alice_api, "travel-copy.md", OLD.replace(b"2023", b"copy"))

    body = alice_api.post("/api/v1/ask", {"question": QUESTION}).json()

    assert body["conflicts"] == []


def test_the_ask_page_and_the_admins_list_show_the_conflict(two_versions, alice_portal):
    response = alice_portal.post("/ask/?workspace=general", {"question": QUESTION}, follow=True)
    page = response.content.decode()
    assert "The sources disagree" in page
    assert page.count('class="conflict-side"') == 2

    listing = alice_portal.get("/ask/conflicts?workspace=general").content.decode()
    assert "Travel Policy 2023" in listing
    assert "Travel Policy 2024" in listing
    assert "EUR 65" in listing
    assert "EUR 70" in listing
    assert QUESTION not in listing  # the list shows documents, not people's questions
