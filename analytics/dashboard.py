"""The dashboard's charts: which figure of a day each one draws, and its CSV table.

One list (``CHARTS``) drives the page, the tables under the charts and the CSV exports,
so a chart, its table and its CSV always show the same numbers. Titles and column names
are msgids (marked with ``gettext_noop``): the page shows them in the reader's language
(``chart_of``, ``analytics/_table.html``), the CSV keeps them in English.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext
from django.utils.translation import gettext_noop as _

from analytics.charts import Chart, Series, chart_build
from analytics.selectors import Figures, Row


@dataclass(frozen=True)
class ChartSpec:
    key: str
    title: str
    kind: str
    unit: str
    columns: tuple[tuple[str, Callable[[Figures], float | int | None]], ...]


CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec(
        "questions", _("Questions per day"), "bar", "", ((_("Questions"), lambda f: f.questions),)
    ),
    ChartSpec(
        "people", _("Active people per day"), "bar", "", ((_("People"), lambda f: f.people),)
    ),
    ChartSpec(
        "answered",
        _("Answered vs “not in the documents”"),
        "line",
        "%",
        (
            (_("Answered"), lambda f: f.answered_rate),
            (_("Not in the documents"), lambda f: f.not_in_documents_rate),
        ),
    ),
    ChartSpec(
        "feedback",
        _("Feedback: helpful and unhelpful rates"),
        "line",
        "%",
        ((_("Helpful"), lambda f: f.helpful_rate), (_("Unhelpful"), lambda f: f.unhelpful_rate)),
    ),
    ChartSpec(
        "latency",
        _("Latency (ms)"),
        "line",
        "",
        (("p50", lambda f: f.latency_p50_ms), ("p95", lambda f: f.latency_p95_ms)),
    ),
    ChartSpec(
        "tokens",
        _("LLM tokens per day"),
        "bar",
        "",
        (
            (_("Prompt"), lambda f: f.prompt_tokens),
            (_("Completion"), lambda f: f.completion_tokens),
        ),
    ),
    ChartSpec(
        "cost", _("LLM cost per day (USD)"), "bar", "$", ((_("Cost"), lambda f: f.cost_usd),)
    ),
)
CHART_KEYS = tuple(spec.key for spec in CHARTS)

# The breakdowns' columns (by channel, by workspace), in the table and the CSV.
BREAKDOWN_COLUMNS: tuple[tuple[str, Callable[[Figures], float | int | None]], ...] = (
    (_("Questions"), lambda f: f.questions),
    (_("People"), lambda f: f.people),
    (_("Answered rate"), lambda f: f.answered_rate),
    (_("Not in the documents"), lambda f: f.not_in_documents),
    (_("Helpful"), lambda f: f.helpful),
    (_("Unhelpful"), lambda f: f.unhelpful),
    (_("Latency p50 (ms)"), lambda f: f.latency_p50_ms),
    (_("Latency p95 (ms)"), lambda f: f.latency_p95_ms),
    (_("LLM tokens"), lambda f: f.tokens),
    (_("Cost (USD)"), lambda f: f.cost_usd),
)
BREAKDOWN_KINDS = ("count", "count", "rate", "count", "count", "count", "ms", "ms", "count", "usd")


# How a column's numbers read on the page (the CSV keeps them raw): "day" and "text" as
# they are, "count" with thousands separators, "rate" as a percentage, "score" (0..1,
# nDCG) with two decimals, "ms" in whole milliseconds, "usd" in dollars.
def cell_text(value, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "count":
        return f"{value:,}"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "score":
        return f"{value:.2f}"
    if kind == "ms":
        return f"{value:,.0f}"
    if kind == "usd":
        return f"${value:,.2f}" if value >= 1 or value == 0 else f"${value:.2g}"
    return str(value)


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list]
    # One kind per column (see ``cell_text``); none: every value as it is.
    kinds: tuple[str, ...] = ()

    @property
    def cells(self) -> list[list[tuple[str, bool]]]:
        """The rows as the page shows them: (text, is a number) per cell."""
        kinds = self.kinds or ("text",) * len(self.header)
        return [
            [(cell_text(v, k), k not in ("text", "day")) for v, k in zip(row, kinds, strict=True)]
            for row in self.rows
        ]


def _kind(spec: ChartSpec) -> str:
    if spec.unit == "%":
        return "rate"
    if spec.unit == "$":
        return "usd"
    return "ms" if spec.key == "latency" else "count"


def chart_table(spec: ChartSpec, days: list[Row]) -> Table:
    return Table(
        header=[_("Day"), *(name for name, _value in spec.columns)],
        rows=[
            [row.key, *(_rounded(value(row.figures)) for _name, value in spec.columns)]
            for row in days
        ],
        kinds=("day", *(_kind(spec) for _column in spec.columns)),
    )


def breakdown_table(first: str, rows: list[Row]) -> Table:
    return Table(
        header=[first, *(name for name, _value in BREAKDOWN_COLUMNS)],
        rows=[
            [row.label, *(_rounded(value(row.figures)) for _name, value in BREAKDOWN_COLUMNS)]
            for row in rows
        ],
        kinds=("text", *BREAKDOWN_KINDS),
    )


def chart_of(spec: ChartSpec, days: list[Row]) -> Chart:
    return chart_build(
        key=spec.key,
        title=gettext(spec.title),
        labels=[row.key for row in days],
        series=[
            Series(gettext(name), [value(row.figures) for row in days])
            for name, value in spec.columns
        ],
        kind=spec.kind,
        unit=spec.unit,
    )


def _rounded(value):
    return round(value, 6) if isinstance(value, float) else value


# --- answer quality (golden questions) -----------------------------------------------

QUALITY_COLUMNS: tuple[tuple[str, Callable], ...] = (
    ("nDCG@10", lambda d: d.ndcg),
    ("Recall@10", lambda d: d.recall),
    (_("Correct answer/no answer"), lambda d: d.correct),
    (_("Helpful (feedback)"), lambda d: d.helpful_rate),
)


def quality_table(days: list) -> Table:
    """The quality chart's figures: a golden run's means and the feedback, per day."""
    return Table(
        header=[_("Day"), *(name for name, _value in QUALITY_COLUMNS)],
        rows=[[d.day.isoformat(), *(_rounded(v(d)) for _name, v in QUALITY_COLUMNS)] for d in days],
        kinds=("day", "score", "rate", "rate", "rate"),
    )


def quality_chart(days: list) -> Chart:
    return chart_build(
        key="quality",
        title=gettext("Answer quality and feedback"),
        labels=[d.day.isoformat() for d in days],
        series=[Series(gettext(name), [value(d) for d in days]) for name, value in QUALITY_COLUMNS],
        kind="line",
        unit="%",
    )
