"""Claiming cases against the real database: "take next" hands every case to exactly one caseworker even
when many ask at once, in the queue's order; assign, reassign and release follow the roles' rules."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from casework.cases.filing import file_case
from casework.cases.models import Case, CaseEvent
from casework.cases.states import Actor, CaseStatus, Outcome
from casework.db import WRITE_INTENT, utcnow
from casework.runtime import Runtime
from casework.staff.accounts import create_staff
from casework.staff.claiming import TAKE_STATUSES, ClaimRefused, assign, take_next
from casework.staff.models import StaffUser
from tests.support.factories import case_facts
from tests.support.writes import writing

pytestmark = pytest.mark.storage
KEY = "k" * 40
PASSWORD = "correct horse battery"
WORKERS = 8
CASES = 60
FIRST_DUE = dt.date(2030, 1, 1)


def new_case(session: Session, status: CaseStatus, *, due: dt.date | None = None,
             deadlines: Iterable[dict[str, str]] = (), assignee: int | None = None) -> Case:
    """A filed case moved to ``status``; its urgency comes only from ``due`` and ``deadlines``."""
    filed = file_case(session, case_facts(), KEY)
    case = session.get_one(Case, filed.case_id)
    case.status = status
    case.assessment = dict(case.assessment or {}, deadlines=list(deadlines))
    case.answer_due_on = due
    case.assignee_id = assignee
    if status in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
        case.outcome = Outcome.CANCELLED
        case.resolved_at = utcnow()
    session.flush()
    return case


def new_staff(session: Session, name: str, role: str = "caseworker") -> StaffUser:
    return create_staff(session, f"{name}@casework.test", name.title(), PASSWORD, role=role)


def seed_claimable(runtime: Runtime, count: int) -> dict[int, int]:
    """``count`` unassigned cases in every claimable status, committed; their versions by id."""
    with writing(runtime) as session:
        cases = [new_case(session, TAKE_STATUSES[i % len(TAKE_STATUSES)], due=FIRST_DUE + dt.timedelta(days=i % 7))
                 for i in range(count)]
        return {case.id: case.version for case in cases}


def assigned_events(session: Session) -> list[CaseEvent]:
    return list(session.scalars(select(CaseEvent).where(CaseEvent.action == "assigned").order_by(CaseEvent.id)))


def claim_until_empty(runtime: Runtime, staff_id: int, barrier: threading.Barrier, claimed: list[int],
                      errors: list[BaseException], *, look_first: bool) -> None:
    """One caseworker taking cases until none is left, each in its own transaction. ``look_first`` reads the
    caseworker's account in the same transaction first, as a POST request does when it loads the user (its
    session declares the intent to write, as the web app's does)."""
    options = {WRITE_INTENT: True} if look_first else {}
    try:
        with runtime.sessions(execution_options=options) as session:
            barrier.wait(timeout=30)
            while True:
                if look_first:
                    session.get_one(StaffUser, staff_id, populate_existing=True)
                case = take_next(session, staff_id, utcnow())
                session.commit()
                if case is None:
                    return
                claimed.append(case.id)
    except BaseException as exc:  # handed to the test's thread
        errors.append(exc)


