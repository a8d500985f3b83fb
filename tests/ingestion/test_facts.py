"""Facts read from documents at indexing time: each format, each unit, re-index, erasure."""

from __future__ import annotations

import io

import openpyxl
import pytest

from ingestion.attributes import attribute_normalize
from ingestion.facts import facts_from_text
from ingestion.models import Chunk, Document, Fact
from ingestion.quantities import date_parse, number_parse, quantity_parse, value_normalize
from tests.conftest import named_file


def facts(text: str, subject: str = "Ann Lind") -> dict[tuple[str, str], tuple]:
    """(entity, attribute) -> (kind, number, unit) of every fact ``text`` states."""
    found = {}
    for draft in facts_from_text(text, subject=subject):
        attribute = attribute_normalize(draft.label)
        quantity = value_normalize(draft.value, attribute=attribute, label=draft.label)
        found[(draft.entity, attribute)] = (quantity.kind, quantity.number, quantity.unit)
    return found


@pytest.mark.parametrize(
    ("text", "kind", "number", "unit"),
    [
        ("1.78 m", "length", 1.78, "m"),
        ("178 cm", "length", 1.78, "m"),
        ("178 centimetres", "length", 1.78, "m"),
        ("5 ft 10 in (178 cm)", "length", 1.78, "m"),
        ("6 ft 5 in", "length", 1.9558, "m"),
        ("2.5 km", "length", 2500.0, "m"),
        ("364 g", "weight", 0.364, "kg"),
        ("6,560 g", "weight", 6.56, "kg"),
        ("1.2 kilograms", "weight", 1.2, "kg"),
        ("3 t", "weight", 3000.0, "kg"),
        ("€49", "money", 49.0, "EUR"),
        ("49 EUR", "money", 49.0, "EUR"),
        ("EUR 2,472.00", "money", 2472.0, "EUR"),
        ("49 euros", "money", 49.0, "EUR"),
        ("$1.5 million", "money", 1.5e6, "USD"),
        ("£20", "money", 20.0, "GBP"),
        ("12,400", "count", 12400.0, ""),
        ("about 12,400 people", "count", 12400.0, ""),
        ("1.24 million", "count", 1.24e6, ""),
        ("100 thousand", "count", 1e5, ""),
        ("45.4 square kilometres", "area", 45.4e6, "m2"),
        ("340 km²", "area", 340e6, "m2"),
        ("12 ha", "area", 120000.0, "m2"),
    ],
)
def test_units_are_normalised(text, kind, number, unit):
    quantity = quantity_parse(text)
    assert quantity is not None
    assert (quantity.kind, quantity.unit) == (kind, unit)
    assert quantity.number == pytest.approx(number, rel=1e-3)


def test_numbers_are_read_by_language():
    assert number_parse("12,400") == 12400
    assert number_parse("1,95") == 1.95
    assert number_parse("1.95") == 1.95
    assert number_parse("100.000", decimal_comma=True) == 100000
    assert number_parse("1.234.567") == 1234567
    assert number_parse("1.234,5") == 1234.5
    assert quantity_parse("1,95 m", decimal_comma=True).number == 1.95


def test_dates_become_years_and_dates():
    assert date_parse("12 May 1964").date.isoformat() == "1964-05-12"
    assert date_parse("May 12, 1964").date.isoformat() == "1964-05-12"
    assert date_parse("2024-03-01").date.isoformat() == "2024-03-01"
    assert date_parse("01.03.2024").date.isoformat() == "2024-03-01"
    assert date_parse("12. März 2024").date.isoformat() == "2024-03-12"
    assert date_parse("c. 1200").number == 1200
    assert date_parse("no year here") is None


def test_attribute_names_are_normalised_with_synonyms():
    assert attribute_normalize("Year of birth") == "born"
    assert attribute_normalize("**Born**") == "born"
    assert attribute_normalize("RRP") == "price"
    assert attribute_normalize("Listenpreis") == "price"
    assert attribute_normalize("Inhabitants") == "population"
    assert attribute_normalize("Einwohner") == "population"
    assert attribute_normalize("Height (cm)") == "height"
    assert attribute_normalize("Battery life") == "battery life"
    assert value_normalize("178", attribute="height", label="Height (cm)").number == 1.78


def test_key_value_lines_and_bullet_infoboxes():
    text = "Ann Lind is a rower.\n\nHeight: 1.96 m\n- **Born:** 12 May 1964\n* Price: €49\n"
    found = facts(text)
    assert found[("Ann Lind", "height")] == ("length", 1.96, "m")
    assert found[("Ann Lind", "born")] == ("year", 1964.0, "year")
    assert found[("Ann Lind", "price")] == ("money", 49.0, "EUR")


def test_a_two_column_table_is_the_pages_attributes():
    text = "| Attribute | Value |\n|---|---|\n| Year of birth | 1998 |\n| Height | 163 cm |\n"
    found = facts(text)
    assert found[("Ann Lind", "born")] == ("year", 1998.0, "year")
    assert found[("Ann Lind", "height")] == ("length", 1.63, "m")


