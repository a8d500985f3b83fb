"""Words and sentences as the extractive answer, confidence and conflicts read them.

Pure functions: a light stemmer, content terms (no stop words) and a sentence splitter
that keeps the passages' text verbatim.
"""

from __future__ import annotations

import re

# --- Words -----------------------------------------------------------------

# Function words and question phrasing carry no topic: "how do I reset my
# password" should match on "reset" and "password" only.
_STOP_WORDS_TEXT = """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing done down during each either
    else etc ever every few for from further get gets got had has have having he her here hers
    herself him himself his how i if in into is it its itself just let lets like may me might
    more most much must my myself need no nor not now of off on once only or other our ours
    ourselves out over own please same shall she should so some such tell than that the their
    theirs them themselves then there these they this those through to too under until up upon
    us very want was we were what when where whether which while who whom whose why will with
    within without would yes yet you your yours yourself yourselves
    can't didn't doesn't don't i'd i'm i've isn't it's what's where's who's how's won't
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

_WORD_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_VOWELS = frozenset("aeiouy")

# Ordered longest first so "configurations" loses "ations", not just "s".
# (suffix, replacement); each applies only if at least three letters remain.
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("ations", ""),
    ("ation", ""),
    ("ingly", ""),
    ("ments", ""),
    ("ment", ""),
    ("ings", ""),
    ("ing", ""),
    ("edly", ""),
    ("ies", "y"),
    ("ied", "y"),
    ("ed", ""),
    ("es", ""),
    ("ly", ""),
    ("s", ""),
)


def stem(word: str) -> str:
    """Light, deterministic suffix stripping for matching, not a linguistic stem.

    The contract is only that inflections of one word meet: "reset", "resets",
    "resetting" -> "reset"; "configure", "configured", "configuration" ->
    "configur"; "policy", "policies" -> "policy". A trailing doubled consonant
    is always collapsed (on plain words too) so "resetting" -> "resett" and
    "added" -> "add" meet their base forms.
    """
    word = word.lower().replace("'", "")
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix, replacement in _SUFFIXES:
        if not word.endswith(suffix):
            continue
        base = word[: -len(suffix)]
        # "status", "access", "class": a final s that is not a plural ending.
        if suffix == "s" and base[-1] in "su":
            continue
        # Too short a stem ("used" -> "us"): try a shorter suffix instead.
        if len(base) + len(replacement) < 3:
            continue
        word = base + replacement
        break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in _VOWELS:
        word = word[:-1]
    return word


def words(text: str) -> list[str]:
    """The lowercased word tokens of ``text`` (letters and digits; apostrophes kept inside)."""
    return [w.lower() for w in _WORD_RE.findall(text.replace("\u2019", "'"))]


def content_terms(text: str) -> set[str]:
    """Stems of the words of ``text`` that are neither stop words nor single letters."""
    return {stem(w) for w in words(text) if w not in STOP_WORDS and (len(w) > 1 or w.isdigit())}


# --- Sentences -------------------------------------------------------------

# A candidate boundary: terminal punctuation (maybe closing quotes/brackets),
# whitespace, then something that can start a sentence.
_BOUNDARY_RE = re.compile(r"[.!?][\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    {"e.g", "i.e", "etc", "vs", "cf", "mr", "mrs", "ms", "dr", "prof", "st", "no", "fig"}
    | {"approx", "inc", "ltd", "co", "jr", "sr", "dept"}
)
# A citation marker in an answer: "[2]", "[1, 3]", "[2-4]".
CITATION_MARKER_RE = re.compile(r"\[\d+(?:\s*[,\u2013-]\s*\d+)*\]")
_LIST_MARKER_RE = re.compile(r"^\s*(?:[-*+\u2022]|\d{1,3}[.)])\s+")
# Sentences shorter than this are usually headings or table cells, not answers.
_MIN_SENTENCE_WORDS = 3


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences, verbatim except for collapsed whitespace.

    Lines are split first (list items and table rows rarely end in a period),
    then lines at terminal punctuation followed by a capital or digit, unless
    the word before the period is a common abbreviation. Markdown heading
    lines and list markers are dropped; nothing is added.
    """
    sentences: list[str] = []
    for line in text.splitlines():
        line = _LIST_MARKER_RE.sub("", line).strip()
        if not line or line.startswith("#"):
            continue
        start = 0
        for match in _BOUNDARY_RE.finditer(line):
            before = line[start : match.start()].rsplit(None, 1)
            last_word = before[-1].lower().rstrip(".") if before else ""
            if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
                continue
            sentences.append(line[start : match.end()].strip())
            start = match.end()
        sentences.append(line[start:].strip())
    return [" ".join(s.split()) for s in sentences if s.strip()]