def run_caseworkers(runtime: Runtime, staff_ids: list[int], *, look_first: bool) -> dict[int, list[int]]:
    barrier = threading.Barrier(len(staff_ids))
    claimed: dict[int, list[int]] = {staff_id: [] for staff_id in staff_ids}
    errors: list[BaseException] = []
    threads = [threading.Thread(target=claim_until_empty, daemon=True,
                                args=(runtime, staff_id, barrier, claimed[staff_id], errors),
                                kwargs={"look_first": look_first})
               for staff_id in staff_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a caseworker never finished"
    if errors:
        raise errors[0]
    return claimed


@pytest.mark.parametrize("look_first", [False, True], ids=["take-only", "like-a-request"])
def test_parallel_caseworkers_never_get_the_same_case(committed: Runtime, look_first: bool) -> None:
    versions = seed_claimable(committed, CASES)
    with writing(committed) as session:
        staff_ids = [new_staff(session, f"worker{i}").id for i in range(WORKERS)]

    claimed = run_caseworkers(committed, staff_ids, look_first=look_first)

    owner = {case_id: staff_id for staff_id, ids in claimed.items() for case_id in ids}
    assert sum(len(ids) for ids in claimed.values()) == CASES  # nobody got a case twice
    assert set(owner) == set(versions)  # and every case went to someone
    with committed.sessions() as session:
        cases = {case.id: case for case in session.scalars(select(Case))}
        events = assigned_events(session)
    assert {case_id: case.assignee_id for case_id, case in cases.items()} == owner
    assert {case_id: case.version for case_id, case in cases.items()} == {k: v + 1 for k, v in versions.items()}
    assert all(case.assigned_at is not None for case in cases.values())
    assert sorted(event.case_id for event in events) == sorted(versions)  # one "assigned" event per case
    for event in events:
        assert event.actor is Actor.STAFF
        assert event.actor_staff_id == owner[event.case_id]
        assert event.data == {"to": owner[event.case_id], "how": "take_next"}


def test_take_next_follows_the_queue_order_and_skips_what_is_not_waiting(committed: Runtime) -> None:
    far = {"kind": "renewal", "date": "2099-06-30", "act_by": "2099-06-25"}
    with writing(committed) as session:
        me = new_staff(session, "taker")
        other = new_staff(session, "other")
        later = new_case(session, CaseStatus.SENT, due=dt.date(2030, 1, 5))
        soonest = new_case(session, CaseStatus.SENT, due=dt.date(2030, 1, 2))
        same_day = new_case(session, CaseStatus.FOLLOW_UP, due=dt.date(2030, 1, 2))
        undated = new_case(session, CaseStatus.READY)
        with_deadline = new_case(session, CaseStatus.NEEDS_INFO, deadlines=[far])
        new_case(session, CaseStatus.SENT, due=dt.date(2029, 1, 1), assignee=other.id)
        new_case(session, CaseStatus.NEW, deadlines=[{"kind": "refund_window_end", "date": "2029-01-02",
                                                      "act_by": "2029-01-01"}])
        new_case(session, CaseStatus.RESOLVED, due=dt.date(2029, 1, 1))
        new_case(session, CaseStatus.CLOSED)
        expected = [soonest.id, same_day.id, later.id, with_deadline.id, undated.id]
        me_id = me.id

    taken: list[int] = []
    with committed.sessions() as session:
        while (case := take_next(session, me_id, utcnow())) is not None:
            assert case.assignee_id == me_id
            taken.append(case.id)
            session.commit()
            stored = session.get_one(Case, case.id)
            assert (stored.assignee_id, stored.assigned_at is not None) == (me_id, True)
        assert take_next(session, me_id, utcnow()) is None
        session.commit()
    assert taken == expected


def test_take_next_does_not_wait_for_an_uncommitted_claim_on_postgresql(committed: Runtime) -> None:
    if committed.engine.dialect.name != "postgresql":
        pytest.skip("row locks with SKIP LOCKED are PostgreSQL's; SQLite has one writer at a time")
    with writing(committed) as session:
        first_id = new_case(session, CaseStatus.SENT, due=dt.date(2030, 1, 1)).id
        second_id = new_case(session, CaseStatus.SENT, due=dt.date(2030, 1, 2)).id
        alice, bob = new_staff(session, "alice").id, new_staff(session, "bob").id

    with committed.sessions() as holding, committed.sessions() as other:
        held = take_next(holding, alice, utcnow())
        assert held is not None
        assert held.id == first_id
        # Waiting for the held row would fail at once instead of blocking.
        other.execute(text("SET LOCAL lock_timeout = '50ms'"))
        other.execute(text("SET LOCAL statement_timeout = '5s'"))
        got = take_next(other, bob, utcnow())
        assert got is not None
        assert got.id == second_id
        other.commit()
        holding.rollback()  # the first claim is given up: the case waits again

    with committed.sessions() as session:
        again = take_next(session, bob, utcnow())
        session.commit()
        assert again is not None
        assert again.id == first_id
        owners = {row.id: row.assignee_id for row in session.execute(select(Case.id, Case.assignee_id))}
    assert owners == {first_id: bob, second_id: bob}


@pytest.fixture
def people(committed: Runtime) -> dict[str, int]:
    with writing(committed) as session:
        made = {name: new_staff(session, name, role) for name, role in
                [("carol", "caseworker"), ("dave", "caseworker"), ("sue", "supervisor"),
                 ("gone", "caseworker")]}
        made["gone"].active = False
        return {name: user.id for name, user in made.items()}


def assign_as(runtime: Runtime, case_id: int, to: str | None, by: str, people: dict[str, int]) -> Case:
    """Assign in one committed transaction; the case as stored afterwards."""
    with writing(runtime) as session:
        case = session.get_one(Case, case_id)
        target = session.get_one(StaffUser, people[to]) if to is not None else None
        assign(session, case, target, session.get_one(StaffUser, people[by]), utcnow())
    with runtime.sessions() as session:
        return session.get_one(Case, case_id)


def refusal(runtime: Runtime, case_id: int, to: str | None, by: str, people: dict[str, int]) -> ClaimRefused:
    """The refusal of an assignment; nothing was written."""
    with runtime.sessions() as session:
        before = session.get_one(Case, case_id)
        snapshot = (before.assignee_id, before.version)
        target = session.get_one(StaffUser, people[to]) if to is not None else None
        with pytest.raises(ClaimRefused) as refused:
            assign(session, before, target, session.get_one(StaffUser, people[by]), utcnow())
        session.rollback()
        after = session.get_one(Case, case_id, populate_existing=True)
        assert (after.assignee_id, after.version) == snapshot
    return refused.value


def staff_events(runtime: Runtime, case_id: int) -> list[tuple[str, int | None, dict[str, Any]]]:
    with runtime.sessions() as session:
        rows = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.actor == Actor.STAFF)
                               .order_by(CaseEvent.id))
        return [(event.action, event.actor_staff_id, event.data) for event in rows]


