"""Decide whether bytes are text, and decode them without knowing the encoding."""

from __future__ import annotations

import codecs

# Enough to judge a file without reading all of it.
_SAMPLE_BYTES = 8192
# Control characters that never appear in real text (tab, newlines, form feed and
# escape do, so they are allowed).
_CONTROL_BYTES = frozenset(range(32)) - {9, 10, 12, 13, 27}
# Text files hold almost no control characters; 5 % tolerates a few stray ones
# while binary files (images, archives) have far more.
_MAX_CONTROL_RATIO = 0.05

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def looks_like_text(data: bytes) -> bool:
    """True unless the content is clearly binary (NUL bytes or many control characters)."""
    if data.startswith(_UTF16_BOMS):
        return True
    sample = data[:_SAMPLE_BYTES]
    if not sample or b"\x00" in sample:
        return False
    controls = sum(1 for byte in sample if byte in _CONTROL_BYTES)
    return controls / len(sample) <= _MAX_CONTROL_RATIO


def decode_text(data: bytes) -> str:
    """Decode ``data`` as UTF-16 (with BOM), UTF-8 (with or without BOM), cp1252, or latin-1.

    Never fails: latin-1 maps every byte. cp1252 comes before it because files from
    Windows that are not UTF-8 are nearly always cp1252 (curly quotes, euro sign).
    Line endings come back as ``"\\n"``.
    """
    candidates = ("utf-16",) if data.startswith(_UTF16_BOMS) else ("utf-8-sig", "cp1252")
    for encoding in candidates:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        text = data.decode("latin-1")
    return text.replace("\r\n", "\n").replace("\r", "\n")
