"""Numbers, units and dates as people write them, normalised.

Shared by the facts read from documents (``ingestion.facts``) and the questions asked
of them (``search.facts``), so that "1,95 m" in a German question and "6 ft 5 in
(196 cm)" on an English page meet as 1.95 and 1.96 metres. Lengths become metres,
weights kilograms, areas square metres, amounts of money an amount and a currency
code, dates a year (and the date when the day is known), counts a plain number
("1.24 million", "about 12,400", "100.000" in German).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from ingestion.attributes import ATTRIBUTE_KINDS, TIME_ATTRIBUTES

# --- Numbers -------------------------------------------------------------------------

# A number as written: digits with "," or "." (thousands or decimals, either way round),
# or a plain decimal. Dashes and signs are left to the caller: ranges are not values.
NUMBER = r"(?:\d{1,3}(?:[.,\u202f\u00a0' ]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?)"
_NUMBER_RE = re.compile(NUMBER)

SCALES = {
    "thousand": 1e3,
    "k": 1e3,
    "tsd": 1e3,
    "tausend": 1e3,
    "million": 1e6,
    "millions": 1e6,
    "mio": 1e6,
    "m": 1e6,
    "mn": 1e6,
    "millionen": 1e6,
    "billion": 1e9,
    "billions": 1e9,
    "bn": 1e9,
    "mrd": 1e9,
    "milliarde": 1e9,
    "milliarden": 1e9,
}


def number_parse(text: str, *, decimal_comma: bool = False) -> float | None:
    """The number written as ``text`` ("12,400", "1.24", "100.000", "1,95"), or None.

    A separator followed by exactly three digits is a thousands separator when it is
    repeated or when the other separator follows ("1.234,5"); a single one is read by
    the language: "12,400" is twelve thousand four hundred in English, "100.000" a
    hundred thousand in German (``decimal_comma``). A separator followed by one, two or
    four digits is always the decimal point.
    """
    text = text.strip().replace("\u202f", " ").replace("\u00a0", " ")
    if not text or not text[0].isdigit():
        return None
    text = re.sub(r"(?<=\d)[ '](?=\d{3}\b)", "", text)
    commas, dots = text.count(","), text.count(".")
    if commas and dots:
        decimal = "," if text.rfind(",") > text.rfind(".") else "."
    elif commas > 1 or dots > 1:
        decimal = "." if commas > 1 else ","
    elif commas == 1 or dots == 1:
        separator = "," if commas else "."
        digits_after = len(text) - text.rfind(separator) - 1
        # "1,95" and "1.5" are decimals; "12,400" and "100.000" depend on the language.
        ambiguous_decimal = "," if decimal_comma else "."
        decimal = separator if digits_after != 3 else ambiguous_decimal
    else:
        decimal = "."
    thousands = "." if decimal == "," else ","
    text = text.replace(thousands, "").replace(decimal, ".")
    try:
        return float(text)
    except ValueError:
        return None


# --- Quantities ----------------------------------------------------------------------

_LENGTH = {
    "mm": 0.001,
    "millimetre": 0.001,
    "millimeter": 0.001,
    "cm": 0.01,
    "centimetre": 0.01,
    "centimeter": 0.01,
    "zentimeter": 0.01,
    "m": 1.0,
    "metre": 1.0,
    "meter": 1.0,
    "km": 1000.0,
    "kilometre": 1000.0,
    "kilometer": 1000.0,
    "ft": 0.3048,
    "foot": 0.3048,
    "feet": 0.3048,
    "fuß": 0.3048,
    "inch": 0.0254,
    "inches": 0.0254,
    "zoll": 0.0254,
    "mi": 1609.344,
    "mile": 1609.344,
    "miles": 1609.344,
}
_WEIGHT = {
    "µg": 1e-9,
    "mcg": 1e-9,
    "microgram": 1e-9,
    "mikrogramm": 1e-9,
    "mg": 1e-6,
    "milligram": 1e-6,
    "milligramme": 1e-6,
    "milligramm": 1e-6,
    "g": 0.001,
    "gram": 0.001,
    "gramm": 0.001,
    "gramme": 0.001,
    "kg": 1.0,
    "kilo": 1.0,
    "kilogram": 1.0,
    "kilogramm": 1.0,
    "kilogramme": 1.0,
    "t": 1000.0,
    "tonne": 1000.0,
    "tonnen": 1000.0,
    "ton": 1000.0,
    "lb": 0.45359237,
    "lbs": 0.45359237,
    "pound": 0.45359237,
    "oz": 0.028349523,
    "ounce": 0.028349523,
}
_AREA = {
    "m²": 1.0,
    "m2": 1.0,
    "sqm": 1.0,
    "square metre": 1.0,
    "square meter": 1.0,
    "quadratmeter": 1.0,
    "ha": 1e4,
    "hectare": 1e4,
    "hektar": 1e4,
    "km²": 1e6,
    "km2": 1e6,
    "sq km": 1e6,
    "square kilometre": 1e6,
    "square kilometer": 1e6,
    "quadratkilometer": 1e6,
    "sq mi": 2589988.11,
    "square mile": 2589988.11,
    "acre": 4046.8564,
}
_CURRENCY = {
    "€": "EUR",
    "eur": "EUR",
    "euro": "EUR",
    "$": "USD",
    "usd": "USD",
    "us$": "USD",
    "dollar": "USD",
    "£": "GBP",
    "gbp": "GBP",
    "pound sterling": "GBP",
    "chf": "CHF",
    "franken": "CHF",
    "swiss franc": "CHF",
}
# Words after a number that measure rather than count things ("6 months", "20
# percent", "3 times"): never the thing a count is of.
_MEASURE_TEXT = """
    second seconds minute minutes hour hours day days week weeks month months year years
    decade decades century centuries percent per cent percentage times fold point points
    sekunde sekunden minute minuten stunde stunden tag tage tagen woche wochen monat monate
    monaten jahr jahre jahren prozent mal
