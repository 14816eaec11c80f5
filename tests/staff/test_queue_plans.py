"""Every query the staff queue runs is served by an index, read from the database's own plan.

The page's SQL is captured as executed (a cursor listener around ``queue_page``) and explained: on PostgreSQL
with sequential scans switched off, since at test scale a scan of the table would be cheaper and the point is
that the query's shape lets an index serve it; on SQLite with EXPLAIN QUERY PLAN. A plan that names the wrong
index, or reads ``cases`` whole, fails. SQLite has no trigram index, so name searches are checked on
PostgreSQL only.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event, insert, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from casework.cases.models import Case
from casework.cases.states import BillingChannel, CaseStatus, Outcome, RequestedOutcome
from casework.cases.urgency import NO_DEADLINE
from casework.db import utcnow
from casework.mail.models import OutboundEmail
from casework.runtime import Runtime
from casework.staff import claiming, queue
from casework.staff.models import StaffUser

pytestmark = pytest.mark.storage
SEEDED = 2000
RARE = 43  # an open case with a name of its own
OPEN_QUEUE = "ix_cases_open_queue"
STATUS_QUEUE = "ix_cases_status_queue"
ASSIGNEE_QUEUE = "ix_cases_assignee_queue"
REVIEW = "ix_cases_needs_review"
FAILED = ("ix_outbound_emails_failed_case", "ix_letters_failed_case")
STATUSES = (*[CaseStatus.RESOLVED] * 6, *[CaseStatus.CLOSED] * 3, CaseStatus.NEW, CaseStatus.NEEDS_INFO,
            CaseStatus.READY, CaseStatus.READY, CaseStatus.SENT, CaseStatus.SENT, CaseStatus.FOLLOW_UP,
            CaseStatus.ESCALATED)
FIRST = ("Ann", "Bo", "Chen", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivo", "June", "Kofi", "Lena")
LAST = ("Smith", "Nguyen", "Okafor", "Rossi", "Tanaka", "Wu", "Keller", "Novak", "Silva", "Haddad", "Berg")


@dataclass(frozen=True)
class Scenario:
    """One page of the queue and the indexes its rows query and its counts query must name: each of them
    ("a|b": either), or None for any index; no counts at all means the kept totals are read, not ``cases``."""

    filters: queue.QueueFilters
    rows: dict[str, tuple[str, ...] | None]
    counts: dict[str, tuple[str, ...] | None] = field(default_factory=dict)
    next_page: bool = False
    postgresql_only: bool = False


def both(*names: str) -> dict[str, tuple[str, ...] | None]:
    return {"postgresql": names, "sqlite": names}


SCENARIOS = {
    "open queue": Scenario(queue.QueueFilters(), both(OPEN_QUEUE)),
    "next page": Scenario(queue.QueueFilters(), both(OPEN_QUEUE), next_page=True),
    "status=sent": Scenario(queue.QueueFilters(statuses=(CaseStatus.SENT,)), both(STATUS_QUEUE)),
    "status=sent&status=ready": Scenario(queue.QueueFilters(statuses=(CaseStatus.READY, CaseStatus.SENT)),
                                         both(STATUS_QUEUE)),
    "status=resolved&status=closed, next page": Scenario(
        queue.QueueFilters(statuses=(CaseStatus.RESOLVED, CaseStatus.CLOSED)), both(STATUS_QUEUE), next_page=True),
    "status=sent&company": Scenario(queue.QueueFilters(statuses=(CaseStatus.SENT,), company="coursera"),
                                    both(STATUS_QUEUE), both("ix_cases_provider_slug")),
    "mine": Scenario(queue.QueueFilters(assignee="mine"), both(ASSIGNEE_QUEUE), both(ASSIGNEE_QUEUE)),
    # Most cases have nobody: walking the open queue finds a page at once.
    "unassigned": Scenario(queue.QueueFilters(assignee="unassigned"), both(f"{ASSIGNEE_QUEUE}|{OPEN_QUEUE}"),
                           both(ASSIGNEE_QUEUE)),
    "overdue": Scenario(queue.QueueFilters(answer_overdue=True), both(f"{STATUS_QUEUE}|{OPEN_QUEUE}"),
                        both(f"{STATUS_QUEUE}|{OPEN_QUEUE}")),
    "within=7": Scenario(queue.QueueFilters(within_days=7), both(OPEN_QUEUE), both(OPEN_QUEUE)),
    "review": Scenario(queue.QueueFilters(needs_review=True), both(REVIEW), both(REVIEW)),
    "failed": Scenario(queue.QueueFilters(failed=True), both(*FAILED), both(*FAILED)),
    # SQLite names a UNIQUE constraint's index itself (sqlite_autoindex_…).
    "reference": Scenario(queue.QueueFilters(search=f"CW-2026-{RARE:08d}"),
                          {"postgresql": ("uq_cases_reference",), "sqlite": None},
                          {"postgresql": ("uq_cases_reference",), "sqlite": None}),
    "e-mail": Scenario(queue.QueueFilters(search=f"person{RARE}@EXAMPLE.com"),
                       {"postgresql": ("ix_cases_email_lower",), "sqlite": ("ix_cases_email_lower",)},
                       {"postgresql": ("ix_cases_email_lower",), "sqlite": ("ix_cases_email_lower",)}),
    # A trigram index costs more than a few thousand rows of the open queue, so at test scale the page walks
    # those; the counts, which have no order to keep, show the pattern is one the trigram index serves.
    "name": Scenario(queue.QueueFilters(search="quill"), {"postgresql": (f"ix_cases_name_trgm|{OPEN_QUEUE}",)},
                     {"postgresql": ("ix_cases_name_trgm",)}, postgresql_only=True),
    "short name": Scenario(queue.QueueFilters(search="wu"), {"postgresql": (f"pk_cases|{OPEN_QUEUE}",)},
                           {"postgresql": ("pk_cases",)}, postgresql_only=True),
}


def seed(session: Session) -> int:
    """A few hundred cases over every status, two caseworkers, some overdue, some to review, some failed."""
    now = utcnow()
    today = now.date()
    staff = [StaffUser(email=f"plan{n}@casework.test", name=f"Plan {n}", password_hash="x") for n in range(2)]
    session.add_all(staff)
    session.flush()
    rows = [case_row(n, now, today, {3: staff[0].id, 7: staff[1].id}.get(n % 10)) for n in range(SEEDED)]
    session.execute(insert(Case), rows)
    first = session.execute(text("SELECT min(id) FROM cases")).scalar_one()
    session.execute(insert(OutboundEmail), [
        {"idempotency_key": f"plan:{n}", "message_id": f"<plan.{n}@casework.test>", "case_id": first + n,
         "kind": "letter_to_company", "sender": "casework@casework.test", "recipients": ["c@example.com"],
         "subject": "Cancellation", "body_text": "Hello", "status": "failed" if n % 10 == 0 else "sent"}
        for n in range(0, SEEDED, 3)])
    session.execute(text("ANALYZE"))
    return staff[0].id


def case_row(n: int, now: dt.datetime, today: dt.date, assignee_id: int | None) -> dict[str, Any]:
    status = STATUSES[n % len(STATUSES)]
    finished = status in (CaseStatus.RESOLVED, CaseStatus.CLOSED)
    clock = status in (CaseStatus.SENT, CaseStatus.FOLLOW_UP)
    answer_due = today + dt.timedelta(days=n % 30 - 10) if clock else None
    urgency = NO_DEADLINE if finished or n % 4 == 0 else today + dt.timedelta(days=n % 50 - 10)
    if answer_due is not None:
        urgency = min(urgency, answer_due)
    return {
        "reference": f"CW-2026-{n:08d}", "status": status, "outcome": Outcome.CANCELLED if finished else None,
        "consumer_name": "Zyta Quillfeather" if n == RARE else f"{FIRST[n % len(FIRST)]} {LAST[n % len(LAST)]}",
        "consumer_email": f"Person{n}@Example.com", "country": "AU", "timezone": "Australia/Melbourne",
        "language": "en", "provider_slug": ("coursera", "netflix", "spotify", "adobe")[n % 4], "plan_slug": "plan",
        "policy_version": "1", "billing_channel": BillingChannel.DIRECT, "payment_date": today,
        "requested_outcome": RequestedOutcome.CANCEL_AND_REFUND, "consent_at": now, "assignee_id": assignee_id,
        "urgency_on": urgency, "answer_due_on": answer_due, "needs_review": n % 20 == 0,
        "escalation_due_at": now if status is CaseStatus.FOLLOW_UP and n % 2 else None,
    }


@pytest.fixture
def captured(runtime: Runtime) -> Iterator[list[tuple[str, Any]]]:
    """The SQL sent to the database (statement and parameters) while the fixture is active."""
    statements: list[tuple[str, Any]] = []

    def seen(conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        statements.append((statement, parameters))

    event.listen(runtime.engine, "before_cursor_execute", seen)
    yield statements
    event.remove(runtime.engine, "before_cursor_execute", seen)


def page_statements(session: Session, scenario: Scenario, me: int,
                    captured: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The statements one page of the scenario runs (the second page's, when it says so)."""
    cursor = None
    if scenario.next_page:
        first = queue.queue_page(session, scenario.filters, me=me, cursor=None, now=utcnow())
        assert first.next_cursor is not None
        cursor = first.next_cursor
    captured.clear()
    page = queue.queue_page(session, scenario.filters, me=me, cursor=cursor, now=utcnow())
    assert page.rows, "the seeded cases give every scenario a row"
    return list(captured)


