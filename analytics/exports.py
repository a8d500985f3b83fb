"""CSV downloads of the dashboard's tables."""

from __future__ import annotations

import csv

from django.http import HttpResponse

from analytics.dashboard import Table

# A cell a spreadsheet would run as a formula (a workspace named "=HYPERLINK(...)").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def csv_response(table: Table, *, filename: str) -> HttpResponse:
    """``table`` as a CSV attachment named ``filename`` (empty cells for "no figure")."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(table.header)
    for row in table.rows:
        writer.writerow([_cell(value) for value in row])
    return response
