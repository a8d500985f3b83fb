"""Attribute names as people write them, in English and German, and the name facts are
kept under ("Year of birth", "Born", "Geburtsjahr" -> "born"; "RRP", "Listenpreis" ->
"price"), with the kind of value each expects. Used by ``ingestion.quantities`` and
``ingestion.facts`` for documents, and by ``search.facts`` for questions.
"""

from __future__ import annotations

import re
import unicodedata

# Attribute names people use for the same thing, English and German, by the name facts
# are kept under. Kept to attributes of general use (people, products, places,
# organizations, policies); any other label is kept as its own lower-case name.
ATTRIBUTE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "born": (
        "born",
        "birth",
        "year of birth",
        "date of birth",
        "birth date",
        "birthdate",
        "birth year",
        "birthday",
        "geboren",
        "geburtsjahr",
        "geburtsdatum",
        "jahrgang",
    ),
    "died": ("died", "death", "date of death", "year of death", "gestorben", "todesjahr"),
    "height": ("height", "tall", "stature", "body height", "körpergröße", "grösse"),
    "weight": ("weight", "mass", "weighs", "gewicht", "masse"),
    "price": (
        "price",
        "list price",
        "rrp",
        "msrp",
        "retail price",
        "cost",
        "costs",
        "price (eur)",
        "preis",
        "listenpreis",
        "uvp",
        "kosten",
        "kostet",
    ),
    "launched": (
        "launched",
        "launch",
        "launch year",
        "launch date",
        "released",
        "release",
        "release date",
        "release year",
        "introduced",
        "on sale since",
        "market launch",
        "year of introduction",
        "available since",
        "initial release",
        "first release",
        "first released",
        "first version",
        "erschienen",
        "erstveröffentlichung",
        "veröffentlichung",
        "stapellauf",
        "markteinführung",
        "einführung",
        "veröffentlicht",
        "eingeführt",
    ),
    "founded": (
        "founded",
        "established",
        "year founded",
        "founding",
        "foundation",
        "founded in",
        "incorporated",
        "gegründet",
        "gründung",
        "gründungsjahr",
        "first mentioned",
        "first recorded",
        "first documented",
        "erstmals erwähnt",
        "erste erwähnung",
    ),
    "approved": (
        "approved",
        "approval",
        "approval date",
        "approval year",
        "authorised",
        "authorized",
        "authorisation",
        "authorization",
        "marketing authorisation",
        "marketing authorization",
        "adopted",
        "date approved",
        "effective",
        "effective date",
        "effective from",
        "valid from",
        "in force since",
        "genehmigt",
        "beschlossen",
        "zugelassen",
        "zulassung",
        "zulassungsjahr",
        "gültig ab",
        "in kraft seit",
        "verabschiedet",
        "freigegeben",
    ),
    "population": (
        "population",
        "inhabitants",
        "residents",
        "population size",
        "einwohner",
        "einwohnerzahl",
        "bevölkerung",
    ),
    "built": (
        "built",
        "year built",
        "construction year",
        "completed",
        "baujahr",
        "gebaut",
        "fertigstellung",
    ),
    "length": (
        "length",
        "overall length",
        "length overall",
        "loa",
        "länge",
        "gesamtlänge",
        "länge über alles",
    ),
    "area": ("area", "surface area", "total area", "land area", "fläche", "gesamtfläche"),
    "elevation": (
        "elevation",
        "altitude",
        "height above sea level",
        "höhe über meer",
        "höhenlage",
        "seehöhe",
    ),
    "nationality": ("nationality", "citizenship", "nationalität", "staatsangehörigkeit"),
    "occupation": ("occupation", "profession", "job", "role", "beruf", "tätigkeit"),
    "country": (
        "country",
        "origin",
        "country of origin",
        "made in",
        "manufactured in",
        "country of manufacture",
        "produced in",
        "land",
        "herkunft",
        "herkunftsland",
        "hergestellt in",
    ),
    "brand": ("brand", "manufacturer", "maker", "make", "marke", "hersteller"),
    "category": ("category", "type", "kind", "product type", "kategorie", "art", "typ"),
    "revenue": ("revenue", "turnover", "sales", "annual revenue", "umsatz", "jahresumsatz"),
    "employees": (
        "employees",
        "staff",
        "headcount",
        "workforce",
        "number of employees",
        "number of staff",
        "mitarbeiter",
        "mitarbeitende",
        "beschäftigte",
        "belegschaft",
    ),
}
_ATTRIBUTE_OF = {
    synonym: name for name, synonyms in ATTRIBUTE_SYNONYMS.items() for synonym in synonyms
}
# Attributes whose value is a point in time: a number in them is a year.
TIME_ATTRIBUTES = frozenset({"born", "died", "launched", "founded", "approved", "built"})
# Attributes whose value is a quantity of this kind (a bare number gets the base unit).
ATTRIBUTE_KINDS = {
    "height": "length",
    "elevation": "length",
    "length": "length",
    "weight": "weight",
    "area": "area",
    "price": "money",
    "revenue": "money",
    "population": "count",
    "employees": "count",
}


def fold(text: str) -> str:
    """Lower case, single spaces, no markup: the form labels are compared in."""
    text = unicodedata.normalize("NFC", text).lower()
    text = re.sub(r"[*_`#|]+", " ", text)
    return " ".join(text.strip(" :.-").split())


def attribute_normalize(label: str) -> str:
    """The name a label's facts are kept under: "Year of birth" -> "born", "RRP" -> "price";
    an unknown label, folded ("Battery life")."""
    folded = fold(label)
    if folded in _ATTRIBUTE_OF:
        return _ATTRIBUTE_OF[folded]
    # "Height (cm)", "Price in EUR": the label without its unit.
    bare = re.sub(r"\s*(\(.*\)|\bin\s+\S+)$", "", folded).strip()
    if bare in _ATTRIBUTE_OF:
        return _ATTRIBUTE_OF[bare]
    head = _head(bare.replace("_", " "))
    return _ATTRIBUTE_OF.get(head, folded)[:100] if head else folded[:100]


# Known names a German compound may end in ("Packungspreis", "Gesamtumsatz"): single
# words of four letters or more, longest first.
_COMPOUND_HEADS = sorted(
    (name for name in _ATTRIBUTE_OF if " " not in name and len(name) >= 4), key=len, reverse=True
)


def _head(label: str) -> str | None:
    """The word a label is about, when the whole label is not a known name: "price" of
    "Price per pack" and of "Launch price", "release" of "Initial release", "preis" of
    "Packungspreis" (a German compound names its kind last). None when it has none of
    the known names."""
    words = label.split()
    if not words:
        return None
    # "Price per pack", "Place of birth": the head comes before the preposition.
    for index, word in enumerate(words[1:], start=1):
        if word in ("of", "per", "for", "pro", "je"):
            return " ".join(words[:index])
    if len(words) > 1:
        return words[-1] if words[-1] in _ATTRIBUTE_OF else None
    word = words[0]
    for head in _COMPOUND_HEADS:
        if word.endswith(head) and len(word) - len(head) >= 3:
            return head
    return None


def attribute_known(label: str) -> bool:
    """Whether ``label`` is one of the attribute names of ``ATTRIBUTE_SYNONYMS``."""
    folded = fold(label)
    return folded in _ATTRIBUTE_OF or folded in ATTRIBUTE_SYNONYMS
