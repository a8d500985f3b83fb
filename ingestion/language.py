"""Which language text is written in, as a Postgres text-search configuration.

The configuration decides stemming and stop words for the words keyword search sees
(BM25). Detection uses py3langid (its model ships in the wheel), restricted to
languages Postgres has a Snowball stemmer for; anything else, or too little text, is
English.

Language is decided per paragraph, not per document. A document's language is the one
most of its paragraphs' text is in (so an English abstract with a translated paragraph
stays English), and each paragraph is stemmed in its own language when it is long
enough to tell and the model is sure (``paragraphs_by_language``): a French paragraph
is indexed as French, its English neighbours as English, with English stop words
removed. Before, one language per document, detected on its first few thousand
characters, left the English text of a "French" document with its stop words, which
then matched only that document with a huge weight.
"""

from __future__ import annotations

import re
import threading

from django.utils.translation import get_language_info

# ISO 639-1 code -> Postgres text search configuration (all built into Postgres 16).
CONFIGS = {
    "en": "english",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "nl": "dutch",
    "pt": "portuguese",
    "sv": "swedish",
    "da": "danish",
    "no": "norwegian",
    "fi": "finnish",
    "ru": "russian",
}
DEFAULT = "english"
_CODES = {config: code for code, config in CONFIGS.items()}
# Enough text to tell languages apart reliably; more only costs time.
SAMPLE_CHARS = 4000
MIN_CHARS = 40
# A document's language is decided on at most this much of its text, paragraph by
# paragraph (py3langid takes well under a millisecond per paragraph).
DOCUMENT_SAMPLE_CHARS = 20000
# A paragraph is stemmed in a language other than its document's only when it is at
# least this long (about a dozen words: shorter text, a name or a figure caption, is
# guessed wrongly too often) and the model gives that language at least this
# probability. Anything less follows the document.
PARAGRAPH_MIN_CHARS = 80
PARAGRAPH_MIN_PROBABILITY = 0.95
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")

_identifier = None
_lock = threading.Lock()


def _get_identifier():
    global _identifier
    with _lock:
        if _identifier is None:
            from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

            identifier = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
            identifier.set_languages(list(CONFIGS))
            _identifier = identifier
    return _identifier


def _classify(text: str) -> tuple[str, float]:
    """(configuration, probability) of ``text``, whitespace collapsed."""
    code, probability = _get_identifier().classify(" ".join(text.split()))
    return CONFIGS.get(code, DEFAULT), float(probability)


def paragraphs(text: str) -> list[str]:
    """The paragraphs of ``text`` (split at blank lines), empty ones left out."""
    return [part for part in _PARAGRAPH_BREAK.split(text) if part.strip()]


def language_name(config: str) -> str:
    """The name of the language of text-search configuration ``config`` in the active
    language ("german": "German" in English, "Deutsch" in German); another as it is,
    capitalised."""
    code = _CODES.get(config)
    if code is None:
        return config.capitalize()
    return str(get_language_info(code)["name_translated"])


def detect_language(text: str) -> str:
    """The text-search configuration most of ``text`` is written in ("english", ...).

    Each paragraph long enough to tell votes with its length; with no such paragraph,
    the text as a whole decides. So one translated paragraph does not make an English
    document French unless it is longer than the English text.
    """
    votes: dict[str, int] = {}
    for paragraph in paragraphs(text[:DOCUMENT_SAMPLE_CHARS]):
        size = len(paragraph.strip())
        if size >= PARAGRAPH_MIN_CHARS:
            config, _probability = _classify(paragraph)
            votes[config] = votes.get(config, 0) + size
    if votes:
        return max(sorted(votes), key=votes.__getitem__)
    sample = " ".join(text[:SAMPLE_CHARS].split())
    if len(sample) < MIN_CHARS:
        return DEFAULT
    return _classify(sample)[0]


def paragraphs_by_language(text: str, *, default: str) -> dict[str, str]:
    """``text`` split by the language each paragraph is stemmed in: configuration ->
    its paragraphs joined by blank lines, ``default`` (the document's language) first.

    A paragraph takes another language only when it is at least
    ``PARAGRAPH_MIN_CHARS`` long and detected with ``PARAGRAPH_MIN_PROBABILITY``;
    everything else, short lines and headings included, follows the document.
    """
    groups: dict[str, list[str]] = {default: []}
    for paragraph in paragraphs(text):
        config = default
        if len(paragraph.strip()) >= PARAGRAPH_MIN_CHARS:
            detected, probability = _classify(paragraph)
            if probability >= PARAGRAPH_MIN_PROBABILITY:
                config = detected
        groups.setdefault(config, []).append(paragraph)
    return {config: "\n\n".join(parts) for config, parts in groups.items()}