"""
MEASURE_WORDS = frozenset(_MEASURE_TEXT.split())
_IMPERIAL = frozenset(
    {"ft", "foot", "feet", "inch", "inches", "mi", "mile", "miles", "lb", "lbs", "pound", "oz"}
    | {"ounce", "sq mi", "square mile", "acre"}
)
UNIT_KINDS = {
    **dict.fromkeys(_LENGTH, "length"),
    **dict.fromkeys(_WEIGHT, "weight"),
    **dict.fromkeys(_AREA, "area"),
    **dict.fromkeys(_CURRENCY, "money"),
}
BASE_UNIT = {"length": "m", "weight": "kg", "area": "m2"}


def _singular(word: str) -> str:
    word = word.lower().rstrip(".")
    for suffix, replacement in (
        ("metres", "metre"),
        ("meters", "meter"),
        ("metern", "meter"),
        ("grams", "gram"),
        ("grammes", "gramme"),
    ):
        if word.endswith(suffix):
            return word[: -len(suffix)] + replacement
    if word.endswith("es") and word[:-2] in UNIT_KINDS:
        return word[:-2]
    if word.endswith("s") and word[:-1] in UNIT_KINDS and word not in UNIT_KINDS:
        return word[:-1]
    return word


def unit_kind(unit: str) -> str | None:
    """ "length", "weight", "area" or "money" for a unit as written ("metres", "€"), else None."""
    return UNIT_KINDS.get(_singular(unit))


_UNIT_WORDS = sorted(
    {
        *UNIT_KINDS,
        *(f"{unit}s" for unit in UNIT_KINDS if unit[-1].isalpha()),
        "metres",
        "meters",
        "metern",
        "kilometern",
        "zentimetern",
    },
    key=len,
    reverse=True,
)
UNIT = "|".join(re.escape(unit) for unit in _UNIT_WORDS)
_SCALE = "|".join(sorted(SCALES, key=len, reverse=True))
# An amount: an optional currency before, a number, an optional scale word, a unit.
_QUANTITY_RE = re.compile(
    rf"(?P<pre>€|\$|£|\b(?:EUR|USD|GBP|CHF|US\$))?\s*(?P<num>{NUMBER})"
    rf"(?:\s*(?P<scale>{_SCALE})\b\.?)?"
    rf"(?:\s*(?P<unit>{UNIT})(?![a-zäöüß]))?",
    re.IGNORECASE,
)
_FEET_INCHES_RE = re.compile(r"(\d+)\s*(?:ft|feet|foot|')\s*(\d+(?:\.\d+)?)\s*(?:in|inches|\")")


@dataclass(frozen=True)
class Quantity:
    kind: str  # "length", "weight", "area", "money", "year", "count", "number", "text"
    number: float | None
    unit: str = ""
    date: date | None = None


def quantity_parse(text: str, *, decimal_comma: bool = False) -> Quantity | None:
    """The first amount in ``text`` with its unit normalised, or None when it has none.

    "5 ft 10 in (178 cm)" is 1.778 m; "€49", "49 EUR", "EUR 49.00", "49 euros" are
    49 EUR; "1.24 million" and "about 12,400 people" are counts.
    """
    feet = _FEET_INCHES_RE.search(text)
    if feet:
        # "5 ft 10 in (178 cm)": the metric figure given beside it is the exact one.
        metric = quantity_parse(text[feet.end() :], decimal_comma=decimal_comma)
        if metric and metric.kind == "length":
            return metric
        metres = int(feet.group(1)) * 0.3048 + float(feet.group(2)) * 0.0254
        return Quantity("length", round(metres, 4), "m")
    for match in _QUANTITY_RE.finditer(text):
        number = number_parse(match.group("num"), decimal_comma=decimal_comma)
        if number is None:
            continue
        scale, unit, pre = match.group("scale"), match.group("unit"), match.group("pre")
        if unit and unit not in (unit.lower(), unit.upper(), unit.capitalize()):
            unit = None  # "10 mM" is a concentration, not millimetres
        if scale:
            lowered = scale.lower()
            # "2 m" is two metres, not two million, unless money or a count follows.
            if lowered == "m" and not pre:
                unit, scale = unit or scale, None
            else:
                number *= SCALES[lowered]
        currency = _CURRENCY.get(pre.lower()) if pre else None
        if unit and not currency:
            kind = unit_kind(unit)
            if kind == "money":
                currency = _CURRENCY.get(_singular(unit))
            elif kind:
                if _singular(unit) in _IMPERIAL:
                    # "608 ft (185.4 m)": the metric figure beside it is the exact one.
                    metric = quantity_parse(text[match.end() :], decimal_comma=decimal_comma)
                    if metric and metric.kind == kind:
                        return metric
                factor = {**_LENGTH, **_WEIGHT, **_AREA}[_singular(unit)]
                # Ten significant digits, not six decimals: 2.5 mg is 0.0000025 kg.
                return Quantity(kind, float(f"{number * factor:.10g}"), BASE_UNIT[kind])
        if currency:
            return Quantity("money", number, currency)
        return Quantity("count" if number == int(number) or scale else "number", number)
    return None


# --- Dates ---------------------------------------------------------------------------

MONTHS = {
    name: index
    for index, names in enumerate(
        [
            ("january", "jan", "januar", "jänner"),
            ("february", "feb", "februar"),
            ("march", "mar", "märz", "maerz"),
            ("april", "apr"),
            ("may", "mai"),
            ("june", "jun", "juni"),
            ("july", "jul", "juli"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct", "oktober", "okt"),
            ("november", "nov"),
            ("december", "dec", "dezember", "dez"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
YEAR = r"(?<![\d.,])(1[0-9]{3}|20[0-9]{2}|[5-9][0-9]{2})(?![\d.,]\d)"
_DATE_PATTERNS = [
    (re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"), ("y", "m", "d")),
    (re.compile(r"\b(\d{1,2})\.\s?(\d{1,2})\.\s?(\d{4})\b"), ("d", "m", "y")),
    (
        re.compile(rf"\b(\d{{1,2}})\.?\s+({_MONTH})\.?\s+(\d{{4}})\b", re.IGNORECASE),
        ("d", "M", "y"),
    ),
    (re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}}),?\s+(\d{{4}})\b", re.IGNORECASE), ("M", "d", "y")),
]
_YEAR_RE = re.compile(YEAR)


def date_parse(text: str) -> Quantity | None:
    """A date ("12 May 1964", "2024-03-01", "01.03.2024") or a year ("1964", "c. 1200")."""
    for pattern, order in _DATE_PATTERNS:
        match = pattern.search(text)
        if not match:
            continue
        parts = dict(zip(order, match.groups(), strict=True))
        month = MONTHS[parts["M"].lower()] if "M" in parts else int(parts["m"])
        try:
            day = date(int(parts["y"]), month, int(parts["d"]))
        except ValueError:
            continue
        return Quantity("year", float(day.year), "year", day)
    match = _YEAR_RE.search(text)
    if match:
        return Quantity("year", float(match.group(1)), "year")
    return None


_LABEL_UNIT_RE = re.compile(rf"(?:\(|\bin\s+)({UNIT})\)?\s*$", re.IGNORECASE)


def value_normalize(
    value: str, *, attribute: str, label: str = "", decimal_comma: bool = False
) -> Quantity:
    """``value`` as the kind its attribute expects: a year for a date attribute, a
    length in metres for a height ("178 cm", or "178" under "Height (cm)"), a count for
    a population; text when it holds no number."""
    if attribute in TIME_ATTRIBUTES:
        return date_parse(value) or Quantity("text", None)
    quantity = quantity_parse(value, decimal_comma=decimal_comma)
    label_unit = _LABEL_UNIT_RE.search(label.strip())
    if quantity and quantity.kind in ("count", "number") and label_unit:
        quantity = quantity_parse(f"{value.strip()} {label_unit.group(1)}") or quantity
    expected = ATTRIBUTE_KINDS.get(attribute)
    if quantity is None:
        return Quantity("text", None)
    if expected in BASE_UNIT and quantity.kind in ("count", "number"):
        # A bare number under "Height (cm)" or "Weight": the unit is in the label or
        # the base unit is meant; only the label can say, so keep the base unit.
        return Quantity(expected, quantity.number, BASE_UNIT[expected])
    if expected == "count" and quantity.kind == "number":
        return Quantity("count", quantity.number)
    if quantity.kind in ("count", "number") and expected is None:
        year = date_parse(value)
        if year and year.date is not None:
            return year
    return quantity