def test_a_wider_table_has_a_row_per_entity():
    text = (
        "| Name | Height | Born |\n|---|---|---|\n"
        "| Bo Berg | 1.80 m | 1990 |\n| Cy Dahl | 190 cm | 1985 |\n"
    )
    found = facts(text, subject="Team")
    assert found[("Bo Berg", "height")] == ("length", 1.8, "m")
    assert found[("Cy Dahl", "height")] == ("length", 1.9, "m")
    assert found[("Cy Dahl", "born")] == ("year", 1985.0, "year")


def test_spreadsheet_rows_are_keyed_by_their_first_value():
    # What the CSV and spreadsheet parsers make of a row under a header.
    text = "Product: Kettle K1; Price: 39 EUR; Launched: 2021\n\nProduct: Kettle K2; Price: 59 EUR"
    found = facts(text, subject="prices.csv")
    assert found[("Kettle K1", "price")] == ("money", 39.0, "EUR")
    assert found[("Kettle K1", "launched")] == ("year", 2021.0, "year")
    assert found[("Kettle K2", "price")] == ("money", 59.0, "EUR")


def test_semicolon_profile_lines_and_prose():
    found = facts("Profile: Ann Lind; born 1999; height 1.78 metres; Danish; rower.")
    assert found[("Ann Lind", "born")] == ("year", 1999.0, "year")
    assert found[("Ann Lind", "height")] == ("length", 1.78, "m")
    prose = facts(
        "Kaelot was first mentioned in 1120 and has a population of about 1.24 million. "
        "It lies at 340 metres above sea level on 45 km²."
    )
    assert prose[("Ann Lind", "founded")] == ("year", 1120.0, "year")
    assert prose[("Ann Lind", "population")] == ("count", 1.24e6, "")
    assert prose[("Ann Lind", "elevation")] == ("length", 340.0, "m")
    assert prose[("Ann Lind", "area")] == ("area", 45e6, "m2")


def test_a_labelled_fact_wins_over_prose_and_sentences_are_no_values():
    found = facts(
        "Ann Lind (born 1960) rows.\n\nBorn: 1961\n\n"
        "Note: the club was founded by her sister and two friends in the old boathouse."
    )
    assert found[("Ann Lind", "born")][1] == 1961.0
    assert ("Ann Lind", "note") not in found


PAGE = """# Ann Lind

Ann Lind is a Danish rower.

Height: 1.96 m
Born: 1964
"""


def test_indexing_writes_facts_that_point_at_their_chunk(alice_api, upload_indexed):
    body = upload_indexed(alice_api, "ann.md", PAGE.encode())
    rows = {fact.attribute: fact for fact in Fact.objects.filter(document_id=body["id"])}
    assert rows["height"].number == 1.96
    assert rows["height"].entity == "Ann Lind"
    assert rows["born"].number == 1964
    chunk = Chunk.objects.get(pk=rows["height"].chunk_id)
    assert chunk.document_id == body["id"]
    assert "1.96" in chunk.text


def test_a_new_version_replaces_the_facts_and_erasure_removes_them(
    alice_api, upload_indexed, django_capture_on_commit_callbacks
):
    first = upload_indexed(alice_api, "ann.md", PAGE.encode())
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post(
            "/api/v1/documents",
            {"file": named_file("ann.md", PAGE.replace("1.96 m", "1.97 m").encode())},
            format="multipart",
        )
    assert response.status_code in (200, 201), response.content
    document_id = response.json()["id"]
    heights = list(
        Fact.objects.filter(document_id=document_id, attribute="height").values_list(
            "number", flat=True
        )
    )
    assert heights == [1.97]
    if first["id"] != document_id:
        assert not Fact.objects.filter(document_id=first["id"]).exists()
    response = alice_api.delete(f"/api/v1/documents/{document_id}")
    assert response.status_code == 204, response.content
    assert not Document.objects.filter(pk=document_id).exists()
    assert not Fact.objects.filter(document_id=document_id).exists()


def test_csv_rows_become_facts_of_their_row_key(alice_api, upload_indexed):
    data = "Product,Price,Weight,Launched\nKettle K1,39 EUR,1.2 kg,2021\nKettle K2,€59,900 g,2019\n"
    body = upload_indexed(alice_api, "products.csv", data.encode())
    rows = {
        (fact.entity, fact.attribute): (fact.number, fact.unit)
        for fact in Fact.objects.filter(document_id=body["id"])
    }
    assert rows[("Kettle K1", "price")] == (39.0, "EUR")
    assert rows[("Kettle K2", "price")] == (59.0, "EUR")
    assert rows[("Kettle K2", "weight")] == (0.9, "kg")
    assert rows[("Kettle K1", "launched")] == (2021.0, "year")


def test_spreadsheet_rows_become_facts_of_their_row_key(alice_api, upload_indexed):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Town", "Population", "Area (km²)", "Founded"])
    sheet.append(["Kaelot", 1240000, 45.4, 1120])
    sheet.append(["Pakor", "about 1,700 people", 12, 1172])
    out = io.BytesIO()
    workbook.save(out)
    body = upload_indexed(alice_api, "towns.xlsx", out.getvalue())
    rows = {
        (fact.entity, fact.attribute): fact.number
        for fact in Fact.objects.filter(document_id=body["id"])
    }
    assert rows[("Kaelot", "population")] == 1240000
    assert rows[("Pakor", "population")] == 1700
    assert rows[("Kaelot", "area")] == pytest.approx(45.4e6)
    assert rows[("Pakor", "founded")] == 1172
