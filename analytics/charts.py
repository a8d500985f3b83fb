"""Server-side SVG charts: the geometry of a small bar or line chart over days.

No JavaScript and no library: the template ``analytics/_chart.html`` draws what
:func:`chart_build` computes, and the colours come from the portal's CSS variables, so
charts follow the light and dark themes, print, and work offline. Each chart is shown
with its data table (the same numbers), which is also what a screen reader reads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 28


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # the bar's tooltip: "2026-03-01: 3"


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    kind: str  # "bar" or "line"
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_bottom: int
    series_names: list[str]
    bars: list[list[Bar]]  # per series (bar charts)
    lines: list[list[str]]  # per series: "x,y x,y" runs, broken where a value is missing
    points: list[list[Bar]]  # per series (line charts): a dot per value, with its tooltip
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    empty: bool


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times 10^k at or above ``value`` (1 for nothing)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power + 1e-12:
            return step * power
    return 10 * power


def _format(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value * 100:.0f}%"
    if unit == "$":
        if value == 0:
            return "$0"
        # Cents hide a day's cost of small models: small amounts keep 2 significant digits.
        return f"${value:.2f}" if value >= 1 else f"${value:.2g}"
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def chart_build(
    *,
    key: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    kind: str = "bar",
    unit: str = "",
) -> Chart:
    """The chart of ``series`` over ``labels`` (days). Bars of several series stand side
    by side; a line is broken where its value is None (a day with nothing to divide by).
    ``unit``: "%" for rates (0..1, the axis then ends at 100%), "$", or "" for counts."""
    count = max(len(labels), 1)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    values = [v for s in series for v in s.values if v is not None]
    top = 1.0 if unit == "%" else nice_ceiling(max(values, default=0))
    band = plot_w / count

    def y_of(value: float) -> float:
        return TOP + plot_h - (value / top) * plot_h

    bars: list[list[Bar]] = []
    lines: list[list[str]] = []
    points: list[list[Bar]] = []
    for index, one in enumerate(series):
        if kind == "bar":
            slot = band * 0.8 / len(series)
            bars.append(
                [
                    Bar(
                        x=round(LEFT + i * band + band * 0.1 + index * slot, 2),
                        y=round(y_of(v or 0), 2),
                        width=round(max(slot, 0.5), 2),
                        height=round(TOP + plot_h - y_of(v or 0), 2),
                        label=f"{labels[i]}: {_format(v or 0, unit)}",
                    )
                    for i, v in enumerate(one.values)
                ]
            )
        else:
            runs, run = [], []
            for i, v in enumerate(one.values):
                if v is None:
                    if run:
                        runs.append(run)
                    run = []
                    continue
                run.append(f"{LEFT + (i + 0.5) * band:.2f},{y_of(v):.2f}")
            if run:
                runs.append(run)
            lines.append([" ".join(r) for r in runs])
            # Dots: a day alone between two days without a value is still seen.
            points.append(
                [
                    Bar(
                        x=round(LEFT + (i + 0.5) * band, 2),
                        y=round(y_of(v), 2),
                        width=0,
                        height=0,
                        label=f"{labels[i]}: {_format(v, unit)}",
                    )
                    for i, v in enumerate(one.values)
                    if v is not None
                ]
            )
    # A count axis has no half ticks ("2.5 questions"): the middle one goes when it would be.
    fractions = (0, 1) if unit == "" and top * 0.5 != int(top * 0.5) else (0, 0.5, 1)
    y_ticks = [Tick(round(y_of(top * f), 2), _format(top * f, unit)) for f in fractions]
    picks = sorted({0, (count - 1) // 2, count - 1}) if labels else []
    x_ticks = [Tick(round(LEFT + (i + 0.5) * band, 2), labels[i][5:]) for i in picks]
    return Chart(
        key=key,
        title=title,
        kind=kind,
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        plot_bottom=TOP + plot_h,
        series_names=[s.name for s in series],
        bars=bars,
        lines=lines,
        points=points,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        empty=not values,
    )
