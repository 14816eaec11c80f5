"""Supervisors' figures: each one aggregate query (GROUP BY in the database), returned as plain dataclasses.

The page runs a fixed number of queries whatever the number of cases. The one exception to "aggregate in
the database" is the median on SQLite, which has no percentile function: there the median is taken in Python
over the most recent ``MEDIAN_SAMPLE`` resolutions (one bounded query); PostgreSQL uses ``percentile_cont``.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Date, Float, and_, cast, func, or_, select, tuple_
from sqlalchemy import case as when
from sqlalchemy.orm import Session

from casework.cases.models import Case, Delivery
from casework.cases.states import FINISHED, CaseStatus, Outcome, RequestedOutcome
from casework.catalog import default_catalog
from casework.db import is_postgresql

OTHER = "other"
AWAITING_ANSWER = (CaseStatus.SENT, CaseStatus.FOLLOW_UP)
REFUND_SUCCESS = (Outcome.CANCELLED_REFUNDED, Outcome.CANCELLED_PARTIAL_REFUND)
CHANNELS = ("email", "web_form", "post")
MEDIAN_SAMPLE = 50_000
SECONDS_PER_DAY = 86_400
R = TypeVar("R")

STATUS_LABELS = {
    CaseStatus.NEW: "New (not confirmed)", CaseStatus.NEEDS_INFO: "Needs information",
    CaseStatus.READY: "Ready to deliver", CaseStatus.SENT: "Sent", CaseStatus.FOLLOW_UP: "Followed up",
    CaseStatus.ESCALATED: "Escalated", CaseStatus.RESOLVED: "Resolved", CaseStatus.CLOSED: "Closed",
}
OUTCOME_LABELS = {
    Outcome.CANCELLED: "Cancelled", Outcome.CANCELLED_REFUNDED: "Cancelled, refunded",
    Outcome.CANCELLED_PARTIAL_REFUND: "Cancelled, partly refunded", Outcome.REFUND_DENIED: "Refund denied",
    Outcome.REFUSED: "Refused", Outcome.NO_RESPONSE: "No response",
    Outcome.REDIRECTED_APP_STORE: "Sent to the app store", Outcome.WITHDRAWN: "Withdrawn",
}
CHANNEL_LABELS = {"email": "E-mail", "web_form": "Web form", "post": "Post"}


@dataclass(frozen=True)
class StatusCount:
    status: CaseStatus
    label: str
    count: int


@dataclass(frozen=True)
class StatusFigure:
    rows: list[StatusCount]
    total: int


@dataclass(frozen=True)
class OutcomeRow:
    company: str
    counts: tuple[int, ...]  # in the order of ``Outcome``

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class OutcomeFigure:
    outcomes: tuple[Outcome, ...]
    rows: list[OutcomeRow]
    totals: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.totals)


@dataclass(frozen=True)
class RefundRow:
    company: str
    asked: int  # n: finished cases that asked for a refund
    refunded: int
    partial: int

    @property
    def succeeded(self) -> int:
        return self.refunded + self.partial

    @property
    def rate(self) -> float | None:
        """The share refunded in full or in part; None when nobody asked (no rate to give)."""
        return self.succeeded / self.asked if self.asked else None


@dataclass(frozen=True)
class RefundFigure:
    rows: list[RefundRow]
    overall: RefundRow


@dataclass(frozen=True)
class MedianRow:
    company: str
    cases: int
    median_days: float | None


@dataclass(frozen=True)
class MedianFigure:
    rows: list[MedianRow]
    overall: MedianRow
    exact: bool  # True: percentile_cont over every case; False: Python over the most recent MEDIAN_SAMPLE
    sample_limit: int
    sample_full: bool  # the sample reached its limit: older resolutions were left out


@dataclass(frozen=True)
class DayRow:
    day: dt.date
    counts: tuple[int, ...]  # in the order of CHANNELS

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class DeliveryFigure:
    first_day: dt.date
    last_day: dt.date
    rows: list[DayRow]
    totals: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.totals)


@dataclass(frozen=True)
class OverdueRow:
    company: str
    cases: int
    answer_overdue: int
    escalation_due: int


@dataclass(frozen=True)
class OverdueFigure:
    today: dt.date
    rows: list[OverdueRow]
    total: int


@dataclass(frozen=True)
class Figures:
    as_of: dt.datetime
    days: int
    status: StatusFigure
    outcomes: OutcomeFigure
    refunds: RefundFigure
    resolution: MedianFigure
    deliveries: DeliveryFigure
    overdue: OverdueFigure


def all_figures(session: Session, now: dt.datetime, days: int) -> Figures:
    """Every figure of the page, as of ``now`` (six queries, seven on PostgreSQL, whatever the number of cases)."""
    return Figures(now, days, cases_by_status(session), outcomes_by_company(session), refund_success(session),
                   median_resolution(session), deliveries_per_day(session, now.date(), days),
                   overdue_answers(session, now.date()))


def company_label(slug: str, typed_name: str | None) -> str:
    """The catalog's name; for a company not in the catalog, the name as the consumer typed it."""
    if slug == OTHER:
        return typed_name or "Company not in the catalog (no name given)"
    provider = default_catalog().get(slug)
    return provider.name if provider is not None else slug