def reads_cases(statement: str) -> bool:
    return re.search(r"\bFROM cases\b", statement) is not None


def postgresql_plan(connection: Connection, statement: str, parameters: Any) -> list[dict[str, Any]]:
    """Every node of the plan, flattened (sub-plans and init-plans included)."""
    plan = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar_one()
    document = plan if isinstance(plan, list) else json.loads(plan)
    nodes: list[dict[str, Any]] = []
    pending = [document[0]["Plan"]]
    while pending:
        node = pending.pop()
        nodes.append(node)
        pending.extend(node.get("Plans", []))
    return nodes


def sqlite_plan(connection: Connection, statement: str, parameters: Any) -> list[str]:
    return [str(row[3]) for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]


def indexes_used(connection: Connection, statement: str, parameters: Any) -> tuple[set[str], list[str]]:
    """The indexes a plan names, and what it reads of ``cases`` without one (its whole-table scans)."""
    if connection.dialect.name == "postgresql":
        nodes = postgresql_plan(connection, statement, parameters)
        names = {str(node["Index Name"]) for node in nodes if "Index Name" in node}
        scans = [json.dumps(node) for node in nodes
                 if node["Node Type"] == "Seq Scan" and node.get("Relation Name") == "cases"]
        return names, scans
    details = sqlite_plan(connection, statement, parameters)
    names = {found.group(1) for line in details for found in [re.search(r"USING (?:COVERING )?INDEX (\w+)", line)]
             if found}
    scans = [line for line in details if re.fullmatch(r"SCAN cases", line)]
    return names, scans


