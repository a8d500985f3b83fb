"""What the passages say about a question: the evidence an answer's confidence rests on.

Pure functions over the question, the passages retrieved for it and the passages an
answer cites. Nothing here depends on how retrieval scored the passages (fusion changes;
the words of the question and of the passages do not):

- **coverage**: the share of the question's content words, each weighted by how rare it
  is among the retrieved passages, that the best cited passage (with its document title
  and headings) contains. A word that no retrieved passage contains weighs most: the
  documents found do not talk about it.
- **names**: the share of the question's names and numbers (capitalised words inside the
  question, words with digits) that the best cited passage contains. "How tall is Maren
  Olvig?" answered from the page of another Maren is not an answer.
- **lead**: how much better the best cited passage covers the question than the best
  passage of any other document. Near zero: several documents fit equally well (a
  near-identical policy of another company), so which one answers is not settled.
- **fact**: whether the answer states the kind of fact asked for (an amount, a number,
  a date): 1 yes, 0 no, -1 when the question asks for none of them. Of an answer quoted
  from its passages, only what it quotes from the best cited passage counts: an amount
  from a sentence of another source ("Acme pays EUR 0.23 per kilometre" for "What is
  the share price of Acme?") is not the fact asked for.

A question's word counts as said by a passage that uses a word meaning the same
("minimum" / "at least": search.equivalents), as the sentence choice reads it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from search.equivalents import equivalents
from search.wording import CITATION_MARKER_RE, content_terms, stem

if TYPE_CHECKING:
    from search.answering import Passage

# Words that frame a question rather than name its topic ("how *tall* is X", "what is
# X *known* for"): the answer need not repeat them.
_FRAME_WORDS_TEXT = """
    tall high long far old big large many much often soon quickly exactly
    known tell describe explain happen happens mean means kind type way allowed
    wie viel viele hoch lang groß gross wann welche welcher welches was wer wo
"""
_FRAME_WORDS = frozenset(stem(w) for w in _FRAME_WORDS_TEXT.split())

_MONEY = re.compile(
    r"(?:€|\$|£|\b(?:EUR|USD|GBP|CHF|euros?|dollars?|pounds?)\b)\s*\d|"
    r"\d[\d.,]*\s*(?:€|\$|£|\b(?:EUR|USD|GBP|CHF|euros?|dollars?|pounds?|Euro)\b)",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|"
    r"thirty|forty|fifty|hundred|zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|zwölf)\b",
    re.IGNORECASE,
)
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "januar|februar|märz|mai|juni|juli|oktober|dezember"
)
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_DATE = re.compile(
    rf"\b(?:{_MONTHS}|{_WEEKDAYS})\b|\b(?:19|20)\d\d\b|\b\d{{1,2}}[:.]\d\d\b|"
    r"\b\d{1,2}(?:st|nd|rd|th)\b|\b\d{1,2}\.\d{1,2}\.(?:\d{2,4})?",
    re.IGNORECASE,
)

# What a question asks for, by its wording (English and German).
_ASKS_MONEY = re.compile(
    r"\bhow much\b|\bcost|\bprice|\bfee\b|\bfees\b|\ballowance|\bper diem|\bbudget|"
    r"\bsalary|\brevenue|\bamount\b|\breimburs|\bwie viel\b|\bwie hoch\b|"
    r"\bkosten|\bbetrag|\bpauschale|\bpreis",
    re.IGNORECASE,
)
_ASKS_NUMBER = re.compile(
    r"\bhow (?:many|long|far|soon|quickly|often|tall|big|large|old|heavy|high)\b|"
    r"\bminimum\b|\bmaximum\b|\blimit|\bat least\b|\bup to\b|\bpercentage\b|\bhow much\b|"
    r"\bwie (?:viele|lang|lange|weit|oft|schnell|groß|alt|hoch)\b|\bmindestens\b|"
    r"\bhöchstens\b|\bgrenze\b",
    re.IGNORECASE,
)
_ASKS_DATE = re.compile(
    r"\bwhen\b|\bwhat (?:date|day|year|time)\b|\bwhich (?:day|date|year)\b|\buntil\b|"
    r"\bdeadline\b|\bby when\b|\bwann\b|\bbis wann\b|\bin welchem jahr\b|\bdatum\b",
    re.IGNORECASE,
)


def asked_fact(question: str) -> str | None:
    """The kind of fact ``question`` asks for: "money", "number", "date" or None."""
    if _ASKS_DATE.search(question):
        return "date"
    if _ASKS_MONEY.search(question):
        return "money"
    if _ASKS_NUMBER.search(question):
        return "number"
    return None


def states_fact(text: str, kind: str | None) -> bool:
    """Whether ``text`` states a fact of ``kind`` (any number counts for a date too:
    "within 30 days", "the 25th")."""
    if kind is None:
        return False
    if kind == "money":
        return bool(_MONEY.search(text))
    if kind == "date":
        return bool(_DATE.search(text) or _NUMBER.search(text))
    return bool(_NUMBER.search(text))


def question_terms(question: str) -> set[str]:
    """The content terms of ``question`` that name its topic (not its framing)."""
    return {t for t in content_terms(question) if t not in _FRAME_WORDS}


def name_terms(question: str) -> set[str]:
    """Stems of the question's names and numbers: words with a digit, and capitalised
    words that do not open the question (German capitalises every noun: there, only
    words with a digit or in capitals, such as "AG", count)."""
    tokens = re.findall(r"[^\W_]+(?:'[^\W_]+)*", question)
    german = bool(re.search(r"\b(?:der|die|das|und|ist|wie|wann|welche|mit|für)\b", question))
    names = set()
    for position, token in enumerate(tokens):
        digits = any(ch.isdigit() for ch in token)
        capitals = token.isupper() and len(token) > 1
        if digits or capitals or (position > 0 and token[0].isupper() and not german):
            names.add(stem(token))
    return {n for n in names if n in content_terms(question) or any(c.isdigit() for c in n)}


def passage_terms(passage: Passage) -> set[str]:
    """The content terms of a passage, with its document's title and its headings."""
    return content_terms(" ".join([passage.document_title, *passage.heading_path, passage.text]))


