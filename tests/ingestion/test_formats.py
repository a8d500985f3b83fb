"""Slides, spreadsheets, CSV and JSON: text, headings, metadata, and the limits that hold."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime

import openpyxl
import pptx
import pytest
from pptx.util import Inches

from ingestion import parsers
from ingestion.parsers import ParseError, jsondoc, package, sheets, slides, tabular
from ingestion.uploads import UploadRejected, upload_validate

# --- files built with the formats' own libraries ----------------------------------


def make_pptx(slide_count: int = 2) -> bytes:
    deck = pptx.Presentation()
    deck.core_properties.title = "Quarterly review"
    deck.core_properties.author = "Alice Example"
    title_and_content = deck.slide_layouts[1]
    first = deck.slides.add_slide(title_and_content)
    first.shapes.title.text = "Revenue"
    first.placeholders[1].text_frame.text = "Revenue grew 12 percent in the north."
    first.notes_slide.notes_text_frame.text = "Mention the new Lyon office."
    table = first.shapes.add_table(2, 2, Inches(1), Inches(4), Inches(4), Inches(1)).table
    for row, values in enumerate([("Region", "Growth"), ("North", "12%")]):
        for column, value in enumerate(values):
            table.cell(row, column).text = value
    for number in range(2, slide_count + 1):
        slide = deck.slides.add_slide(title_and_content)
        slide.shapes.title.text = f"Topic {number}"
        slide.placeholders[1].text_frame.text = f"Body of slide {number}."
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def make_xlsx(rows_per_sheet: int = 2) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.properties.creator = "Bob Example"
    workbook.properties.title = "Sales 2026"
    workbook.properties.created = datetime(2026, 3, 1, 9, 30)  # noqa: DTZ001 (Excel is naive)
    sales = workbook.active
    sales.title = "Sales"
    sales.append(["Region", "Revenue", "Closed"])
    sales.append(["North", 1200, datetime(2026, 2, 1)])  # noqa: DTZ001
    sales.append(["South", 950.0, None])
    for index in range(rows_per_sheet - 2):
        sales.append([f"Region {index}", index, None])
    costs = workbook.create_sheet("Costs")
    costs.append([2026, 17])
    costs.append([2027, 19])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def bomb(original: bytes, member: str, megabytes: int) -> bytes:
    """``original`` plus one member that unpacks to ``megabytes`` of zeros."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(original)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            if info.filename != member:
                target.writestr(info, source.read(info))
        with target.open(member, "w", force_zip64=True) as huge:
            block = b"\0" * (1024 * 1024)
            for _ in range(megabytes):
                huge.write(block)
    return out.getvalue()


# --- presentations ------------------------------------------------------------------


def test_a_presentation_reads_slide_by_slide_with_notes_tables_and_metadata():
    parsed = parsers.parse(make_pptx(), filename="review.pptx")

    assert parsed.title == "Quarterly review"
    assert parsed.metadata["author"] == "Alice Example"
    first, second = parsed.sections
    assert first.heading_path == ("Slide 1", "Revenue")
    assert "Revenue grew 12 percent in the north." in first.text
    assert "Region | Growth\n\nNorth | 12%" in first.text
    assert "Notes: Mention the new Lyon office." in first.text
    assert second.heading_path == ("Slide 2", "Topic 2")
    assert second.text == "Body of slide 2."
    assert "truncated" not in parsed.metadata


def test_a_presentation_past_the_slide_limit_is_read_partly_and_says_so(monkeypatch):
    monkeypatch.setattr(slides, "MAX_SLIDES", 3)
    parsed = parsers.parse(make_pptx(slide_count=5), filename="long.pptx")

    assert [s.heading_path[0] for s in parsed.sections] == ["Slide 1", "Slide 2", "Slide 3"]
    assert parsed.metadata["truncated"] == "Only the first 3 slides were read."


