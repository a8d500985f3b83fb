"""Words the facts question parser (``search.facts``) reads or skips, English and German.

General vocabulary only: comparators, the words that name an attribute in a question,
words that say nothing about which entity is meant, and countries with their
adjectives (a page says "Danish", a question "aus Dänemark"). Nothing here is taken
from an evaluation set.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Comparators before a number, longest first when matched. "<" and ">" are strict;
# "at least"/"mindestens" include the bound.
# Points in time: before, after and in a year.
_BEFORE = (
    "before",
    "earlier than",
    "prior to",
    "older than the year",
    "older than",
    "vor dem jahr",
    "vor",
    "früher als",
    "älter als das jahr",
)
_AFTER = (
    "after",
    "later than",
    "since",
    "newer than",
    "younger than the year",
    "nach dem jahr",
    "nach",
    "später als",
    "seit",
)
_IN_YEAR = ("in", "im jahr", "aus dem jahr", "of", "is", "was", "jahrgang", "von")

COMPARATORS: dict[str, str] = {
    **dict.fromkeys(
        [
            "more than",
            "over",
            "above",
            "greater than",
            "larger than",
            "bigger than",
            "higher than",
            "taller than",
            "heavier than",
            "longer than",
            "exceeding",
            "in excess of",
            "mehr als",
            "über",
            "größer als",
            "grösser als",
            "höher als",
            "schwerer als",
            "länger als",
            "teurer als",
            "more expensive than",
        ],
        ">",
    ),
    **dict.fromkeys(["at least", "no less than", "minimum", "mindestens", "ab"], ">="),
    **dict.fromkeys(
        [
            "less than",
            "under",
            "below",
            "fewer than",
            "smaller than",
            "shorter than",
            "lighter than",
            "cheaper than",
            "lower than",
            "weniger als",
            "unter",
            "kleiner als",
            "niedriger als",
            "leichter als",
            "billiger als",
            "günstiger als",
            "kürzer als",
        ],
        "<",
    ),
    **dict.fromkeys(["at most", "no more than", "up to", "maximum", "höchstens", "bis zu"], "<="),
    # Points in time.
    **dict.fromkeys(_BEFORE, "<"),
    **dict.fromkeys(_AFTER, ">"),
    **dict.fromkeys(_IN_YEAR, "="),
}
# Comparators that only apply to a point in time (a year), not to an amount.
TIME_ONLY = frozenset(_BEFORE + _AFTER + _IN_YEAR)
BETWEEN = ("between", "zwischen")

# Words in a question that name the attribute a number is about (stems: a question
# word starting with one of them names it).
ATTRIBUTE_CUES: dict[str, tuple[str, ...]] = {
    "born": ("born", "birth", "geboren", "geburt", "jahrgang"),
    "died": ("died", "death", "gestorben"),
    "founded": (
        "founded",
        "established",
        "founding",
        "gegründet",
        "gründung",
        "first mentioned",
        # "erstmals" alone is any first time ("erstmals veröffentlicht"): not a cue.
        "erwähnt",
    ),
    "launched": (
        "launched",
        "released",
        "introduced",
        "first sold",
        "on sale",
        "launch",
        "release",
        "first version",
        "came out",
        "erschien",
        "veröffentlicht",
        "vom stapel",
        "herausgebracht",
        "herausgekommen",
        "brachte",
        "eingeführt",
        "auf den markt",
    ),
    "approved": (
        "approved",
        "adopted",
        "passed",
        "authorised",
        "authorized",
        "authorisation",
        "authorization",
        "zugelassen",
        "zulassung",
        "genehmigt",
        "beschlossen",
        "verabschiedet",
        "freigegeben",
    ),
    "population": (
        "inhabitant",
        "resident",
        "population",
        "people living",
        "einwohner",
        "bevölkerung",
    ),
    "employees": (
        "employee",
        "staff",
        "workforce",
        "headcount",
        "mitarbeiter",
        "beschäftigt",
        "belegschaft",
    ),
    "built": ("built", "constructed", "baujahr", "gebaut", "erbaut"),
    "length": ("long", "length", "läng", "lang"),
    "height": ("tall", "height", "groß", "gross", "größe"),
    "elevation": (
        "elevation",
        "altitude",
        "above sea level",
        "über dem meer",
        "meereshöhe",
        "höhenlage",
    ),
    "weight": (
        "weigh",
        "heavy",
        "heavier",
        "lighter",
        "wiegt",
        "wiegen",
        "schwer",
        "leicht",
        "gewicht",
    ),
    "price": (
        "cost",
        "price",
        "cheap",
        "expensive",
        "kosten",
        "kostet",
        "preis",
        "billig",
        "günstig",
        "teuer",
    ),
    "revenue": ("revenue", "turnover", "sales", "umsatz", "umsätze", "erlös"),
    "area": ("area", "fläche"),
}

# Words that say nothing about which entity is meant: function words, question words,
# and general nouns for a kind of entity (the attribute asked already implies it).
STOP_WORDS = _words(
    """
    a an the of in on at to for from by with and or which who whom whose what when where
    is are was were be been being has have had do does did that this these those than
    there their its it all any every each some find list show give me tell name names
    please how many much whose year years the also only still ever still today

    people person persons individuals someone anybody anyone everyone places place
    locations location settlements settlement sites site things thing items item
    products product entities entity ones one

    der die das den dem des ein eine einen einem einer eines und oder mit von vom zum zur
    im in am an auf aus bei für welche welcher welches wer was wann wo wurde wurden ist
    sind war waren hat haben als alle jeder jede jahr jahre jahres dem sich es sie er
    bitte zeige nenne liste gib mir deren dessen denen pro je per whose erstmals zuerst

    personen person leute menschen orte ort siedlungen siedlung dinge produkte produkt
    """
)

# Countries: the name, the adjective and the German forms, so that one matches the
# others ("Polish" on the page, "aus Polen" or "polnische" in the question).
COUNTRIES: tuple[tuple[str, ...], ...] = (
    ("austria", "austrian", "österreich", "österreichisch"),
    ("belgium", "belgian", "belgien", "belgisch"),
    ("brazil", "brazilian", "brasilien", "brasilianisch"),
    ("bulgaria", "bulgarian", "bulgarien", "bulgarisch"),
    ("canada", "canadian", "kanada", "kanadisch"),
    ("chile", "chilean", "chilenisch"),
    ("china", "chinese", "chinesisch"),
    ("croatia", "croatian", "kroatien", "kroatisch"),
    ("czechia", "czech", "tschechien", "tschechisch"),
    ("denmark", "danish", "dänemark", "dänisch"),
    ("england", "english", "englisch"),
    ("estonia", "estonian", "estland", "estnisch"),
    ("finland", "finnish", "finnland", "finnisch"),
    ("france", "french", "frankreich", "französisch"),
    ("germany", "german", "deutschland", "deutsch"),
    ("greece", "greek", "griechenland", "griechisch"),
    ("hungary", "hungarian", "ungarn", "ungarisch"),
    ("iceland", "icelandic", "island", "isländisch"),
    ("india", "indian", "indien", "indisch"),
    ("ireland", "irish", "irland", "irisch"),
    ("italy", "italian", "italien", "italienisch"),
    ("japan", "japanese", "japanisch"),
    ("kenya", "kenyan", "kenia", "kenianisch"),
    ("latvia", "latvian", "lettland", "lettisch"),
    ("lithuania", "lithuanian", "litauen", "litauisch"),
    ("luxembourg", "luxembourgish", "luxemburg", "luxemburgisch"),
    ("mexico", "mexican", "mexiko", "mexikanisch"),
    ("netherlands", "dutch", "niederlande", "niederländisch", "holland", "holländisch"),
    ("new zealand", "neuseeland", "neuseeländisch"),
    ("norway", "norwegian", "norwegen", "norwegisch"),
    ("poland", "polish", "polen", "polnisch"),
    ("portugal", "portuguese", "portugiesisch"),
    ("romania", "romanian", "rumänien", "rumänisch"),
    ("scotland", "scottish", "scots", "schottland", "schottisch"),
    ("slovakia", "slovak", "slowakei", "slowakisch"),
    ("slovenia", "slovenian", "slowenien", "slowenisch"),
    ("spain", "spanish", "spanien", "spanisch"),
    ("sweden", "swedish", "schweden", "schwedisch"),
    ("switzerland", "swiss", "schweiz", "schweizerisch"),
    ("turkey", "turkish", "türkei", "türkisch"),
    ("united kingdom", "british", "uk", "großbritannien", "britisch"),
    ("united states", "american", "usa", "vereinigte staaten", "amerikanisch"),
    ("wales", "welsh", "walisisch"),
)

# Words that mark a question as German: its numbers are then read with a decimal comma.
GERMAN_MARKERS = _words(
    "der die das und mit als vor nach welche welcher welches wurde wurden sind ist "
    "einwohnern weniger mehr über unter gegründet geboren kosten kostet jahr aus von "
    "zwischen seit im"
)
