"""Which language a document is written in, as a Postgres text-search configuration.

The configuration decides stemming and stop words for the document's words (BM25).
Detection uses py3langid (its model ships in the wheel), restricted to languages
Postgres has a Snowball stemmer for; anything else, or too little text, is English.
"""

from __future__ import annotations

import threading

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
# Enough text to tell languages apart reliably; more only costs time.
SAMPLE_CHARS = 4000
MIN_CHARS = 40

_identifier = None
_lock = threading.Lock()


def _get_identifier():
    global _identifier
    with _lock:
        if _identifier is None:
            from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

            identifier = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE)
            identifier.set_languages(list(CONFIGS))
            _identifier = identifier
    return _identifier


def detect_language(text: str) -> str:
    """The text-search configuration for ``text`` (e.g. "english", "german")."""
    sample = " ".join(text[:SAMPLE_CHARS].split())
    if len(sample) < MIN_CHARS:
        return DEFAULT
    code, _probability = _get_identifier().classify(sample)
    return CONFIGS.get(code, DEFAULT)