def _typed_name() -> ColumnElement[Any]:
    return when((Case.provider_slug == OTHER, Case.company["name"].as_string()), else_=None)


def _company(row: Any) -> str:
    return company_label(row[0], row[1])


def cases_by_status(session: Session) -> StatusFigure:
    counts: dict[CaseStatus, int] = {status: count for status, count in
                                     session.execute(select(Case.status, func.count()).group_by(Case.status))}
    rows = [StatusCount(status, STATUS_LABELS[status], counts.get(status, 0)) for status in CaseStatus]
    return StatusFigure(rows, sum(r.count for r in rows))


def outcomes_by_company(session: Session) -> OutcomeFigure:
    typed = _typed_name()
    result = session.execute(
        select(Case.provider_slug, typed, Case.outcome, func.count())
        .where(Case.status.in_(FINISHED)).group_by(Case.provider_slug, typed, Case.outcome)
    ).all()
    outcomes = tuple(Outcome)
    by_company: dict[tuple[str, str | None], list[int]] = defaultdict(lambda: [0] * len(outcomes))
    for slug, name, outcome, count in result:
        if outcome is not None:
            by_company[(slug, name)][outcomes.index(outcome)] += count
    rows = _by_size([OutcomeRow(company_label(*key), tuple(counts)) for key, counts in by_company.items()],
                    lambda r: r.total)
    totals = tuple(sum(r.counts[i] for r in rows) for i in range(len(outcomes)))
    return OutcomeFigure(outcomes, rows, totals)


def refund_success(session: Session) -> RefundFigure:
    """Per company with finished cases; a company whose finished cases never asked for a refund has n = 0."""
    typed = _typed_name()
    asked = Case.requested_outcome == RequestedOutcome.CANCEL_AND_REFUND
    result = session.execute(
        select(Case.provider_slug, typed,
               func.sum(when((asked, 1), else_=0)),
               func.sum(when((and_(asked, Case.outcome == Outcome.CANCELLED_REFUNDED), 1), else_=0)),
               func.sum(when((and_(asked, Case.outcome == Outcome.CANCELLED_PARTIAL_REFUND), 1), else_=0)))
        .where(Case.status.in_(FINISHED), Case.merged_into_id.is_(None))  # a merged case's result is its survivor's
        .group_by(Case.provider_slug, typed)
    ).all()
    rows = _by_size([RefundRow(_company(r), int(r[2] or 0), int(r[3] or 0), int(r[4] or 0)) for r in result],
                    lambda r: r.asked)
    overall = RefundRow("All companies", sum(r.asked for r in rows), sum(r.refunded for r in rows),
                        sum(r.partial for r in rows))
    return RefundFigure(rows, overall)


def median_resolution(session: Session) -> MedianFigure:
    """Days from filing to resolution of finished cases that have a resolution time."""
    if is_postgresql(session):
        return _median_postgresql(session)
    return _median_sampled(session)


def _resolved() -> ColumnElement[bool]:
    return and_(Case.status.in_(FINISHED), Case.resolved_at.is_not(None))


