"""A tiny server-side SVG chart renderer: no JavaScript, every text escaped, readable by screen readers.

Each chart is ``<svg role="img" aria-labelledby="…">`` with its ``<title>`` and ``<desc>``; the page puts the
same numbers in a table next to it. Colours come from the stylesheet (``chart-s0`` … ``chart-s7``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
LABEL_WIDTH = 200
VALUE_WIDTH = 110
ROW_HEIGHT = 26
BAR_HEIGHT = 16
LEGEND_HEIGHT = 26
LABEL_CHARACTERS = 28
PLOT_LEFT = 44
PLOT_BOTTOM = 34
PLOT_HEIGHT = 180
SERIES_CLASSES = 8


@dataclass(frozen=True)
class Bar:
    """One horizontal bar: its label, its segments (one per series, stacked) and the text at its end."""

    label: str
    values: tuple[float, ...]
    text: str


@dataclass(frozen=True)
class Column:
    """One day of a column chart: its segments (one per series, stacked)."""

    day: dt.date
    values: tuple[float, ...]


def _t(value: object) -> Markup:
    return escape(str(value))


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARACTERS else label[: LABEL_CHARACTERS - 1] + "…"


def _num(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _finished(svg: str) -> Markup:
    """The one place markup is trusted: every text inside went through ``_t`` (escape) on the way in."""
    return Markup(svg)  # noqa: S704 - built only from escaped texts and formatted numbers


def _open(chart_id: str, title: str, desc: str, height: int) -> str:
    ident = _t(chart_id)
    return (
        f'<svg class="chart" role="img" aria-labelledby="{ident}-title {ident}-desc" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{ident}-title">{_t(title)}</title><desc id="{ident}-desc">{_t(desc)}</desc>'
    )


def _legend(series: Sequence[str]) -> tuple[str, int]:
    """One swatch and name per series, wrapped into rows; nothing for a single series. Returns its height too."""
    if len(series) < 2:
        return "", 4
    parts, x, y = [], 0, 0
    for index, name in enumerate(series):
        width = 24 + 7 * len(name)
        if x and x + width > WIDTH:
            x, y = 0, y + LEGEND_HEIGHT - 6
        parts.append(f'<rect class="chart-s{index % SERIES_CLASSES}" x="{x}" y="{y + 5}" width="12" height="12"/>'
                     f'<text class="chart-legend" x="{x + 16}" y="{y + 15}">{_t(name)}</text>')
        x += width
    return f'<g class="chart-legend-row">{"".join(parts)}</g>', y + LEGEND_HEIGHT


def _empty(chart_id: str, title: str, desc: str, message: str) -> Markup:
    return _finished(_open(chart_id, title, desc, 40)
                     + f'<text class="chart-empty" x="0" y="24">{_t(message)}</text></svg>')


def bar_chart(chart_id: str, title: str, desc: str, series: Sequence[str], bars: Sequence[Bar],
              empty: str = "Nothing to show yet.", full: float | None = None) -> Markup:
    """Horizontal bars, one per row, stacked by series, scaled to ``full`` (a rate's 100) or the longest bar."""
    if not bars:
        return _empty(chart_id, title, desc, empty)
    legend, top = _legend(series)
    height = top + ROW_HEIGHT * len(bars) + 4
    longest = full or max(sum(b.values) for b in bars) or 1
    scale = (WIDTH - LABEL_WIDTH - VALUE_WIDTH) / longest
    rows = [_bar_row(bar, series, top + ROW_HEIGHT * i, scale) for i, bar in enumerate(bars)]
    return _finished(_open(chart_id, title, desc, height) + legend + "".join(rows) + "</svg>")


def _bar_row(bar: Bar, series: Sequence[str], y: int, scale: float) -> str:
    x = float(LABEL_WIDTH)
    bar_y = y + (ROW_HEIGHT - BAR_HEIGHT) // 2
    segments = []
    for index, value in enumerate(bar.values):
        if value <= 0:
            continue
        width = value * scale
        name = series[index] if index < len(series) else ""
        tip = f"{bar.label} — {name}: {_num(value)}" if name else f"{bar.label}: {_num(value)}"
        segments.append(f'<rect class="chart-s{index % SERIES_CLASSES}" x="{x:.1f}" y="{bar_y}" '
                        f'width="{width:.1f}" height="{BAR_HEIGHT}"><title>{_t(tip)}</title></rect>')
        x += width
    baseline = y + ROW_HEIGHT // 2 + 5
    return (f'<g class="chart-row"><title>{_t(bar.label)}</title>'
            f'<text class="chart-label" x="{LABEL_WIDTH - 8}" y="{baseline}" text-anchor="end">'
            f'{_t(_short(bar.label))}</text>{"".join(segments)}'
            f'<text class="chart-value" x="{x + 6:.1f}" y="{baseline}">{_t(bar.text)}</text></g>')


def column_chart(chart_id: str, title: str, desc: str, series: Sequence[str], columns: Sequence[Column]) -> Markup:
    """Daily columns, stacked by series, with a zero line, a top tick and about eight dated ticks."""
    if not columns:
        return _empty(chart_id, title, desc, "No days to show.")
    legend, top = _legend(series)
    top += 10
    height = top + PLOT_HEIGHT + PLOT_BOTTOM
    highest = max(sum(c.values) for c in columns)
    scale = PLOT_HEIGHT / (highest or 1)
    step = (WIDTH - PLOT_LEFT) / len(columns)
    base = top + PLOT_HEIGHT
    parts = [_axis(top, base, highest)]
    every = max(1, round(len(columns) / 8))
    for i, column in enumerate(columns):
        x = PLOT_LEFT + i * step
        parts.append(_column(column, series, x, step, base, scale))
        if i % every == 0:
            parts.append(f'<text class="chart-tick" x="{x + step / 2:.1f}" y="{base + 16}" text-anchor="middle">'
                         f'{_t(column.day.strftime("%d %b"))}</text>')
    return _finished(_open(chart_id, title, desc, height) + legend + "".join(parts) + "</svg>")


def _axis(top: int, base: int, highest: float) -> str:
    return (f'<line class="chart-axis" x1="{PLOT_LEFT}" y1="{base}" x2="{WIDTH}" y2="{base}"/>'
            f'<line class="chart-grid" x1="{PLOT_LEFT}" y1="{top}" x2="{WIDTH}" y2="{top}"/>'
            f'<text class="chart-tick" x="{PLOT_LEFT - 6}" y="{base + 4}" text-anchor="end">0</text>'
            f'<text class="chart-tick" x="{PLOT_LEFT - 6}" y="{top + 4}" text-anchor="end">{_t(_num(highest))}</text>')


def _column(column: Column, series: Sequence[str], x: float, step: float, base: int, scale: float) -> str:
    y = float(base)
    width = max(step - (2 if step > 4 else 0), 1)
    parts = []
    for index, value in enumerate(column.values):
        if value <= 0:
            continue
        h = value * scale
        y -= h
        name = series[index] if index < len(series) else ""
        tip = f"{column.day.isoformat()} — {name}: {_num(value)}"
        parts.append(f'<rect class="chart-s{index % SERIES_CLASSES}" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
                     f'height="{h:.1f}"><title>{_t(tip)}</title></rect>')
    return "".join(parts)
