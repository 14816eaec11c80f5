"""The queue's reads: filters from a URL, one keyset page in urgency order, counts per status.

The order is the stored ``Case.urgency_on`` then ``Case.id`` (both kept by :mod:`casework.cases.urgency`), so
a page is one index range scan after the previous page's last row: the cursor holds that row's
(urgency_on, id) and the next page starts strictly after it, with no OFFSET however deep the page. Every
filter lives in the URL, so a filtered list can be shared; values that make no sense are dropped with a
notice rather than refused, because a stale bookmark should still open the queue.

Every query here is written so that an index bounds it (tests/staff/test_queue_plans.py reads the plans): the
open queue, one status (several statuses are one branch per status, merged in order), an assignee, the cases
needing review, the failed deliveries, an e-mail address (``lower(consumer_email)`` on PostgreSQL), a
reference, or a name (a trigram index on PostgreSQL, for three characters or more; a shorter name is looked
for among the newest cases only). The counts per status without any other filter are the trigger-kept
totals of :mod:`casework.cases.status_counts`, never a count of the table.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import (
    ColumnElement,
    Executable,
    Select,
    String,
    and_,
    func,
    literal_column,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.orm import Session, aliased, load_only

from casework.cases import clock, urgency
from casework.cases.models import Case
from casework.cases.states import FINISHED, CaseStatus
from casework.cases.status_counts import status_counts
from casework.cases.urgency import NO_DEADLINE
from casework.catalog import default_catalog
from casework.db import is_postgresql
from casework.letters.models import Letter
from casework.mail.models import OutboundEmail
from casework.staff import duplicates
from casework.staff.models import StaffUser
from casework.staff.queue_line import QUEUE_LINE_COLUMNS, queue_line_only

PAGE_SIZE = 50
# Counts under a filter stop at this many matching cases (then shown as lower bounds): counting fetches
# each matching row, and past a thousand the exact figure helps nobody work the queue (the stats page has
# the totals). Without filters the counts are the kept totals and always exact.
COUNT_CAP = 1_000
# A search by part of a name that matches hundreds of cases is too broad to count further: finding each
# match means reading names one by one (a common surname is in every twentieth case).
NAME_SEARCH_COUNT_CAP = 200
OPEN_STATUSES = tuple(status for status in CaseStatus if status not in FINISHED)
CLOCK_STATUSES = (CaseStatus.SENT, CaseStatus.FOLLOW_UP)
MAX_WITHIN_DAYS = 366
MAX_SEARCH = 254
REFERENCE_RE = re.compile(r"CW-\d{4}-[0-9A-Z]{8}", re.IGNORECASE)
TRUE_VALUES = frozenset({"1", "on", "true", "yes"})
FALSE_VALUES = frozenset({"", "0", "off", "false", "no"})
NEEDS_REVIEW = "Needs review"
FAILED_DELIVERY = "Failed e-mail or letter"
POSSIBLE_DUPLICATE = "Possible duplicate"
BAD_CURSOR = "That page link is no longer valid, so the list starts from the top."
# A name shorter than a trigram cannot use the name index: it is looked for among the newest cases only.
MIN_NAME_SEARCH = 3
RECENT_CASES = 10_000
SHORT_NAME = (f"Names shorter than {MIN_NAME_SEARCH} characters are looked for among the newest "
              f"{RECENT_CASES:,} cases only; type more of the name to search every case.")


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
    # True when more than ``count_cap`` cases match the other filters: the counts are then of the first
    # ``count_cap`` + 1 found (at least that many), not of them all.
    counts_capped: bool = False
    count_cap: int = 0
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


def _status_branches(filters: QueueFilters) -> list[ColumnElement[bool]]:
    """One condition per branch of the page's query: the open queue, or each chosen status on its own, so each
    branch is a range of ``ix_cases_status_queue`` already in urgency order (an IN list would need a sort)."""
    if not filters.statuses:
        return [_is_open()]
    return [Case.status == status for status in filters.statuses]


def _has_failure() -> ColumnElement[bool]:
    """A failed e-mail or a failed letter of the case: something a caseworker has to send another way.

    Written as ``id IN (… UNION ALL …)`` rather than two EXISTS joined by OR: PostgreSQL turns the IN into
    one hashed semi-join over the two partial indexes of failed rows, where the OR of EXISTS costs a subplan
    per case (and, on a large table, a JIT compilation per query)."""
    failed_emails = select(OutboundEmail.case_id).where(OutboundEmail.status == "failed",
                                                        OutboundEmail.case_id.is_not(None))
    failed_letters = select(Letter.case_id).where(Letter.status == "failed")
    return Case.id.in_(union_all(failed_emails, failed_letters))


def _like_escaped(value: str) -> str:
    """``value`` matched literally by LIKE/ILIKE with PostgreSQL's default escape character."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _name_condition(search: str, postgresql: bool, newest: int) -> ColumnElement[bool]:
    """Part of a name, any case: ILIKE on PostgreSQL (its trigram index serves a pattern of three characters or
    more), LIKE on SQLite (which has no such index). A shorter name looks at the cases after id ``newest`` -
    RECENT_CASES only, a bound given as a value so the planner sees a primary-key range."""
    condition: ColumnElement[bool]
    if postgresql:
        condition = Case.consumer_name.ilike(f"%{_like_escaped(search)}%")
    else:
        condition = func.lower(Case.consumer_name).contains(search.lower(), autoescape=True)
    if len(search) >= MIN_NAME_SEARCH:
        return condition
    return and_(condition, Case.id > newest - RECENT_CASES)


