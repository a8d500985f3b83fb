"""Why a document failed, stored in English and shown in the reader's language
(``ingestion.indexing.reason_shown``): the parsers' fixed reasons and those with values."""

from __future__ import annotations

import re

import pytest
from django.utils import translation

from ingestion.indexing import reason_shown
from ingestion.models import Document, DocumentStatus
from ingestion.parsers import base, delimited, pdf

DAMAGED_DE = "Das PDF ist beschädigt und konnte nicht gelesen werden."


def test_a_damaged_pdf_says_why_in_german(acme, alice_api, alice_portal, upload_indexed):
    document_id = upload_indexed(alice_api, "broken.pdf", b"%PDF-1.7\n\x00\x01 not a pdf")["id"]
    document = Document.objects.get(pk=document_id)
    # Stored in English, whatever the uploader's language.
    assert (document.status, document.error_message) == (DocumentStatus.FAILED, pdf.DAMAGED)

    german = {"HTTP_ACCEPT_LANGUAGE": "de-DE"}
    polled = alice_portal.get("/documents/status", {"document": document_id}, **german).json()
    assert polled["documents"][0]["error_message"] == DAMAGED_DE
    assert DAMAGED_DE in alice_portal.get(f"/documents/{document_id}/", **german).content.decode()
    listed = alice_portal.get("/documents/", **german).content.decode()
    assert DAMAGED_DE in listed
    assert pdf.DAMAGED not in listed
    english = alice_portal.get("/documents/status", {"document": document_id}).json()
    assert english["documents"][0]["error_message"] == pdf.DAMAGED


def test_a_reason_with_values_is_translated_with_them(
    acme, alice_api, alice_portal, upload_indexed
):
    document_id = upload_indexed(alice_api, "notes.txt", b"%PDF-1.7\n\x00\x01 a pdf")["id"]
    reason = Document.objects.get(pk=document_id).error_message
    assert reason == "The file is named .txt but its content is a PDF, not text."
    page = alice_portal.get(f"/documents/{document_id}/", HTTP_ACCEPT_LANGUAGE="de").content
    assert (
        "Die Datei hat die Endung .txt, ihr Inhalt ist aber kein Text, sondern ein PDF."
        in page.decode()
    )


@pytest.mark.parametrize(
    ("reason", "german"),
    [
        (pdf.DAMAGED, DAMAGED_DE),
        (
            pdf.TOO_MANY_PAGES % {"pages": "2,001", "limit": "2,000"},
            "Das PDF hat 2.001 Seiten; unterstützt werden höchstens 2.000 Seiten.",
        ),
        (
            # The library's own words stay as they are.
            delimited.MALFORMED % {"error": "line contains NUL"},
            "Die CSV-Datei ist fehlerhaft (line contains NUL).",
        ),
        (
            "The file is damaged and could not be read as an Excel workbook (.xlsx).",
            "Die Datei ist beschädigt und konnte nicht als eine Excel-Arbeitsmappe (.xlsx) "
            "gelesen werden.",
        ),
        (
            # "is not text." is read as such, not as "is not %(description)s."
            "The file is named .csv but its content is not text.",
            "Die Datei hat die Endung .csv, ihr Inhalt ist aber kein Text.",
        ),
        ("Something nobody translated.", "Something nobody translated."),
        ("", ""),
    ],
)
def test_reason_shown_in_german(reason, german):
    with translation.override("de"):
        assert reason_shown(reason) == german
    with translation.override("en"):
        assert reason_shown(reason) == reason


def test_every_reason_template_has_german_with_the_same_values():
    placeholder = re.compile(r"%\(\w+\)s")
    with translation.override("de"):
        for msgid in base._REASON_TEMPLATES:
            german = translation.gettext(msgid)
            assert german != msgid, msgid
            assert sorted(placeholder.findall(german)) == sorted(placeholder.findall(msgid))
