"""The queue's reads: filters from a URL, one keyset page in urgency order, counts per status.

The order is the stored ``Case.urgency_on`` then ``Case.id`` (both kept by :mod:`casework.cases.urgency`), so
a page is one index range scan after the previous page's last row: the cursor holds that row's
(urgency_on, id) and the next page starts strictly after it, with no OFFSET however deep the page. Every
filter lives in the URL, so a filtered list can be shared; values that make no sense are dropped with a
notice rather than refused, because a stale bookmark should still open the queue.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, func, literal_column, or_, select, tuple_, union_all
from sqlalchemy.orm import Session

from casework.cases import clock, urgency
from casework.cases.models import Case
from casework.cases.states import CaseStatus
from casework.cases.urgency import NO_DEADLINE
from casework.catalog import default_catalog
from casework.letters.models import Letter
from casework.mail.models import OutboundEmail
from casework.staff.models import StaffUser

PAGE_SIZE = 50
FINISHED = (CaseStatus.RESOLVED, CaseStatus.CLOSED)
OPEN_STATUSES = tuple(status for status in CaseStatus if status not in FINISHED)
CLOCK_STATUSES = (CaseStatus.SENT, CaseStatus.FOLLOW_UP)
MAX_WITHIN_DAYS = 366
MAX_SEARCH = 254
REFERENCE_RE = re.compile(r"CW-\d{4}-[0-9A-Z]{8}", re.IGNORECASE)
TRUE_VALUES = frozenset({"1", "on", "true", "yes"})
FALSE_VALUES = frozenset({"", "0", "off", "false", "no"})
NEEDS_REVIEW = "Needs review"
FAILED_DELIVERY = "Failed e-mail or letter"
BAD_CURSOR = "That page link is no longer valid, so the list starts from the top."


@dataclass(frozen=True)
class QueueFilters:
    """Every filter of the queue; the defaults are the open cases, most urgent first."""

    statuses: tuple[CaseStatus, ...] = ()  # empty: every open status
    company: str | None = None  # provider slug
    assignee: str | None = None  # "mine" | "unassigned" | a staff id as text
    answer_overdue: bool = False
    within_days: int | None = None  # act-by date within N days of today
    failed: bool = False  # a failed e-mail or letter
    needs_review: bool = False
    search: str | None = None  # reference, consumer e-mail or name


@dataclass(frozen=True)
class QueuePage:
    rows: list[Case]
    next_cursor: str | None
    counts: dict[str, int]  # per status value, under the other filters
    flags: dict[int, list[str]] = field(default_factory=dict)
    # What the page needs besides: filters dropped while querying (an unknown staff id, a bad cursor)
    # with their notices, the filters actually applied, and the names of the page's assignees.
    notices: list[str] = field(default_factory=list)
    filters: QueueFilters = QueueFilters()
    assignees: dict[int, str] = field(default_factory=dict)


# --- filters from and to a URL -----------------------------------------------------------------------------


def _values(args: Mapping[str, str] | object, name: str) -> list[str]:
    """Every value of ``name``: a MultiDict gives them all, a plain mapping its one value."""
    getlist = getattr(args, "getlist", None)
    if callable(getlist):
        return [str(value) for value in getlist(name)]
    if isinstance(args, Mapping):
        value = args.get(name)
        if value is None:
            return []
        return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
    return []


def _shown(value: str) -> str:
    """A value as quoted back in a notice: short, whatever was sent."""
    return value if len(value) <= 40 else value[:40] + "…"


def _one(args: Mapping[str, str] | object, name: str) -> str:
    values = _values(args, name)
    return values[-1].strip() if values else ""


def _statuses(args: Mapping[str, str] | object, notices: list[str]) -> tuple[CaseStatus, ...]:
    known = {status.value: status for status in CaseStatus}
    chosen: list[CaseStatus] = []
    for raw in _values(args, "status"):
        value = raw.strip()
        if not value:
            continue
        if value not in known:
            notices.append(f"Ignored status={_shown(value)}: not a status.")
        elif known[value] not in chosen:
            chosen.append(known[value])
    # Every status at once is the same list as the default plus the finished ones; keep the order stable.
    return tuple(status for status in CaseStatus if status in chosen)


def _company(args: Mapping[str, str] | object, notices: list[str]) -> str | None:
    value = _one(args, "company")
    if not value:
        return None
    if default_catalog().get(value) is None:
        notices.append(f"Ignored company={_shown(value)}: not a company in the catalog.")
        return None
    return value


def _assignee(args: Mapping[str, str] | object, notices: list[str]) -> str | None:
    """"mine", "unassigned" or a staff id; whether that id is an active account is checked by the query."""
    value = _one(args, "assignee")
    if not value:
        return None
    if value in ("mine", "unassigned") or (value.isascii() and value.isdigit() and len(value) <= 10):
        return value if not value.isdigit() else str(int(value))
    notices.append(f"Ignored assignee={_shown(value)}: not a caseworker.")
    return None


def _flag(args: Mapping[str, str] | object, name: str, notices: list[str]) -> bool:
    value = _one(args, name).lower()
    if value in TRUE_VALUES:
        return True
    if value not in FALSE_VALUES:
        notices.append(f"Ignored {name}={_shown(value)}: use {name}=1.")
    return False


def _within(args: Mapping[str, str] | object, notices: list[str]) -> int | None:
    value = _one(args, "within")
    if not value:
        return None
    if value.isascii() and value.isdigit() and int(value) <= MAX_WITHIN_DAYS:
        return int(value)
    notices.append(f"Ignored within={_shown(value)}: give a number of days from 0 to {MAX_WITHIN_DAYS}.")
    return None


def _search(args: Mapping[str, str] | object, notices: list[str]) -> str | None:
    value = " ".join(_one(args, "q").split())  # runs of spaces, tabs and newlines count as one space
    if not value:
        return None
    if len(value) > MAX_SEARCH:
        notices.append(f"Ignored the search: it is longer than {MAX_SEARCH} characters.")
        return None
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        notices.append("Ignored the search: it has characters no name, e-mail address or reference has.")
        return None
    return value


def parse_filters(args: Mapping[str, str] | object) -> tuple[QueueFilters, list[str]]:
    """Filters from query arguments (a werkzeug MultiDict); values that make no sense are dropped, each
    with a notice for the page ("Ignored status=xyz: not a status")."""
    notices: list[str] = []
    filters = QueueFilters(
        statuses=_statuses(args, notices),
        company=_company(args, notices),
        assignee=_assignee(args, notices),
        answer_overdue=_flag(args, "overdue", notices),
        within_days=_within(args, notices),
        failed=_flag(args, "failed", notices),
        needs_review=_flag(args, "review", notices),
        search=_search(args, notices),
    )
    return filters, notices


def query_args(filters: QueueFilters, cursor: str | None = None) -> dict[str, list[str]]:
    """The URL arguments that give these filters back (shareable links, the next page's link)."""
    args: dict[str, list[str]] = {}
    if filters.statuses:
        args["status"] = [status.value for status in filters.statuses]
    for name, value in (("company", filters.company), ("assignee", filters.assignee), ("q", filters.search)):
        if value:
            args[name] = [value]
    for name, on in (("overdue", filters.answer_overdue), ("failed", filters.failed),
                     ("review", filters.needs_review)):
        if on:
            args[name] = ["1"]
    if filters.within_days is not None:
        args["within"] = [str(filters.within_days)]
    if cursor:
        args["after"] = [cursor]
    return args


# --- the cursor --------------------------------------------------------------------------------------------


def encode_cursor(urgency_on: dt.date, case_id: int) -> str:
    """Opaque to the client: the last row's place in the order."""
    raw = f"{urgency_on.isoformat()}.{case_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.date, int] | None:
    """The (urgency_on, id) a cursor holds, or None for anything not made by :func:`encode_cursor`."""
    if not cursor or len(cursor) > 64:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        day, _, case_id = raw.partition(".")
        if not (case_id.isascii() and case_id.isdigit() and len(case_id) <= 18):
            return None
        return dt.date.fromisoformat(day), int(case_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


# --- the query ---------------------------------------------------------------------------------------------


def _is_open() -> ColumnElement[bool]:
    """The open cases, written as the partial index ``ix_cases_open_queue`` says it: SQLite uses a partial index
    only for a condition with the same literals (not bound parameters), and PostgreSQL proves it at once."""
    return Case.status.not_in([literal_column(f"'{status.value}'") for status in FINISHED])


def _status_condition(filters: QueueFilters) -> ColumnElement[bool]:
    if not filters.statuses:
        return _is_open()
    chosen = Case.status.in_(filters.statuses)
    # Open statuses only: the open queue's index gives the order, the statuses are checked on its rows.
    return and_(_is_open(), chosen) if set(filters.statuses) <= set(OPEN_STATUSES) else chosen


def _has_failure() -> ColumnElement[bool]:
    """A failed e-mail or a failed letter of the case: something a caseworker has to send another way.

    Written as ``id IN (… UNION ALL …)`` rather than two EXISTS joined by OR: PostgreSQL turns the IN into
    one hashed semi-join, where the OR of EXISTS costs a subplan per case (and, on a large table, a JIT
    compilation per query)."""
    failed_emails = select(OutboundEmail.case_id).where(OutboundEmail.status == "failed",
                                                        OutboundEmail.case_id.is_not(None))
    failed_letters = select(Letter.case_id).where(Letter.status == "failed")
    return Case.id.in_(union_all(failed_emails, failed_letters))


def _search_condition(search: str) -> ColumnElement[bool]:
    """A reference (exact), an e-mail address (exact, any case) or part of a name (any case)."""
    if REFERENCE_RE.fullmatch(search):
        return Case.reference == search.upper()
    if "@" in search:
        return func.lower(Case.consumer_email) == search.lower()
    return func.lower(Case.consumer_name).contains(search.lower(), autoescape=True)


def _assignee_condition(assignee: str, me: int) -> ColumnElement[bool]:
    if assignee == "mine":
        return Case.assignee_id == me
    if assignee == "unassigned":
        return Case.assignee_id.is_(None)
    return Case.assignee_id == int(assignee)


def _other_conditions(filters: QueueFilters, me: int, today: dt.date) -> list[ColumnElement[bool]]:
    """Every condition but the status one (the counts per status are taken under these)."""
    conditions: list[ColumnElement[bool]] = []
    if filters.company:
        conditions.append(Case.provider_slug == filters.company)
    if filters.assignee:
        conditions.append(_assignee_condition(filters.assignee, me))
    if filters.answer_overdue:
        conditions.append(and_(Case.status.in_(CLOCK_STATUSES),
                               or_(Case.answer_due_on < today, Case.escalation_due_at.is_not(None))))
    if filters.within_days is not None:
        conditions.append(Case.urgency_on <= today + dt.timedelta(days=filters.within_days))
    if filters.failed:
        conditions.append(_has_failure())
    if filters.needs_review:
        # Bare, as the partial index says it: SQLAlchemy would write "= 1" on SQLite, which misses that index.
        conditions.append(literal_column("cases.needs_review"))
    if filters.search:
        conditions.append(_search_condition(filters.search))
    return conditions


def _checked_assignee(session: Session, filters: QueueFilters) -> tuple[QueueFilters, list[str]]:
    """A staff id in the filter must be an active account; otherwise it is dropped with a notice."""
    if filters.assignee is None or not filters.assignee.isdigit():
        return filters, []
    staff_id = int(filters.assignee)
    known = session.execute(select(StaffUser.id).where(StaffUser.id == staff_id, StaffUser.active.is_(True))
                            ).scalar_one_or_none()
    if known is not None:
        return filters, []
    return dataclasses.replace(filters, assignee=None), [f"Ignored assignee={staff_id}: not an active caseworker."]


def _counts(session: Session, conditions: list[ColumnElement[bool]]) -> dict[str, int]:
    counts = {status.value: 0 for status in CaseStatus}
    query = select(Case.status, func.count()).where(*conditions).group_by(Case.status)
    for status, number in session.execute(query):
        counts[CaseStatus(status).value] = int(number)
    return counts


def _failed_ids(session: Session, ids: Iterable[int]) -> set[int]:
    """Which of these cases have a failed e-mail or letter (one query for the page)."""
    wanted = list(ids)
    if not wanted:
        return set()
    emails = select(OutboundEmail.case_id.label("case_id")).where(
        OutboundEmail.case_id.in_(wanted), OutboundEmail.status == "failed")
    letters = select(Letter.case_id.label("case_id")).where(Letter.case_id.in_(wanted), Letter.status == "failed")
    return {int(case_id) for case_id in session.execute(union_all(emails, letters)).scalars() if case_id is not None}


def _flags(session: Session, rows: list[Case]) -> dict[int, list[str]]:
    flags = clock.staff_flags(session, rows)
    failed = _failed_ids(session, (case.id for case in rows))
    for case in rows:
        if case.needs_review:
            flags[case.id].append(NEEDS_REVIEW)
        if case.id in failed:
            flags[case.id].append(FAILED_DELIVERY)
    return flags


def _assignee_names(session: Session, rows: list[Case]) -> dict[int, str]:
    ids = {case.assignee_id for case in rows if case.assignee_id is not None}
    if not ids:
        return {}
    found = session.execute(select(StaffUser.id, StaffUser.name).where(StaffUser.id.in_(ids)))
    return {staff_id: name for staff_id, name in found}


def _rows(session: Session, conditions: list[ColumnElement[bool]], after: tuple[dt.date, int] | None,
          limit: int) -> list[Case]:
    query = select(Case).where(*conditions)
    if after is not None:
        # The row value (urgency_on, id) > (d, i), i.e. urgency_on > d OR (urgency_on = d AND id > i):
        # both databases read it as the start of an index range.
        query = query.where(tuple_(Case.urgency_on, Case.id) > tuple_(*after))
    return list(session.scalars(query.order_by(Case.urgency_on, Case.id).limit(limit + 1)))


def queue_page(session: Session, filters: QueueFilters, *, me: int, cursor: str | None, now: dt.datetime,
               limit: int = PAGE_SIZE) -> QueuePage:
    """One page after ``cursor`` (opaque; a bad one starts from the top), ordered by urgency then id."""
    filters, notices = _checked_assignee(session, filters)
    after = decode_cursor(cursor) if cursor else None
    if cursor and after is None:
        notices.append(BAD_CURSOR)
    today = (now if now.tzinfo is None else now.astimezone(dt.UTC)).date()  # naive means UTC
    others = _other_conditions(filters, me, today)
    rows = _rows(session, [_status_condition(filters), *others], after, limit)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].urgency_on, rows[-1].id) if more and rows else None
    return QueuePage(rows=rows, next_cursor=next_cursor, counts=_counts(session, others),
                     flags=_flags(session, rows), notices=notices, filters=filters,
                     assignees=_assignee_names(session, rows))


def urgency_words(case: Case, today: dt.date) -> str:
    """The case's urgency as a caseworker reads it: what is due by when, and why."""
    day = case.urgency_on.isoformat()
    if case.urgency_kind is None or case.urgency_on == NO_DEADLINE:
        return "no deadline"
    if case.urgency_kind == urgency.ANSWER_DUE:
        if case.urgency_on < today:
            return f"company answer overdue since {day}"
        return f"company answer due {day}"
    if case.urgency_kind == urgency.ESCALATION_DUE:
        return f"escalation due since {day}"
    return f"act by {day} ({case.urgency_kind.replace('_', ' ')})"