def _search_condition(search: str, postgresql: bool, newest: int) -> ColumnElement[bool]:
    """A reference (exact), an e-mail address (exact, any case) or part of a name (any case).

    The address is compared as ``lower(consumer_email) = lower(:q)``, the expression PostgreSQL's
    ``ix_cases_email_lower`` is built on."""
    if REFERENCE_RE.fullmatch(search):
        return Case.reference == search.upper()
    if "@" in search:
        return func.lower(Case.consumer_email) == func.lower(search)
    return _name_condition(search, postgresql, newest)


def _is_short_name(search: str | None) -> bool:
    return (search is not None and len(search) < MIN_NAME_SEARCH and "@" not in search
            and not REFERENCE_RE.fullmatch(search))


def _assignee_condition(assignee: str, me: int) -> ColumnElement[bool]:
    if assignee == "mine":
        return Case.assignee_id == me
    if assignee == "unassigned":
        return Case.assignee_id.is_(None)
    return Case.assignee_id == int(assignee)


def _overdue(today: dt.date) -> ColumnElement[bool]:
    """A company answer overdue, or an escalation due, on a case waiting for the company.

    Such a case's urgency is at most its answer date (before today) or the consumer's day when escalation
    became due (set to "now", so at most tomorrow in UTC terms): the bound on ``urgency_on`` changes no answer
    and makes the query an index range."""
    return and_(Case.status.in_(CLOCK_STATUSES), Case.urgency_on <= today + dt.timedelta(days=1),
                or_(Case.answer_due_on < today, Case.escalation_due_at.is_not(None)))


def _act_by_within(today: dt.date, days: int) -> ColumnElement[bool]:
    """An act-by date within ``days``. A finished case has no deadline (see :mod:`casework.cases.urgency`), so
    saying "open" changes no answer and lets the open queue's index give the range, for the counts too."""
    return and_(_is_open(), Case.urgency_on <= today + dt.timedelta(days=days))


def _other_conditions(filters: QueueFilters, me: int, today: dt.date, postgresql: bool,
                      newest: int = 0) -> list[ColumnElement[bool]]:
    """Every condition but the status one (the counts per status are taken under these); ``newest`` is the
    highest case id, for a short name search."""
    conditions: list[ColumnElement[bool]] = []
    if filters.company:
        conditions.append(Case.provider_slug == filters.company)
    if filters.assignee:
        conditions.append(_assignee_condition(filters.assignee, me))
    if filters.answer_overdue:
        conditions.append(_overdue(today))
    if filters.within_days is not None:
        conditions.append(_act_by_within(today, filters.within_days))
    if filters.failed:
        conditions.append(_has_failure())
    if filters.needs_review:
        # Bare, as the partial index says it: SQLAlchemy would write "= 1" on SQLite, which misses that index.
        conditions.append(literal_column("cases.needs_review"))
    if filters.search:
        conditions.append(_search_condition(filters.search, postgresql, newest))
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


def _counts_query(others: list[ColumnElement[bool]], cap: int) -> Select[str, int] | None:
    """The count per status under the other filters, of at most ``cap`` + 1 matching cases, or None when
    there are none (the kept totals answer). A filter matching most of a million cases (one company, a common
    name) would otherwise count them all on every page view."""
    if not others:
        return None
    # Grouped by an expression, not the bare column: SQLite would otherwise walk all of ix_cases_status_queue
    # for its order instead of reading the filter's index and sorting the few rows found.
    status = literal_column("cases.status || ''", String).label("status")
    found = select(status).select_from(Case).where(*others).limit(cap + 1).subquery()
    return select(found.c.status, func.count()).group_by(found.c.status)


