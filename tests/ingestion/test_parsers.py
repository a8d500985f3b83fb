"""Parsers: each format's title, heading paths and text, and every way a file is refused."""

from __future__ import annotations

import io
import re
import zipfile

import docx
import pytest
from pypdf import PdfReader, PdfWriter

from ingestion import parsers
from ingestion.parsers import ParseError, UnsupportedFormat, pdf, txt, word
from tests.fakes.pdf import make_pdf

# --- building fixture files -------------------------------------------------------


def rewrite_pdf(data: bytes, change) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(*, title: str = "", author: str = "") -> bytes:
    document = docx.Document()
    document.core_properties.title = title
    document.core_properties.author = author
    document.add_paragraph("Travel Handbook", style="Title")
    document.add_paragraph("Read this before you travel.")
    document.add_heading("Meals", level=1)
    document.add_paragraph("Meals on business trips are reimbursed.")
    document.add_heading("Per diem", level=2)
    table = document.add_table(rows=2, cols=2)
    for row, cells in enumerate([("Country", "Daily rate"), ("France", "40 EUR")]):
        for column, text in enumerate(cells):
            table.cell(row, column).text = text
    document.add_heading("Hotels", level=1)
    document.add_paragraph("Book hotels through the travel desk.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def paths_and_texts(document: parsers.ParsedDocument) -> list[tuple[tuple[str, ...], str]]:
    return [(section.heading_path, section.text) for section in document.sections]


# --- plain text -------------------------------------------------------------------


def test_txt_keeps_paragraphs_and_takes_its_title_from_the_first_line():
    """Issue 16: a text file was titled by its file name's slug, not its first line."""
    data = b"\n  Travel policy \nwrapped here.\r\n\r\nSecond   paragraph.\n\n\n"

    document = parsers.parse(data, filename="uploads/travel-policy-v2.txt")

    assert document.title == "Travel policy"
    assert document.mime_type == "text/plain"
    assert paths_and_texts(document) == [((), "Travel policy wrapped here.\n\nSecond paragraph.")]


def test_txt_that_is_not_utf8_is_decoded_as_windows_1252():
    data = "Caf\u00e9 costs 5 \u20ac \u2013 \u201cincluded\u201d".encode("cp1252")

    document = parsers.parse(data, filename="menu.txt")

    assert document.sections[0].text == "Caf\u00e9 costs 5 \u20ac \u2013 \u201cincluded\u201d"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_txt_with_a_byte_order_mark_is_decoded_without_it(encoding):
    document = parsers.parse("Gr\u00fc\u00dfe aus K\u00f6ln".encode(encoding), filename="a.txt")

    assert document.sections[0].text == "Gr\u00fc\u00dfe aus K\u00f6ln"


# --- markdown ---------------------------------------------------------------------


MARKDOWN = b"""---
layout: policy
---
# Travel *policy*

Read the [handbook](https://example.com/handbook) and the `FAQ` first.

Meals
-----

- Breakfast is **included**.
- Dinner is _reimbursed_ up to a limit; see per_diem_table.

### Per diem ###

```
# not a heading
rate = 40
```

Second level again
==================

> Quoted advice.
"""


def test_markdown_headings_build_paths_and_inline_syntax_is_stripped():
    document = parsers.parse(MARKDOWN, filename="travel.md")

    assert document.title == "Travel policy"
    assert document.mime_type == "text/markdown"
    assert paths_and_texts(document) == [
        (("Travel policy",), "Read the handbook and the FAQ first."),
        (
            ("Travel policy", "Meals"),
            "Breakfast is included.\n\nDinner is reimbursed up to a limit; see per_diem_table.",
        ),
        (("Travel policy", "Meals", "Per diem"), "# not a heading\nrate = 40"),
        (("Second level again",), "Quoted advice."),
    ]


def test_markdown_title_comes_from_front_matter_then_a_heading_then_the_first_line():
    with_front_matter = b'---\ntitle: "Expense rules"\n---\n## Scope\n\nAll staff.\n'
    without_h1 = b"## Scope\n\nAll staff.\n# Later\n"
    without_headings = b"\n**Expense rules** for 2025\n\nAll staff.\n"

    assert parsers.parse(with_front_matter, filename="x.md").title == "Expense rules"
    assert parsers.parse(without_h1, filename="expenses.md").title == "Later"
    assert parsers.parse(b"## Scope\n\nAll staff.\n", filename="expenses.md").title == "Scope"
    assert parsers.parse(without_headings, filename="expenses.md").title == "Expense rules for 2025"


def test_a_text_file_whose_first_line_is_a_paragraph_is_titled_by_its_filename():
    sentence = ("All staff must keep every receipt of a business trip " * 5).encode()
    assert parsers.parse(sentence, filename="receipts.txt").title == "receipts"
    assert parsers.parse(sentence, filename="receipts.md").title == "receipts"


# --- HTML -------------------------------------------------------------------------


HTML = """<!DOCTYPE html>
<html lang="de"><head>
<meta charset="iso-8859-1"><title>Reiserichtlinie</title>
<meta name="author" content="Alice">
<style>p { color: red }</style><script>var secret = "tracking";</script>
</head><body>
<nav><a href="/">Home</a> <a href="/news">News</a></nav>
<h1>Reisen</h1>
<p>Gilt f\u00fcr <b>alle</b>
   Mitarbeiter.</p>
<h2>Mahlzeiten</h2>
<table><tr><th>Land</th><th>Satz</th></tr><tr><td>Frankreich</td><td>40 EUR</td></tr></table>
<h3>Fr\u00fchst\u00fcck</h3><ul><li>Inklusive.</li><li>Au\u00dfer sonntags.</li></ul>
<h2>Hotels</h2><pre>Zimmer   101
Zimmer   102</pre>
<!-- a comment -->
</body></html>
""".encode("latin-1")


def test_html_headings_build_paths_and_scripts_styles_and_navigation_are_dropped():
    document = parsers.parse(HTML, filename="reisen.html")

    assert document.title == "Reiserichtlinie"
    assert document.metadata["author"] == "Alice"
    assert paths_and_texts(document) == [
        (("Reisen",), "Gilt f\u00fcr alle Mitarbeiter."),
        (("Reisen", "Mahlzeiten"), "Land Satz\n\nFrankreich 40 EUR"),
        (("Reisen", "Mahlzeiten", "Fr\u00fchst\u00fcck"), "Inklusive.\n\nAu\u00dfer sonntags."),
        (("Reisen", "Hotels"), "Zimmer   101\nZimmer   102"),
    ]
    everything = " ".join(section.text for section in document.sections)
    assert "tracking" not in everything
    assert "color" not in everything
    assert "News" not in everything
    assert "comment" not in everything


def test_html_without_title_element_takes_the_first_h1():
    data = b"<html><body><p>Lead.</p><h1>Expenses</h1><p>Body.</p></body></html>"

    assert parsers.parse(data, filename="page.htm").title == "Expenses"


# --- PDF --------------------------------------------------------------------------


def test_pdf_text_per_page_with_title_from_metadata():
    data = make_pdf(
        [["Travel policy", "Meals are reimbursed."], ["Hotels need approval."]],
        info={"Title": "Travel Policy 2024", "Author": "Alice"},
    )

    document = parsers.parse(data, filename="policy.pdf")

    assert document.title == "Travel Policy 2024"
    assert document.mime_type == "application/pdf"
    assert document.metadata["author"] == "Alice"
    assert document.metadata["pages"] == "2"
    assert paths_and_texts(document) == [
        (("Page 1",), "Travel policy Meals are reimbursed."),
        (("Page 2",), "Hotels need approval."),
    ]


def test_pdf_numbered_headings_stay_apart_from_the_text_under_them():
    """A PDF's text has no blank line between a heading and its paragraph: a numbered
    heading line must not open the paragraph (nor an answer quoting it)."""
    data = make_pdf(
        [
            [
                "Sharing needs a signed agreement.",
                "3. Passwords and authentication",
                "3.1 Passwords",
                "Passwords must be at least 14 characters long. A passphrase is",
                "easier to remember.",
                "12.5 kg is the limit for cabin bags and the",
                "10 employees joined in May and were trained.",
            ]
        ]
    )

    [(_, text)] = paths_and_texts(parsers.parse(data, filename="policy.pdf"))

    assert text.split("\n\n") == [
        "Sharing needs a signed agreement.",
        "3. Passwords and authentication",
        "3.1 Passwords",
        "Passwords must be at least 14 characters long. A passphrase is easier to remember. "
        "12.5 kg is the limit for cabin bags and the 10 employees joined in May and were "
        "trained.",
    ]


def test_pdf_without_metadata_title_takes_its_first_line():
    data = make_pdf([["Expense Guide", "Keep every receipt."]])

    assert parsers.parse(data, filename="scan0001.pdf").title == "Expense Guide"


@pytest.mark.parametrize(
    "placeholder",
    ["", "   ", "untitled", "Untitled document", "Untitled 3", "Microsoft Word - x.docx"],
)
def test_pdf_with_an_empty_or_placeholder_metadata_title_takes_its_first_line(placeholder):
    """Issue 16: PDFs whose metadata title was empty were titled "untitled"."""
    data = make_pdf([["Expense Guide", "Keep every receipt."]], info={"Title": placeholder})

    assert parsers.parse(data, filename="untitled.pdf").title == "Expense Guide"


def test_pdf_outline_entries_become_headings():
    data = make_pdf([["Intro."], ["Breakfast."], ["Dinner."], ["Rooms."]])

    def add_outline(writer: PdfWriter) -> None:
        travel = writer.add_outline_item(title="Travel", page_number=0)
        writer.add_outline_item(title="Meals", page_number=1, parent=travel)
        writer.add_outline_item(title="Hotels", page_number=3)

    document = parsers.parse(rewrite_pdf(data, add_outline), filename="outlined.pdf")

    assert [section.heading_path for section in document.sections] == [
        ("Travel", "Page 1"),
        ("Travel", "Meals", "Page 2"),
        ("Travel", "Meals", "Page 3"),
        ("Hotels", "Page 4"),
    ]


def test_corrupt_pdf_is_reported_as_damaged():
    data = make_pdf([["Hello there."]])
    corrupt = data[:60] + b"\x00garbage\xff" * 20

    with pytest.raises(ParseError) as excinfo:
        parsers.parse(corrupt, filename="broken.pdf")

    assert excinfo.value.reason == pdf.DAMAGED


def test_password_protected_pdf_is_refused_with_a_clear_reason():
    data = rewrite_pdf(
        make_pdf([["Top secret."]]),
        lambda writer: writer.encrypt(user_password="secret", algorithm="RC4-128"),
    )

    with pytest.raises(ParseError, match="password-protected"):
        parsers.parse(data, filename="secret.pdf")


def test_pdf_encrypted_only_against_editing_is_read():
    data = rewrite_pdf(
        make_pdf([["Readable by all."]]),
        lambda writer: writer.encrypt(
            user_password="", owner_password="owner", algorithm="RC4-128"
        ),
    )

    assert parsers.parse(data, filename="locked.pdf").sections[0].text == "Readable by all."


def test_pdf_with_more_pages_than_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr(pdf, "MAX_PDF_PAGES", 2)

    with pytest.raises(ParseError, match="3 pages; at most 2"):
        parsers.parse(make_pdf([["One."], ["Two."], ["Three."]]), filename="long.pdf")


def test_pdf_without_text_layer_says_no_text_could_be_extracted():
    with pytest.raises(ParseError, match="No text could be extracted"):
        parsers.parse(make_pdf([[], []]), filename="scan.pdf")


# --- Word -------------------------------------------------------------------------


def test_docx_title_and_heading_styles_build_paths_and_tables_are_read():
    document = parsers.parse(make_docx(author="Alice"), filename="handbook.docx")

    assert document.title == "Travel Handbook"  # the Title-style paragraph
    assert document.metadata["author"] == "Alice"
    assert paths_and_texts(document) == [
        (("Travel Handbook",), "Read this before you travel."),
        (("Travel Handbook", "Meals"), "Meals on business trips are reimbursed."),
        (("Travel Handbook", "Meals", "Per diem"), "Country | Daily rate\n\nFrance | 40 EUR"),
        (("Travel Handbook", "Hotels"), "Book hotels through the travel desk."),
    ]


def test_docx_title_prefers_the_document_properties():
    data = make_docx(title="Official Travel Handbook")

    assert parsers.parse(data, filename="handbook.docx").title == "Official Travel Handbook"


def without_core_properties(data: bytes) -> bytes:
    """The .docx without docProps/core.xml (and the references to it), as some writing
    programs and converters save it."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as original,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as stripped,
    ):
        for member in original.infolist():
            if member.filename == "docProps/core.xml":
                continue
            content = original.read(member)
            if member.filename in ("_rels/.rels", "[Content_Types].xml"):
                text = content.decode()
                text = re.sub(r"<(Relationship|Override)\b[^>]*core\.xml[^>]*/>", "", text)
                assert "core.xml" not in text
                content = text.encode()
            stripped.writestr(member, content)
    return out.getvalue()


def make_plain_docx() -> bytes:
    """A .docx with headings but no Title-style paragraph."""
    document = docx.Document()
    document.add_paragraph("Read this before you travel.")
    document.add_heading("Per diem", level=2)
    document.add_paragraph("Forty euros a day.")
    document.add_heading("Hotels", level=1)
    document.add_paragraph("Book hotels through the travel desk.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_docx_without_core_properties_takes_its_first_heading_not_word_document():
    """python-docx makes up "Word Document" (last modified by "python-docx") for a
    document without docProps/core.xml: it was shown as the title."""
    data = without_core_properties(make_docx())

    document = parsers.parse(data, filename="handbook.docx")

    assert document.title == "Travel Handbook"  # the Title-style paragraph
    assert "last_modified_by" not in document.metadata
    assert "modified" not in document.metadata


def test_docx_without_core_properties_or_title_style_takes_its_first_heading():
    data = without_core_properties(make_plain_docx())

    assert parsers.parse(data, filename="handbook.docx").title == "Hotels"  # Heading 1 first


def test_docx_without_core_properties_or_headings_is_titled_by_its_file_name():
    document = docx.Document()
    document.add_paragraph("Just a few notes.")
    out = io.BytesIO()
    document.save(out)
    data = without_core_properties(out.getvalue())

    assert parsers.parse(data, filename="uploads/Notes 2026.docx").title == "Notes 2026"


@pytest.mark.parametrize("title", ["", "   ", "Word Document"])
def test_docx_with_an_empty_or_default_core_title_takes_its_first_heading(title):
    # "Word Document" is the title python-docx writes into the documents it creates.
    data = make_docx(title=title)

    assert parsers.parse(data, filename="handbook.docx").title == "Travel Handbook"


def test_truncated_docx_is_reported_as_damaged():
    data = make_docx()

    with pytest.raises(ParseError) as excinfo:
        parsers.parse(data[: len(data) // 2], filename="cut.docx")

    assert excinfo.value.reason == word.DAMAGED


def test_zip_that_is_not_a_word_document_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "just a zip")

    with pytest.raises(ParseError, match="not a Word document"):
        parsers.parse(out.getvalue(), filename="fake.docx")


def test_docx_zip_bomb_is_refused_before_it_is_unpacked():
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(make_docx())) as original,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb,
    ):
        for member in original.infolist():
            bomb.writestr(member, original.read(member))
        with bomb.open("word/media/image1.png", "w", force_zip64=True) as huge:
            block = b"\0" * (1024 * 1024)
            for _ in range(201):
                huge.write(block)
    data = out.getvalue()
    assert len(data) < 1024 * 1024  # small on disk, 201 MB unpacked

    with pytest.raises(ParseError) as excinfo:
        parsers.parse(data, filename="bomb.docx")

    assert excinfo.value.reason == word.TOO_LARGE


# --- detection and refusals -------------------------------------------------------


def test_file_named_pdf_that_is_not_a_pdf_is_refused():
    with pytest.raises(ParseError) as excinfo:
        parsers.parse(b"Just some notes.", filename="notes.pdf")

    assert excinfo.value.reason == "The file is named .pdf but its content is not a PDF."
    assert not isinstance(excinfo.value, UnsupportedFormat)


def test_file_named_docx_that_is_not_a_zip_is_refused():
    with pytest.raises(ParseError, match=r"named \.docx but its content is not a Word document"):
        parsers.parse(b"Just some notes.", filename="notes.docx")


def test_file_named_txt_holding_a_pdf_is_refused():
    with pytest.raises(ParseError, match=r"named \.txt but its content is a PDF"):
        parsers.parse(make_pdf([["Hello."]]), filename="notes.txt")


def test_binary_content_named_txt_is_refused():
    with pytest.raises(ParseError, match="not text"):
        parsers.parse(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", filename="image.txt")


def test_unknown_extension_is_unsupported_and_lists_what_is():
    with pytest.raises(UnsupportedFormat) as excinfo:
        parsers.parse(b"\x00\x01\x02binary", filename="data.xyz")

    reason = excinfo.value.reason
    assert reason.startswith("Files of type .xyz are not supported.")
    for extension in (".pdf", ".docx", ".md", ".txt", ".html"):
        assert extension in reason


def test_unknown_extension_with_recognisable_content_is_parsed_by_content():
    document = parsers.parse(make_pdf([["Hello from a PDF."]]), filename="download.bin")

    assert document.mime_type == "application/pdf"
    assert document.sections[0].text == "Hello from a PDF."


def test_file_without_extension_is_read_as_text_or_by_mime_type():
    assert parsers.detect_format(b"Plain notes.", "README") == "txt"
    assert parsers.detect_format(b"# Notes", "README", "text/markdown; charset=utf-8") == "md"
    assert parsers.detect_format(make_pdf([["Hi."]]), "blob", "application/pdf") == "pdf"


@pytest.mark.parametrize("filename", ["empty.txt", "empty.pdf", "empty.docx", "empty.xyz"])
def test_empty_file_is_refused(filename):
    with pytest.raises(ParseError) as excinfo:
        parsers.parse(b"", filename=filename)

    assert excinfo.value.reason == "The file is empty."


@pytest.mark.parametrize(
    ("data", "filename"),
    [(b"  \n\n\t\n", "blank.txt"), (b"<html><body><script>x()</script></body></html>", "a.html")],
)
def test_file_without_text_is_refused(data, filename):
    with pytest.raises(ParseError) as excinfo:
        parsers.parse(data, filename=filename)

    assert excinfo.value.reason == "No text could be extracted from this file."


def test_unexpected_library_failure_becomes_a_parse_error(monkeypatch):
    failure = RuntimeError("library bug")

    def explode(data: bytes, *, filename: str) -> parsers.ParsedDocument:
        raise failure

    monkeypatch.setattr(txt, "parse", explode)

    with pytest.raises(ParseError) as excinfo:
        parsers.parse(b"Hello.", filename="a.txt")

    assert "could not be read as a text file" in excinfo.value.reason
    assert excinfo.value.__cause__ is failure
