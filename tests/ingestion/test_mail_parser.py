"""Mail parsing: .eml and .mbox files as a mail program writes them, charsets and all."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion import parsers
from ingestion.parsers import ParseError, mail

MAIL = Path(__file__).resolve().parent.parent / "data" / "mail"
ROOMS_FILE = "japanese_iso2022jp.eml"


def _parse(name: str) -> parsers.ParsedDocument:
    return parsers.parse((MAIL / name).read_bytes(), filename=name)


def _text(document: parsers.ParsedDocument) -> str:
    return "\n\n".join(section.text for section in document.sections)


def test_multipart_message_prefers_plain_text_and_keeps_headers_as_metadata():
    document = _parse("fleet_policy_with_attachment.eml")

    assert document.title == "Fleet policy for the sales team"
    assert document.mime_type == "message/rfc822"
    text = _text(document)
    # Quoted-printable soft line breaks are joined; UTF-8 dash decoded.
    assert "full tank \u2013 the fuel card covers it." in text
    # The HTML alternative of the same body is not indexed a second time.
    assert "banana" not in text
    # Readers can find a message by who sent it and what it carried.
    assert "From: Alice Martin <alice@acme.example>" in text
    assert "Cc: Bob Stone <bob@acme.example>" in text
    assert "Attachments: fleet-policy.pdf, logo.png" in text
    # The attachment's own text is not part of the message (it is a document of its own).
    assert "15000 kilometres" not in text
    assert document.metadata == {
        "title": "Fleet policy for the sales team",
        "author": "Alice Martin <alice@acme.example>",
        "date": "2026-11-02T09:15:00+01:00",
        "to": "Sales Team <sales@acme.example>",
        "cc": "Bob Stone <bob@acme.example>",
        "message_id": "<fleet-1@acme.example>",
        "thread": "<fleet-1@acme.example>",
    }


def test_html_only_message_in_windows_1252_with_encoded_subject_and_sender():
    document = _parse("html_only_windows1252.eml")

    assert document.title == "Garage and caf\u00e9 \u2013 new rules"
    assert document.metadata["author"] == "Ren\u00e9e Dupont <renee@acme.example>"
    by_path = {section.heading_path: section.text for section in document.sections}
    # HTML turned into text by the HTML parser: its headings become the heading path.
    assert by_path[("Parking",)] == (
        "The garage opens at 7:00 \u2013 badges are checked at the gate.\n\n"
        "Caf\u00e9 vouchers cost 3 \u20ac."
    )
    assert "<p>" not in _text(document)


def test_iso_2022_jp_subject_and_body_are_decoded():
    document = _parse("japanese_iso2022jp.eml")

    assert document.title == "\u4f1a\u8b70\u5ba4\u306e\u4e88\u7d04"
    assert "\u4f1a\u8b70\u5ba4\u306e\u4e88\u7d04\u306f\u7dcf\u52d9\u90e8\u3078\u3002" in (
        _text(document)
    )


def test_lying_latin_1_is_read_as_windows_1252_and_reply_keeps_its_thread():
    document = _parse("reply_latin1_and_unknown_charset.eml")

    text = _text(document)
    assert "\u201cThanks\u201d \u2013 the na\u00efve question" in text
    assert "\x93" not in text
    assert document.metadata["in_reply_to"] == "<fleet-1@acme.example>"
    assert document.metadata["thread"] == "<fleet-1@acme.example>"
    assert "Attachments: notes.txt" in text


def test_a_body_in_an_unknown_charset_falls_back_to_utf8():
    data = (
        b"From: a@acme.example\r\nSubject: Menu\r\nContent-Type: text/plain; "
        b"charset=x-no-such-charset\r\n\r\nCr\xc3\xa8me br\xc3\xbbl\xc3\xa9e on Friday.\r\n"
    )
    document = parsers.parse(data, filename="menu.eml")
    assert "Cr\u00e8me br\u00fbl\u00e9e on Friday." in _text(document)


def test_base64_body_and_undeclared_8bit_header_are_readable():
    data = (
        b"From: J\xc3\xbcrgen <j@acme.example>\r\nSubject: Stra\xc3\x9fe closed\r\n"
        b"Date: not a date\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        b"VGhlIHJvYWQgdG8gdGhlIGRlcG90IGlzIGNsb3NlZCB1bnRpbCBNb25kYXku\r\n"
    )
    document = parsers.parse(data, filename="road.eml")
    assert document.title == "Stra\u00dfe closed"
    assert document.metadata["author"] == "J\u00fcrgen <j@acme.example>"
    assert document.metadata["date"] == "not a date"
    assert "The road to the depot is closed until Monday." in _text(document)


def test_a_message_saved_with_an_mbox_envelope_line_is_read():
    data = b"From alice@acme.example Mon Nov  2 09:15:00 2026\n" + (MAIL / ROOMS_FILE).read_bytes()
    document = parsers.parse(data, filename="saved.eml")
    assert document.title == "\u4f1a\u8b70\u5ba4\u306e\u4e88\u7d04"


def test_a_message_without_subject_takes_its_title_from_the_filename():
    data = b"From: a@acme.example\r\nTo: b@acme.example\r\n\r\nJust a note.\r\n"
    assert parsers.parse(data, filename="note 7.eml").title == "note 7"


def test_mbox_gives_each_message_a_section_headed_by_its_subject():
    document = _parse("kickoff.mbox")

    assert document.title == "kickoff"
    assert document.mime_type == "application/mbox"
    assert document.metadata == {"messages": "2"}
    by_path = {section.heading_path: section.text for section in document.sections}
    assert set(by_path) == {("Kickoff agenda",), ("Caf\u00e9 order",)}
    # ">From " quoting in the body is undone, and a quoted "From" never starts a message.
    assert "From the archive: last year it started at nine." in by_path[("Kickoff agenda",)]
    assert "Twelve cr\u00e8me br\u00fbl\u00e9es" in by_path[("Caf\u00e9 order",)]
    assert "From: Bob Stone <bob@acme.example>" in by_path[("Caf\u00e9 order",)]


def test_mail_is_recognised_by_content_when_the_name_has_no_extension():
    data = (MAIL / "japanese_iso2022jp.eml").read_bytes()
    assert parsers.detect_format(data, "message") == "eml"
    assert parsers.detect_format((MAIL / "kickoff.mbox").read_bytes(), "archive") == "mbox"
    assert parsers.detect_format(b"Just some words: nothing more.\n", "notes") == "txt"


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("letter.eml", b"Dear Sir,\n\nThis is not an e-mail file.\n"),
        ("archive.mbox", b"Subject: no From line first\n\nbody\n"),
    ],
)
def test_a_mail_file_that_is_not_mail_fails_with_a_reason(filename, data):
    with pytest.raises(ParseError, match="does not start with"):
        parsers.parse(data, filename=filename)


def test_mbox_with_too_many_messages_is_cut_with_a_note(monkeypatch):
    monkeypatch.setattr(mail, "MAX_MBOX_MESSAGES", 2)
    message = (
        b"From x@acme.example Mon Nov  2 09:15:00 2026\n"
        b"From: x@acme.example\nSubject: S%d\n\nBody %d.\n\n"
    )
    data = b"".join(message.replace(b"%d", str(n).encode()) for n in range(3))
    document = parsers.parse(data, filename="big.mbox")
    assert [s.heading_path for s in document.sections][:2] == [("S0",), ("S1",)]
    assert document.sections[-1].text == "Only the first 2 of 3 messages are indexed."


def test_an_uploaded_mailbox_is_indexed_and_answers_cite_its_messages(
    acme, alice_api, upload_indexed
):
    uploaded = upload_indexed(alice_api, "kickoff.mbox", (MAIL / "kickoff.mbox").read_bytes())

    document = alice_api.get(f"/api/v1/documents/{uploaded['id']}").json()
    assert (document["title"], document["status"]) == ("kickoff", "indexed")
    answer = alice_api.post(
        "/api/v1/ask",
        {"question": "How many cr\u00e8me br\u00fbl\u00e9es are ordered for the kickoff?"},
        format="json",
    ).json()
    cited = answer["citations"][0]
    assert cited["document_id"] == document["id"]
    assert "Twelve cr\u00e8me br\u00fbl\u00e9es" in cited["text"]