def count_cap(filters: QueueFilters) -> int:
    """How many matching cases a page counts at most under these filters."""
    search = filters.search
    if search and "@" not in search and not REFERENCE_RE.fullmatch(search):
        return min(COUNT_CAP, NAME_SEARCH_COUNT_CAP)
    return COUNT_CAP


def _counts(session: Session, others: list[ColumnElement[bool]], cap: int) -> tuple[dict[str, int], bool]:
    """Per status: the trigger-kept totals without other filters, else a count bounded by their index and by
    ``cap``; and whether the cap was reached."""
    query = _counts_query(others, cap)
    if query is None:
        return status_counts(session), False
    counts = {status.value: 0 for status in CaseStatus}
    for status, number in session.execute(query):
        counts[CaseStatus(status).value] = int(number)
    return counts, sum(counts.values()) > cap


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
    doubled = duplicates.duplicate_ids(session, rows)
    for case in rows:
        if case.needs_review:
            flags[case.id].append(NEEDS_REVIEW)
        if case.id in failed:
            flags[case.id].append(FAILED_DELIVERY)
        if case.id in doubled:
            flags[case.id].append(POSSIBLE_DUPLICATE)
    return flags


def _assignee_names(session: Session, rows: list[Case]) -> dict[int, str]:
    ids = {case.assignee_id for case in rows if case.assignee_id is not None}
    if not ids:
        return {}
    found = session.execute(select(StaffUser.id, StaffUser.name).where(StaffUser.id.in_(ids)))
    return {staff_id: name for staff_id, name in found}


def _rows_query(branches: list[ColumnElement[bool]], others: list[ColumnElement[bool]],
                after: tuple[dt.date, int] | None, limit: int) -> Executable:
    """The page: each branch in (urgency_on, id) order after the cursor; several branches merged in that order."""
    queries = []
    for branch in branches:
        query = select(Case).options(queue_line_only()).where(branch, *others)
        if after is not None:
            # The row value (urgency_on, id) > (d, i), i.e. urgency_on > d OR (urgency_on = d AND id > i):
            # both databases read it as the start of an index range.
            query = query.where(tuple_(Case.urgency_on, Case.id) > tuple_(*after))
        queries.append(query.order_by(Case.urgency_on, Case.id).limit(limit + 1))
    if len(queries) == 1:
        return queries[0]
    # Each branch ordered and limited on its own, inside a subquery: PostgreSQL then merges the branches'
    # index ranges (Merge Append) where a bare UNION ALL under one ORDER BY is read whole and sorted.
    merged = union_all(*(select(query.subquery()) for query in queries)).subquery("page")
    page = aliased(Case, merged, adapt_on_names=True)
    line = load_only(*(getattr(page, column.key) for column in QUEUE_LINE_COLUMNS), raiseload=True)
    return select(page).options(line).order_by(page.urgency_on, page.id).limit(limit + 1)


def queue_page(session: Session, filters: QueueFilters, *, me: int, cursor: str | None, now: dt.datetime,
               limit: int = PAGE_SIZE) -> QueuePage:
    """One page after ``cursor`` (opaque; a bad one starts from the top), ordered by urgency then id."""
    filters, notices = _checked_assignee(session, filters)
    after = decode_cursor(cursor) if cursor else None
    if cursor and after is None:
        notices.append(BAD_CURSOR)
    newest = 0
    if _is_short_name(filters.search):
        notices.append(SHORT_NAME)
        newest = session.execute(select(func.max(Case.id))).scalar_one() or 0
    today = (now if now.tzinfo is None else now.astimezone(dt.UTC)).date()  # naive means UTC
    others = _other_conditions(filters, me, today, is_postgresql(session), newest)
    rows: list[Case] = list(session.scalars(_rows_query(_status_branches(filters), others, after, limit)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].urgency_on, rows[-1].id) if more and rows else None
    cap = count_cap(filters)
    counts, capped = _counts(session, others, cap)
    return QueuePage(rows=rows, next_cursor=next_cursor, counts=counts, counts_capped=capped, count_cap=cap,
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
    if case.urgency_kind == urgency.REVIEW_DUE:
        return f"review overdue since {day}" if case.urgency_on < today else f"review due {day}"
    return f"act by {day} ({case.urgency_kind.replace('_', ' ')})"
