"""The analytics pages' numbers and marks.

``{{ value|thousands }}`` writes 1,234,567. ``{% chart_marks chart %}`` and
``{% table_rows table %}`` write a chart's SVG marks and a table's rows in one string
each: a year of days is thousands of elements, which the template language took seconds
to loop over (bench/analytics_dashboard.py); the markup is the same as a template's.
Every text is escaped (``html.escape``, quotes too: Django's own wraps each
result in a lazy safe string, a third of the time here).
"""

from html import escape

from django import template
from django.utils.safestring import SafeString, mark_safe

from analytics.charts import Chart
from analytics.dashboard import Table, cell_text

register = template.Library()


@register.filter
def thousands(value) -> str:
    """An integer with thousands separators; "—" for no value."""
    return cell_text(value, "count")


@register.simple_tag
def chart_marks(chart: Chart) -> SafeString:
    """The grid, ticks, bars, lines and dots of ``chart`` (inside its ``<svg>``)."""
    parts = []
    for t in chart.y_ticks:
        parts.append(
            f'<line class="grid" x1="{chart.plot_left}" x2="{chart.plot_right}" '
            f'y1="{t.position}" y2="{t.position}"/>'
            f'<text class="tick" x="{chart.plot_left - 6}" y="{t.position}" text-anchor="end" '
            f'dominant-baseline="middle">{escape(t.label)}</text>'
        )
    for t in chart.x_ticks:
        parts.append(
            f'<text class="tick" x="{t.position}" y="{chart.height - 8}" '
            f'text-anchor="middle">{escape(t.label)}</text>'
        )
    for index, bars in enumerate(chart.bars):
        parts.append(f'<g class="series series-{index}">')
        parts.extend(
            f'<rect x="{b.x}" y="{b.y}" width="{b.width}" height="{b.height}">'
            f"<title>{escape(b.label)}</title></rect>"
            for b in bars
        )
        parts.append("</g>")
    for index, runs in enumerate(chart.lines):
        parts.append(f'<g class="series series-{index}">')
        parts.extend(f'<polyline points="{run}"/>' for run in runs)
        parts.append("</g>")
    for index, dots in enumerate(chart.points):
        parts.append(f'<g class="series series-{index}">')
        parts.extend(
            f'<circle cx="{d.x}" cy="{d.y}" r="3"><title>{escape(d.label)}</title></circle>'
            for d in dots
        )
        parts.append("</g>")
    return mark_safe("".join(parts))  # noqa: S308 - numbers and escaped labels only


@register.simple_tag
def table_rows(table: Table) -> SafeString:
    """``table``'s body rows, numbers right-aligned (``class="num"``)."""
    rows = []
    for row in table.cells:
        cells = "".join(
            f'<td class="num">{escape(text)}</td>' if number else f"<td>{escape(text)}</td>"
            for text, number in row
        )
        rows.append(f"<tr>{cells}</tr>")
    return mark_safe("".join(rows))  # noqa: S308 - every text escaped
