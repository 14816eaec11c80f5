"""Supervisors' figures: where the cases stand, how companies answer, how fast cases end.

One page with a chart, a table and a CSV download per figure; the numbers come from casework.staff.stats.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Sequence

from flask import Blueprint, Response, abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.orm import Session

from casework.access import route_rule
from casework.db import utcnow
from casework.staff import stats
from casework.staff.stats import (
    CHANNEL_LABELS,
    CHANNELS,
    OUTCOME_LABELS,
    DeliveryFigure,
    Figures,
    MedianFigure,
    OutcomeFigure,
    OverdueFigure,
    RefundFigure,
    StatusFigure,
    one_decimal,
    percent,
)
from casework.staff.svg import Bar, Column, bar_chart, column_chart
from casework.web import db

bp = Blueprint("stats", __name__, url_prefix="/staff/stats")

DEFAULT_DAYS = 30
MIN_DAYS, MAX_DAYS = 7, 365
Cell = str | int
Table = tuple[list[str], list[list[Cell]]]


def window(raw: str | None) -> tuple[int, str | None]:
    """The daily charts' window in days; anything but a whole number from 7 to 365 gives 30 and a notice."""
    if raw is None or raw == "":
        return DEFAULT_DAYS, None
    value = raw.strip()
    if value.isascii() and value.isdigit() and len(value) <= 3 and MIN_DAYS <= int(value) <= MAX_DAYS:
        return int(value), None
    return DEFAULT_DAYS, (f"The window must be a whole number of days from {MIN_DAYS} to {MAX_DAYS}; "
                          f"showing the last {DEFAULT_DAYS} days.")


@bp.get("")
@route_rule("supervisor")
def index() -> ResponseReturnValue:
    days, notice = window(request.args.get("days"))
    figures = stats.all_figures(db(), utcnow(), days)
    return render_template("staff/stats.html", f=figures, charts=charts(figures), notice=notice,
                           as_of=_as_of(figures), percent=percent, one_decimal=one_decimal,
                           outcome_labels=OUTCOME_LABELS, channel_labels=CHANNEL_LABELS, channels=CHANNELS,
                           min_days=MIN_DAYS, max_days=MAX_DAYS, user=current_user)


def _as_of(figures: Figures) -> str:
    return figures.as_of.strftime("%Y-%m-%d %H:%M:%S UTC")


@bp.get("/<figure>.csv")
@route_rule("supervisor")
def download(figure: str) -> ResponseReturnValue:
    build = CSV_TABLES.get(figure)
    if build is None:
        abort(404)
    days, _ = window(request.args.get("days"))
    now = utcnow()
    header, rows = build(db(), now, days)
    name = f"casework-{figure}-{now.strftime('%Y-%m-%d')}.csv"
    response = Response(csv_text(header, rows), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """RFC 4180 quoting and CRLF, UTF-8 with a byte-order mark so spreadsheets read accents right; a text
    cell starting like a formula gets a leading apostrophe so a spreadsheet shows it instead of running it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return out.getvalue().encode("utf-8-sig")


def _cell(value: Cell) -> Cell:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _status_table(figure: StatusFigure) -> Table:
    return ["status", "label", "cases"], [[r.status.value, r.label, r.count] for r in figure.rows]


def _outcomes_table(figure: OutcomeFigure) -> Table:
    header = ["company", *[o.value for o in figure.outcomes], "total"]
    return header, [[r.company, *r.counts, r.total] for r in figure.rows]


def _refunds_table(figure: RefundFigure) -> Table:
    header = ["company", "asked_for_refund", "refunded_in_full", "refunded_in_part", "succeeded",
              "success_rate_percent"]
    return header, [[r.company, r.asked, r.refunded, r.partial, r.succeeded,
                     "" if r.rate is None else f"{r.rate * 100:.1f}"] for r in [*figure.rows, figure.overall]]


def _resolution_table(figure: MedianFigure) -> Table:
    return ["company", "cases", "median_days"], [
        [r.company, r.cases, "" if r.median_days is None else f"{r.median_days:.1f}"]
        for r in [*figure.rows, figure.overall]]


def _deliveries_table(figure: DeliveryFigure) -> Table:
    return ["day_utc", *CHANNELS, "total"], [[r.day.isoformat(), *r.counts, r.total] for r in figure.rows]


def _overdue_table(figure: OverdueFigure) -> Table:
    return ["company", "cases", "answer_overdue", "escalation_due"], [
        [r.company, r.cases, r.answer_overdue, r.escalation_due] for r in figure.rows]


# Each download runs its own figure's query only.
CSV_TABLES: dict[str, Callable[[Session, dt.datetime, int], Table]] = {
    "status": lambda s, now, days: _status_table(stats.cases_by_status(s)),
    "outcomes": lambda s, now, days: _outcomes_table(stats.outcomes_by_company(s)),
    "refunds": lambda s, now, days: _refunds_table(stats.refund_success(s)),
    "resolution-time": lambda s, now, days: _resolution_table(stats.median_resolution(s)),
    "deliveries": lambda s, now, days: _deliveries_table(stats.deliveries_per_day(s, now.date(), days)),
    "overdue": lambda s, now, days: _overdue_table(stats.overdue_answers(s, now.date())),
}


def charts(f: Figures) -> dict[str, Markup]:
    """One SVG per figure; the tables on the page carry the same numbers."""
    return {
        "status": bar_chart("chart-status", "Cases by status", f"{f.status.total} cases in all.", [],
                            [Bar(r.label, (r.count,), str(r.count)) for r in f.status.rows]),
        "outcomes": bar_chart(
            "chart-outcomes", "Outcomes by company",
            f"{f.outcomes.total} finished cases, one bar per company, split by outcome.",
            [OUTCOME_LABELS[o] for o in f.outcomes.outcomes],
            [Bar(r.company, tuple(float(c) for c in r.counts), str(r.total)) for r in f.outcomes.rows],
            empty="No finished cases yet."),
        "refunds": bar_chart(
            "chart-refunds", "Refund success rate by company",
            f"Overall {percent(f.refunds.overall.rate)} of {f.refunds.overall.asked} finished refund requests.",
            [], [Bar(r.company, ((r.rate or 0) * 100,), f"{percent(r.rate)} (n = {r.asked})")
                 for r in f.refunds.rows], empty="No finished cases yet.", full=100),
        "resolution": bar_chart(
            "chart-resolution", "Median days to resolution by company",
            f"Overall median {one_decimal(f.resolution.overall.median_days)} days over "
            f"{f.resolution.overall.cases} cases.",
            [], [Bar(r.company, (r.median_days or 0,), f"{one_decimal(r.median_days)} d (n = {r.cases})")
                 for r in f.resolution.rows], empty="No resolved cases yet."),
        "deliveries": column_chart(
            "chart-deliveries", "Letters delivered per day",
            f"{f.deliveries.total} deliveries from {f.deliveries.first_day.isoformat()} to "
            f"{f.deliveries.last_day.isoformat()} (UTC days), stacked by channel.",
            [CHANNEL_LABELS[c] for c in CHANNELS],
            [Column(r.day, tuple(float(c) for c in r.counts)) for r in f.deliveries.rows]),
        "overdue": bar_chart(
            "chart-overdue", "Overdue company answers by company",
            f"{f.overdue.total} open cases whose company answer is overdue or whose escalation is due.",
            [], [Bar(r.company, (r.cases,), str(r.cases)) for r in f.overdue.rows],
            empty="No overdue answers."),
    }
