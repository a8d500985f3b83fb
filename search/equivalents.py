"""Words a question and a document use for the same thing, for choosing the sentence
that answers (``search.answering``).

General relations of the language only, English and German, never words of one corpus:
a bound's noun and the phrase a rule uses ("minimum" / "at least"), a dimension's noun
and its adjective ("length" / "long"), a frequency's adverb and its period ("daily" /
"per day", "per diem"), and "in advance" / "before". Each group is symmetric; a
question's word is matched by any word of its group, in a sentence's words or stems.
"""

from __future__ import annotations

from functools import lru_cache

from search.wording import stem

_GROUPS: tuple[tuple[str, ...], ...] = (
    # A bound: the noun in a question, the phrase in a rule.
    ("minimum", "least", "mindestens", "mindest"),
    ("maximum", "cap", "höchstens"),
    # A dimension: the noun and its adjective.
    ("length", "long", "länge", "lang"),
    ("height", "tall", "höhe", "hoch"),
    ("width", "wide", "breite", "breit"),
    ("depth", "deep", "tiefe", "tief"),
    ("weight", "heavy", "weigh", "gewicht", "schwer"),
    ("age", "old", "alter", "alt"),
    # How often: the adverb and the period it counts by.
    ("daily", "day", "diem", "täglich", "tag"),
    ("weekly", "week", "wöchentlich", "woche"),
    ("monthly", "month", "monatlich", "monat"),
    ("yearly", "annual", "annually", "year", "jährlich", "jahr"),
    # Ahead of time.
    ("advance", "before", "beforehand", "ahead", "prior", "vorher", "voraus", "vorab"),
)


def _forms(word: str) -> frozenset[str]:
    return frozenset({word, stem(word)})


_GROUP_OF: dict[str, frozenset[str]] = {}
for _group in _GROUPS:
    _all = frozenset().union(*(_forms(word) for word in _group))
    for _word in _group:
        for _form in _forms(_word):
            _GROUP_OF[_form] = _GROUP_OF.get(_form, frozenset()) | _all


@lru_cache(maxsize=4096)
def equivalents(term: str) -> frozenset[str]:
    """The words and stems that say what ``term`` (a question's stem) says, itself
    included."""
    return _GROUP_OF.get(term, frozenset()) | {term}


__all__ = ["equivalents"]