def test_a_caseworker_takes_an_unassigned_case_and_releases_it(committed: Runtime, people: dict[str, int]) -> None:
    with writing(committed) as session:
        case_id = new_case(session, CaseStatus.SENT, due=FIRST_DUE).id
        version = session.get_one(Case, case_id).version
    taken = assign_as(committed, case_id, "carol", "carol", people)
    assert (taken.assignee_id, taken.assigned_at is not None, taken.version) == (people["carol"], True, version + 1)
    released = assign_as(committed, case_id, None, "carol", people)
    assert (released.assignee_id, released.assigned_at, released.version) == (None, None, version + 2)
    assert staff_events(committed, case_id) == [
        ("assigned", people["carol"], {"to": people["carol"], "from": None}),
        ("released", people["carol"], {"to": None, "from": people["carol"]}),
    ]


def test_a_caseworker_cannot_move_someone_elses_case(committed: Runtime, people: dict[str, int]) -> None:
    with writing(committed) as session:
        unassigned = new_case(session, CaseStatus.READY).id
        carols = new_case(session, CaseStatus.SENT, due=FIRST_DUE, assignee=people["carol"]).id
    assert refusal(committed, carols, "dave", "dave", people).forbidden  # taking it over
    assert refusal(committed, carols, None, "dave", people).forbidden  # releasing it
    assert refusal(committed, unassigned, "dave", "carol", people).forbidden  # giving a case away
    assert refusal(committed, carols, "dave", "carol", people).forbidden  # handing their own on
    assert not refusal(committed, carols, "carol", "carol", people).forbidden  # already theirs: a conflict
    assert staff_events(committed, carols) == []


def test_a_supervisor_reassigns_and_releases_any_case(committed: Runtime, people: dict[str, int]) -> None:
    with writing(committed) as session:
        case_id = new_case(session, CaseStatus.ESCALATED, assignee=people["carol"]).id
    assert assign_as(committed, case_id, "dave", "sue", people).assignee_id == people["dave"]
    assert assign_as(committed, case_id, None, "sue", people).assignee_id is None
    assert assign_as(committed, case_id, "sue", "sue", people).assignee_id == people["sue"]
    assert staff_events(committed, case_id) == [
        ("assigned", people["sue"], {"to": people["dave"], "from": people["carol"]}),
        ("released", people["sue"], {"to": None, "from": people["dave"]}),
        ("assigned", people["sue"], {"to": people["sue"], "from": None}),
    ]


@pytest.mark.parametrize("status", [CaseStatus.RESOLVED, CaseStatus.CLOSED])
def test_finished_cases_are_not_assigned(committed: Runtime, people: dict[str, int], status: CaseStatus) -> None:
    with writing(committed) as session:
        case_id = new_case(session, status).id
    refused = refusal(committed, case_id, "sue", "sue", people)
    assert not refused.forbidden
    assert "reopen" in str(refused)
    assert refusal(committed, case_id, "carol", "carol", people) is not None


def test_a_disabled_account_gets_no_case(committed: Runtime, people: dict[str, int]) -> None:
    with writing(committed) as session:
        case_id = new_case(session, CaseStatus.SENT, due=FIRST_DUE).id
    refused = refusal(committed, case_id, "gone", "sue", people)
    assert not refused.forbidden
    assert "disabled" in str(refused)
    assert staff_events(committed, case_id) == []