def check(connection: Connection, statement: str, parameters: Any, expected: tuple[str, ...] | None) -> None:
    names, scans = indexes_used(connection, statement, parameters)
    shown = f"{statement}\n{parameters}\nindexes: {sorted(names)}"
    assert not scans, f"reads cases whole: {scans}\n{shown}"
    if expected is None:
        assert names, f"no index used\n{shown}"
    for choices in expected or ():
        assert names & set(choices.split("|")), f"{choices} not used\n{shown}"


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_queue_query_uses_its_index(db_session: Session, captured: list[tuple[str, Any]],
                                          name: str) -> None:
    scenario = SCENARIOS[name]
    dialect = db_session.get_bind().dialect.name
    if scenario.postgresql_only and dialect != "postgresql":
        pytest.skip("SQLite has no trigram index")
    me = seed(db_session)
    statements = [(sql, params) for sql, params in page_statements(db_session, scenario, me, captured)
                  if reads_cases(sql)]
    rows = [item for item in statements if "ORDER BY" in item[0]]
    counts = [item for item in statements if "GROUP BY" in item[0]]
    others = [item for item in statements if item not in rows + counts]  # the newest id, for a short name
    assert len(rows) == 1, statements
    connection = db_session.connection()
    if dialect == "postgresql":
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    check(connection, *rows[0], scenario.rows[dialect])
    for other in others:
        check(connection, *other, None)
    if not scenario.counts:
        assert counts == [], "without other filters the counts are the kept totals"
        assert any("FROM case_status_deltas" in sql for sql, _ in captured)
        return
    assert len(counts) == 1, statements
    check(connection, *counts[0], scenario.counts[dialect])


def test_a_short_name_looks_at_the_newest_cases_with_a_notice(db_session: Session) -> None:
    me = seed(db_session)
    page = queue.queue_page(db_session, queue.QueueFilters(search="wu"), me=me, cursor=None, now=utcnow())
    assert queue.SHORT_NAME in page.notices
    assert page.rows
    assert all("wu" in case.consumer_name.lower() for case in page.rows)
    longer = queue.queue_page(db_session, queue.QueueFilters(search="quill"), me=me, cursor=None, now=utcnow())
    assert queue.SHORT_NAME not in longer.notices


def test_take_next_reads_only_the_cases_still_to_hand_out(db_session: Session,
                                                           captured: list[tuple[str, Any]]) -> None:
    """Claimed cases leave ``ix_cases_take_next``, so they cannot pile up at the head of the next claim's scan.
    SQLite (no row versions left behind) may as well read the unassigned part of the assignee index."""
    me = seed(db_session)
    captured.clear()
    taken = claiming.take_next(db_session, me, utcnow())
    assert taken is not None
    assert taken.assignee_id == me
    updates = [(sql, params) for sql, params in captured if sql.lstrip().upper().startswith("UPDATE CASES")]
    assert len(updates) == 1, captured
    connection = db_session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        check(connection, *updates[0], ("ix_cases_take_next",))
    else:
        check(connection, *updates[0], ("ix_cases_take_next|ix_cases_assignee_queue",))