def _median_postgresql(session: Session) -> MedianFigure:
    """One pass: GROUPING SETS gives each company's median and the overall one (``grouping`` = 1)."""
    seconds = func.extract("epoch", Case.resolved_at - Case.created_at)
    typed = _typed_name()
    result = session.execute(
        select(Case.provider_slug, typed, func.count(), func.percentile_cont(0.5).within_group(seconds),
               func.grouping(Case.provider_slug))
        .where(_resolved()).group_by(func.grouping_sets(tuple_(Case.provider_slug, typed), tuple_()))
    ).all()
    overall = next((MedianRow("All companies", r[2], _days(r[3])) for r in result if r[4]),
                   MedianRow("All companies", 0, None))
    rows = _by_size([MedianRow(_company(r), r[2], _days(r[3])) for r in result if not r[4]], lambda r: r.cases)
    return MedianFigure(rows, overall, True, MEDIAN_SAMPLE, False)


def _median_sampled(session: Session) -> MedianFigure:
    days = cast(func.julianday(Case.resolved_at) - func.julianday(Case.created_at), Float)
    sample = session.execute(
        select(Case.provider_slug, _typed_name(), days).where(_resolved())
        .order_by(Case.resolved_at.desc(), Case.id.desc()).limit(MEDIAN_SAMPLE)
    ).all()
    by_company: dict[str, list[float]] = defaultdict(list)
    for row in sample:
        by_company[_company(row)].append(float(row[2]))
    rows = _by_size([MedianRow(name, len(values), statistics.median(values)) for name, values in by_company.items()],
                    lambda r: r.cases)
    every = [float(row[2]) for row in sample]
    overall = MedianRow("All companies", len(every), statistics.median(every) if every else None)
    return MedianFigure(rows, overall, False, MEDIAN_SAMPLE, len(sample) >= MEDIAN_SAMPLE)


def _days(seconds: Any) -> float | None:
    return None if seconds is None else float(seconds) / SECONDS_PER_DAY


def deliveries_per_day(session: Session, today: dt.date, days: int) -> DeliveryFigure:
    """Delivery rows per UTC calendar day and channel, over the ``days`` days ending today."""
    first = today - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(first, dt.time.min, tzinfo=dt.UTC)
    end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
    day = (cast(func.timezone("UTC", Delivery.at), Date) if is_postgresql(session)
           else func.date(Delivery.at))
    result = session.execute(
        select(day, Delivery.channel, func.count()).where(Delivery.at >= start, Delivery.at < end)
        .group_by(day, Delivery.channel)
    ).all()
    counts: dict[dt.date, list[int]] = {first + dt.timedelta(days=i): [0] * len(CHANNELS) for i in range(days)}
    for raw_day, channel, count in result:
        key = raw_day if isinstance(raw_day, dt.date) else dt.date.fromisoformat(str(raw_day))
        if key in counts and channel in CHANNELS:
            counts[key][CHANNELS.index(channel)] += count
    rows = [DayRow(d, tuple(c)) for d, c in counts.items()]
    totals = tuple(sum(r.counts[i] for r in rows) for i in range(len(CHANNELS)))
    return DeliveryFigure(first, today, rows, totals)


def overdue_answers(session: Session, today: dt.date) -> OverdueFigure:
    """Open cases waiting for the company whose answer is late (due before today) or whose escalation is due."""
    typed = _typed_name()
    late = Case.answer_due_on < today
    escalation = Case.escalation_due_at.is_not(None)
    result = session.execute(
        select(Case.provider_slug, typed, func.count(), func.sum(when((late, 1), else_=0)),
               func.sum(when((escalation, 1), else_=0)))
        .where(Case.status.in_(AWAITING_ANSWER), or_(late, escalation))
        .group_by(Case.provider_slug, typed)
    ).all()
    rows = _by_size([OverdueRow(_company(r), r[2], int(r[3] or 0), int(r[4] or 0)) for r in result],
                    lambda r: r.cases)
    return OverdueFigure(today, rows, sum(r.cases for r in rows))


def _by_size(rows: Iterable[R], size: Callable[[R], int]) -> list[R]:
    """Biggest first, then by company name, so the charts read from the top."""
    return sorted(rows, key=lambda r: (-size(r), getattr(r, "company", "").casefold()))


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def one_decimal(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"