def _said(term: str, found: set[str]) -> bool:
    """Whether ``found`` says ``term``: the word itself or one that says the same
    ("minimum" / "at least", "daily" / "per diem": ``search.equivalents``)."""
    return term in found or not equivalents(term).isdisjoint(found)


def _weights(terms: set[str], passages: Sequence[set[str]]) -> dict[str, float]:
    """Inverse document frequency of each term among the passages (absent: the most)."""
    n = len(passages)
    return {t: math.log(1 + n / (1 + sum(_said(t, p) for p in passages))) for t in terms}


def evidence_measure(
    question: str,
    passages: Sequence[Passage],
    cited: Sequence[int],
    answer_text: str,
) -> dict[str, float]:
    """The evidence (see the module docstring) for an answer citing ``passages[i]`` for
    each i in ``cited`` and saying ``answer_text``."""
    terms = question_terms(question) or content_terms(question)
    if not terms or not cited:
        return {"coverage": 0.0, "names": 0.0, "lead": 0.0, "fact": -1.0}
    every = [passage_terms(p) for p in passages]
    weight = _weights(terms, every)
    total = sum(weight.values()) or 1.0

    def covered(found: set[str]) -> float:
        return sum(weight[t] for t in terms if _said(t, found)) / total

    best = max(cited, key=lambda i: covered(every[i]))
    coverage = covered(every[best])
    cited_documents = {passages[i].document_id for i in cited}
    others = [
        covered(found)
        for found, passage in zip(every, passages, strict=True)
        if passage.document_id not in cited_documents
    ]
    names = name_terms(question)
    kind = asked_fact(question)
    return {
        "coverage": round(coverage, 4),
        "names": round(len(names & every[best]) / len(names), 4) if names else 1.0,
        "lead": round(coverage - max(others, default=0.0), 4),
        "fact": (
            -1.0
            if kind is None
            else float(states_fact(_quoted_from(answer_text, passages[best]), kind))
        ),
    }


def _quoted_from(answer_text: str, passage: Passage) -> str:
    """The sentences of ``answer_text`` quoted verbatim from ``passage``; the whole answer
    when it quotes none of them (an LLM's answer says things in its own words)."""
    text = " ".join(passage.text.split())
    quoted = [
        sentence
        for sentence in (" ".join(s.split()) for s in CITATION_MARKER_RE.split(answer_text))
        if sentence and sentence in text
    ]
    return " ".join(quoted) if quoted else answer_text


__all__ = [
    "asked_fact",
    "evidence_measure",
    "name_terms",
    "passage_terms",
    "question_terms",
    "states_fact",
]
