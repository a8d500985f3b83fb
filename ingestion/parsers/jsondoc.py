"""JSON documents: every value becomes a line ``path.to.key: value`` a person can read.

``{"policy": {"meals": {"per_diem": 60}}}`` reads ``meals.per_diem: 60`` under the
heading ``policy``: each top-level key of an object is a section. Arrays index their
items (``trips[0].city: Lyon``). Limits: the file's size (``MAX_JSON_BYTES``, parsed
whole), nesting depth (deeper values are shown as compact JSON), lines and characters
(``tabular``); what was left out is said in the ``truncated`` metadata.
"""

from __future__ import annotations

import json

from django.utils.translation import gettext_noop as _

from ingestion.parsers import tabular
from ingestion.parsers.base import (
    ParsedDocument,
    ParseError,
    Section,
    reason_template,
    title_from_filename,
)
from ingestion.parsers.encoding import decode_text

EXTENSIONS = (".json",)
MIME_TYPES = ("application/json",)
DESCRIPTION = _("a JSON file")
BINARY = False

# Failure reasons, stored in English and translated where shown (``ParseError``).
TOO_LARGE = reason_template(
    _("The JSON file is larger than %(megabytes)s MB; split it into smaller files.")
)
TOO_DEEP = _("The JSON file is nested too deeply to be read.")
INVALID = reason_template(_("The file is not valid JSON (%(error)s)."))

# Parsed in one piece: Python objects take ~10x the bytes, so this bounds memory.
MAX_JSON_BYTES = 10 * 1024 * 1024
# Paths deeper than this stop being readable; the rest of the value is shown as JSON.
MAX_DEPTH = 12
_TITLE_KEYS = ("title", "name", "subject")


def sniff(data: bytes) -> bool:
    """JSON is text; it is recognised by its extension, not its content."""
    return False


def parse(data: bytes, *, filename: str) -> ParsedDocument:
    if len(data) > MAX_JSON_BYTES:
        raise ParseError(TOO_LARGE % {"megabytes": MAX_JSON_BYTES // (1024 * 1024)})
    try:
        value = json.loads(decode_text(data))
    except RecursionError as exc:
        raise ParseError(TOO_DEEP) from exc
    except ValueError as exc:
        raise ParseError(INVALID % {"error": exc}) from exc

    budget = tabular.Budget()
    sections = []
    if isinstance(value, dict):
        loose = []
        for key, inner in value.items():
            if isinstance(inner, dict | list):
                if lines := _lines(inner, "", budget, depth=1):
                    sections.append(Section(heading_path=(str(key),), text="\n\n".join(lines)))
            else:
                loose.extend(_lines(inner, str(key), budget, depth=1))
            if budget.truncated:
                break
        if loose:
            sections.insert(0, Section(heading_path=(), text="\n\n".join(loose)))
    else:
        lines = _lines(value, "", budget, depth=0)
        if lines:
            sections.append(Section(heading_path=(), text="\n\n".join(lines)))
    metadata = {"truncated": budget.truncated} if budget.truncated else {}
    return ParsedDocument(
        title=_title(value) or title_from_filename(filename),
        sections=sections,
        mime_type=MIME_TYPES[0],
        metadata=metadata,
    )


def _lines(value: object, path: str, budget: tabular.Budget, *, depth: int) -> list[str]:
    """``path: value`` lines for every scalar under ``value``, within the budget.

    Iterative (an explicit stack), so depth costs no Python recursion.
    """
    lines: list[str] = []
    stack: list[tuple[str, object, int]] = [(path, value, depth)]
    while stack:
        where, item, level = stack.pop()
        if isinstance(item, dict | list) and item and level < MAX_DEPTH:
            pairs = (
                [(f"{where}.{key}" if where else str(key), inner) for key, inner in item.items()]
                if isinstance(item, dict)
                else [(f"{where}[{index}]", inner) for index, inner in enumerate(item)]
            )
            stack.extend((p, inner, level + 1) for p, inner in reversed(pairs))
            continue
        shown = _scalar(item)
        line = f"{where}: {shown}" if where else f": {shown}"
        if not shown:
            continue
        if not budget.take(line):
            break
        lines.append(line if where else shown)
    return lines


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        if not value:
            return ""
        return tabular.cell_text(json.dumps(value, ensure_ascii=False))
    return tabular.cell_text(value)


def _title(value: object) -> str:
    if isinstance(value, dict):
        for key in _TITLE_KEYS:
            if isinstance(value.get(key), str) and value[key].strip():
                return tabular.cell_text(value[key])[:500]
    return ""