def test_a_presentation_zip_bomb_is_refused_unopened():
    data = bomb(make_pptx(), "ppt/media/huge.bin", package.MAX_UNCOMPRESSED_BYTES // 2**20 + 1)
    assert len(data) < 1024 * 1024

    with pytest.raises(ParseError, match="expands to more than 200 MB"):
        parsers.parse(data, filename="bomb.pptx")


def test_a_workbook_named_pptx_is_refused():
    workbook_bytes = make_xlsx()
    with pytest.raises(ParseError, match=r"named \.pptx but its content is not a PowerPoint"):
        parsers.parse(workbook_bytes, filename="slides.pptx")


def test_a_presentation_is_recognised_without_its_extension():
    parsed = parsers.parse(make_pptx(), filename="upload")
    assert parsed.mime_type == slides.MIME_TYPES[0]


# --- workbooks ------------------------------------------------------------------------


def test_each_sheet_is_a_section_and_a_header_row_labels_values():
    parsed = parsers.parse(make_xlsx(), filename="sales.xlsx")

    assert parsed.title == "Sales 2026"
    assert parsed.metadata["author"] == "Bob Example"
    assert parsed.metadata["created"].startswith("2026-03-01T09:30")
    sales, costs = parsed.sections
    assert sales.heading_path == ("Sales",)
    assert sales.text.split("\n\n") == [
        "Region: North; Revenue: 1200; Closed: 2026-02-01",
        "Region: South; Revenue: 950",
    ]
    # Numbers in the first row are data, not a header.
    assert costs.heading_path == ("Costs",)
    assert costs.text.split("\n\n") == ["2026 | 17", "2027 | 19"]


def test_a_huge_sheet_is_read_up_to_the_row_limit(monkeypatch):
    monkeypatch.setattr(tabular, "MAX_ROWS", 500)
    parsed = parsers.parse(make_xlsx(rows_per_sheet=3000), filename="big.xlsx")

    assert len(parsed.sections) == 1  # the second sheet is past the limit
    assert len(parsed.sections[0].text.split("\n\n")) == 500
    assert parsed.metadata["truncated"] == "Only the first 500 rows were read."


def test_long_and_wide_cells_are_capped():
    workbook = openpyxl.Workbook()
    workbook.active.append(["x" * 5000, *range(200)])
    out = io.BytesIO()
    workbook.save(out)

    line = parsers.parse(out.getvalue(), filename="wide.xlsx").sections[0].text
    cells = line.split(" | ")
    assert len(cells) == tabular.MAX_COLUMNS
    assert len(cells[0]) == tabular.MAX_CELL_CHARS + 1  # the cap and an ellipsis


def test_shared_strings_too_large_to_hold_are_refused():
    data = bomb(make_xlsx(), "xl/sharedStrings.xml", 65)

    with pytest.raises(ParseError, match=r"xl/sharedStrings\.xml .* more than 64 MB"):
        parsers.parse(data, filename="strings.xlsx")


def test_a_damaged_workbook_fails_with_a_reason():
    data = make_xlsx()
    with pytest.raises(ParseError, match="damaged"):
        parsers.parse(data[: len(data) // 2], filename="cut.xlsx")
    assert sheets.sniff(data)


# --- CSV ------------------------------------------------------------------------------


def test_a_semicolon_csv_in_cp1252_reads_with_its_header():
    data = "Item;Price;Note\nCoffee;2,50 €;daily\nTea;2,00 €;\n".encode("cp1252")

    parsed = parsers.parse(data, filename="prices.csv")

    assert parsed.title == "prices"
    assert parsed.sections[0].text.split("\n\n") == [
        "Item: Coffee; Price: 2,50 €; Note: daily",
        "Item: Tea; Price: 2,00 €",
    ]
    assert parsed.metadata["columns"] == "Item, Price, Note"


def test_a_csv_without_header_and_a_tsv():
    plain = parsers.parse(b"1,2,3\n4,5,6\n", filename="numbers.csv")
    assert plain.sections[0].text == "1 | 2 | 3\n\n4 | 5 | 6"

    tabbed = parsers.parse(b"name\tcity\nAda\tLondon\n", filename="people.tsv")
    assert tabbed.sections[0].text == "name: Ada; city: London"


def test_a_long_csv_is_truncated_and_a_binary_one_refused(monkeypatch):
    monkeypatch.setattr(tabular, "MAX_CHARS", 1000)
    rows = "".join(f"row {n},value {n}\n" for n in range(1000)).encode()
    parsed = parsers.parse(b"key,value\n" + rows, filename="long.csv")
    assert parsed.metadata["truncated"] == "Only the first 1,000 characters were read."
    assert len(parsed.sections[0].text) <= 1000 + 2 * 100

    with pytest.raises(ParseError, match=r"named \.csv but its content is not text"):
        parsers.parse(b"\x00\x01\x02" * 100, filename="data.csv")


# --- JSON -----------------------------------------------------------------------------


def test_json_becomes_readable_key_paths_under_top_level_headings():
    document = {
        "title": "Travel rules",
        "version": 3,
        "meals": {"per_diem": 60, "currency": "EUR", "alcohol": False},
        "trips": [{"city": "Lyon", "nights": 2}, {"city": "Oslo"}],
        "empty": {},
    }
    parsed = parsers.parse(json.dumps(document).encode(), filename="travel.json")

    assert parsed.title == "Travel rules"
    assert [s.heading_path for s in parsed.sections] == [(), ("meals",), ("trips",)]
    top, meals, trips = parsed.sections
    assert top.text == "title: Travel rules\n\nversion: 3"
    assert meals.text == "per_diem: 60\n\ncurrency: EUR\n\nalcohol: false"
    assert trips.text == "[0].city: Lyon\n\n[0].nights: 2\n\n[1].city: Oslo"


def test_deep_json_is_shown_compactly_past_the_depth_limit():
    deep: object = "bottom"
    for _ in range(jsondoc.MAX_DEPTH + 3):
        deep = {"k": deep}
    parsed = parsers.parse(json.dumps({"root": deep}).encode(), filename="deep.json")

    (line,) = parsed.sections[0].text.split("\n\n")
    path, value = line.split(": ", 1)
    assert path.count(".") == jsondoc.MAX_DEPTH - 2
    assert value.startswith('{"k": {"k"')
    assert value.endswith('"bottom"}}}}')


def test_hostile_or_broken_json_fails_with_a_reason(monkeypatch):
    with pytest.raises(ParseError, match="nested too deeply"):
        parsers.parse(b"[" * 200_000 + b"]" * 200_000, filename="nested.json")
    with pytest.raises(ParseError, match="not valid JSON"):
        parsers.parse(b'{"a": 1,,}', filename="broken.json")
    monkeypatch.setattr(jsondoc, "MAX_JSON_BYTES", 100)
    with pytest.raises(ParseError, match="larger than 0 MB"):
        parsers.parse(b'{"a": "' + b"x" * 200 + b'"}', filename="big.json")


# --- the pipeline accepts them --------------------------------------------------------


@pytest.mark.parametrize("name", ["deck.pptx", "book.xlsx", "rows.csv", "rows.tsv", "data.json"])
def test_the_new_types_are_accepted_for_upload(name):
    upload_validate(filename=name, size=10)


def test_an_unknown_type_is_still_refused():
    with pytest.raises(UploadRejected, match=r"\.pptx.*\.xlsx"):
        upload_validate(filename="movie.avi", size=10)
