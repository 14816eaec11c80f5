"""The queue's order: a case's urgency computed from its status, company clock and deadlines in the
consumer's zone; kept up to date by the flush hook and, as the calendar moves, by the sweep."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from casework.cases import urgency
from casework.cases.filing import file_case
from casework.cases.models import Case, CaseEvent
from casework.cases.review import add_working_days, review_due
from casework.cases.states import Actor, CaseStatus, Outcome
from casework.cases.urgency import ANSWER_DUE, ESCALATION_DUE, NO_DEADLINE, REVIEW_DUE, Urgency, compute
from casework.cases.urgency_sweep import refresh_batch, refresh_expired
from casework.db import WRITE_INTENT, utcnow
from casework.runtime import Runtime
from tests.support.factories import case_facts
from tests.support.writes import writing

pytestmark = pytest.mark.dates

KEY = "k" * 40
MELBOURNE = "Australia/Melbourne"  # UTC+11 in November
NEW_YORK = "America/New_York"  # UTC-5 in November
# 14:00 UTC: already the 28th in Melbourne, still the morning of the 27th in New York.
NOW = dt.datetime(2026, 11, 27, 14, 0, tzinfo=dt.UTC)


def deadline(kind: str, day: dt.date, act_by: dt.date) -> dict[str, Any]:
    return {"kind": kind, "date": day.isoformat(), "act_by": act_by.isoformat(), "passed": False}


def urgency_now(status: CaseStatus = CaseStatus.SENT, *, deadlines: list[dict[str, Any]] | None = None,
                timezone: str = MELBOURNE, answer_due_on: dt.date | None = None,
                escalation_due_at: dt.datetime | None = None, now: dt.datetime = NOW) -> Urgency:
    return compute(status=status, assessment={"deadlines": deadlines or []}, timezone=timezone,
                   answer_due_on=answer_due_on, escalation_due_at=escalation_due_at, now=now)


def end_of_day(day: dt.date, zone: str) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), ZoneInfo(zone)).astimezone(dt.UTC)


REFUND = deadline("refund_window_end", dt.date(2026, 12, 4), dt.date(2026, 12, 3))
RENEWAL = deadline("renewal", dt.date(2027, 11, 20), dt.date(2027, 11, 19))


# --- the pure computation -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [CaseStatus.RESOLVED, CaseStatus.CLOSED])
def test_a_finished_case_has_no_deadline(status: CaseStatus) -> None:
    found = urgency_now(status, deadlines=[REFUND], answer_due_on=dt.date(2026, 11, 1),
                        escalation_due_at=NOW - dt.timedelta(days=3))
    assert found == Urgency(NO_DEADLINE, None, None)


def test_nothing_dated_sorts_last() -> None:
    assert urgency_now(CaseStatus.READY) == Urgency(NO_DEADLINE, None, None)
    no_assessment = compute(status=CaseStatus.READY, assessment=None, timezone=MELBOURNE, answer_due_on=None,
                            escalation_due_at=None, now=NOW)
    assert no_assessment == Urgency(NO_DEADLINE, None, None)


@pytest.mark.parametrize("status", [CaseStatus.SENT, CaseStatus.FOLLOW_UP])
def test_an_overdue_answer_comes_before_any_deadline(status: CaseStatus) -> None:
    overdue = dt.date(2026, 11, 20)
    assert urgency_now(status, deadlines=[REFUND, RENEWAL], answer_due_on=overdue) == Urgency(overdue, ANSWER_DUE,
                                                                                             None)


def test_a_deadline_whose_act_by_comes_first_beats_the_answer_date() -> None:
    found = urgency_now(CaseStatus.SENT, deadlines=[RENEWAL, REFUND], answer_due_on=dt.date(2026, 12, 10))
    assert found == Urgency(dt.date(2026, 12, 3), "refund_window_end", end_of_day(dt.date(2026, 12, 4), MELBOURNE))


@pytest.mark.parametrize("status", [CaseStatus.READY, CaseStatus.NEEDS_INFO, CaseStatus.ESCALATED, CaseStatus.NEW])
def test_the_company_clock_counts_only_while_waiting_for_the_company(status: CaseStatus) -> None:
    found = urgency_now(status, deadlines=[RENEWAL], answer_due_on=dt.date(2026, 11, 20),
                        escalation_due_at=NOW - dt.timedelta(days=1))
    assert found == Urgency(dt.date(2027, 11, 19), "renewal", end_of_day(dt.date(2027, 11, 20), MELBOURNE))


def test_the_earliest_act_by_wins_and_expires_at_the_end_of_its_day_in_the_consumers_zone() -> None:
    found = urgency_now(CaseStatus.READY, deadlines=[RENEWAL, REFUND])
    assert found.on == dt.date(2026, 12, 3)
    assert found.kind == "refund_window_end"
    # The 4th ends at midnight in Melbourne: 13:00 UTC on the 4th.
    assert found.expires_at == dt.datetime(2026, 12, 4, 13, 0, tzinfo=dt.UTC)


def test_whether_a_deadline_has_passed_depends_on_the_consumers_zone() -> None:
    today_utc = deadline("trial_end", dt.date(2026, 11, 27), dt.date(2026, 11, 26))
    # It is already the 28th in Melbourne: the 27th's deadline is over, the renewal comes next.
    assert urgency_now(CaseStatus.READY, deadlines=[today_utc, RENEWAL]).kind == "renewal"
    # Still the 27th in New York: the deadline counts, with its (passed) act-by date, until the day ends there.
    in_new_york = urgency_now(CaseStatus.READY, deadlines=[today_utc, RENEWAL], timezone=NEW_YORK)
    assert in_new_york == Urgency(dt.date(2026, 11, 26), "trial_end", dt.datetime(2026, 11, 28, 5, 0, tzinfo=dt.UTC))


def test_a_passed_deadline_is_ignored() -> None:
    passed = deadline("refund_window_end", dt.date(2026, 11, 1), dt.date(2026, 10, 31))
    assert urgency_now(CaseStatus.READY, deadlines=[passed]) == Urgency(NO_DEADLINE, None, None)
    assert urgency_now(CaseStatus.READY, deadlines=[passed, RENEWAL]).kind == "renewal"


def test_escalation_due_counts_from_its_day_in_the_consumers_zone() -> None:
    # 20:00 UTC on the 25th is already the 26th in Melbourne.
    due_at = dt.datetime(2026, 11, 25, 20, 0, tzinfo=dt.UTC)
    found = urgency_now(CaseStatus.FOLLOW_UP, deadlines=[REFUND], answer_due_on=dt.date(2026, 11, 30),
                        escalation_due_at=due_at)
    assert found == Urgency(dt.date(2026, 11, 26), ESCALATION_DUE, None)
    assert urgency_now(CaseStatus.FOLLOW_UP, answer_due_on=dt.date(2026, 11, 30), escalation_due_at=due_at,
                       timezone=NEW_YORK).on == dt.date(2026, 11, 25)
    later = urgency_now(CaseStatus.SENT, answer_due_on=dt.date(2026, 11, 20), escalation_due_at=due_at)
    assert later.kind == ANSWER_DUE


IN_FIVE_DAYS = (NOW.date() + dt.timedelta(days=5)).isoformat()
IN_FOUR_DAYS = (NOW.date() + dt.timedelta(days=4)).isoformat()


@pytest.mark.parametrize("broken", [
    {"kind": "renewal"},
    {"kind": "renewal", "date": "soon", "act_by": IN_FOUR_DAYS},
    {"kind": "renewal", "date": IN_FIVE_DAYS, "act_by": None},
    {"date": IN_FIVE_DAYS, "act_by": IN_FOUR_DAYS},
])
def test_a_malformed_deadline_is_skipped_and_an_unnamed_one_still_counts(broken: dict[str, Any]) -> None:
    found = urgency_now(CaseStatus.READY, deadlines=[broken, RENEWAL])
    if "kind" in broken:
        assert found.kind == "renewal"
    else:
        assert (found.on, found.kind) == (dt.date(2026, 12, 1), "deadline")


def test_columns_for_an_insert_match_the_computation() -> None:
    values = {"status": CaseStatus.READY, "assessment": {"deadlines": [REFUND]}, "timezone": MELBOURNE}
    assert urgency.columns(values, NOW) == {"urgency_on": dt.date(2026, 12, 3), "urgency_kind": "refund_window_end",
                                            "urgency_expires_at": end_of_day(dt.date(2026, 12, 4), MELBOURNE)}


# --- the flush hook ---------------------------------------------------------------------------------------


def filed(session: Session, **changes: Any) -> Case:
    today = utcnow().date()
    facts = case_facts(payment_date=today - dt.timedelta(days=2), **changes)
    return session.get_one(Case, file_case(session, facts, KEY).case_id)


def stored(session: Session, case: Case) -> tuple[dt.date, str | None, dt.datetime | None]:
    """The urgency columns as the database has them."""
    row = session.execute(select(Case.urgency_on, Case.urgency_kind, Case.urgency_expires_at)
                          .where(Case.id == case.id)).one()
    return row.urgency_on, row.urgency_kind, row.urgency_expires_at


@pytest.mark.storage
def test_filing_stores_the_urgency_of_the_refund_window(db_session: Session) -> None:
    case = filed(db_session)
    refund = next(d for d in (case.assessment or {})["deadlines"] if d["kind"] == "refund_window_end")
    on, kind, expires_at = stored(db_session, case)
    assert (on, kind) == (dt.date.fromisoformat(refund["act_by"]), "refund_window_end")
    assert expires_at == end_of_day(dt.date.fromisoformat(refund["date"]), case.timezone)


@pytest.mark.storage
def test_changing_the_status_or_answer_date_recomputes_on_flush(db_session: Session) -> None:
    case = filed(db_session)
    window = stored(db_session, case)
    today = utcnow().date()

    case.status = CaseStatus.SENT
    case.answer_due_on = today - dt.timedelta(days=3)
    db_session.flush()
    assert stored(db_session, case) == (today - dt.timedelta(days=3), ANSWER_DUE, None)

    case.answer_due_on = today + dt.timedelta(days=400)
    db_session.flush()
    assert stored(db_session, case) == window

    case.status = CaseStatus.READY  # the company's clock stops counting
    case.answer_due_on = today - dt.timedelta(days=10)
    db_session.flush()
    assert stored(db_session, case) == window

    case.status = CaseStatus.RESOLVED
    case.outcome = Outcome.CANCELLED
    db_session.flush()
    assert stored(db_session, case) == (NO_DEADLINE, None, None)


def add_event(session: Session, case: Case, actor: Actor, action: str) -> bool:
    """Write an event; whether the case needs review afterwards, as stored."""
    session.add(CaseEvent(case_id=case.id, at=utcnow(), actor=actor, action=action, data={}))
    session.flush()
    return bool(session.execute(select(Case.needs_review).where(Case.id == case.id)).scalar_one())


@pytest.mark.storage
def test_consumer_news_needs_review_until_staff_act_on_it(db_session: Session) -> None:
    case = filed(db_session)
    assert add_event(db_session, case, Actor.CONSUMER, "response_recorded")
    # Assigning, releasing and notes are not a look at the news.
    assert add_event(db_session, case, Actor.STAFF, "assigned")
    assert add_event(db_session, case, Actor.STAFF, "released")
    assert add_event(db_session, case, Actor.STAFF, "note_added")
    assert not add_event(db_session, case, Actor.STAFF, "reviewed")
    # Consumer events that are not news leave it alone; clock events that are, raise it.
    assert not add_event(db_session, case, Actor.CONSUMER, "email_confirmed")
    assert add_event(db_session, case, Actor.SYSTEM, "escalation_due")
    assert not add_event(db_session, case, Actor.STAFF, "status_changed")
    assert add_event(db_session, case, Actor.CONSUMER, "info_provided")


@pytest.mark.storage
def test_the_review_flag_is_set_on_a_case_not_loaded_in_the_session(db_session: Session) -> None:
    case_id = filed(db_session).id
    db_session.expunge_all()
    db_session.add(CaseEvent(case_id=case_id, at=utcnow(), actor=Actor.CONSUMER, action="refund_received", data={}))
    db_session.flush()
    db_session.expunge_all()
    assert db_session.get_one(Case, case_id).needs_review


# --- the sweep ----------------------------------------------------------------------------------------------


Snapshot = tuple[dt.date, str | None, dt.datetime | None, int, dt.datetime]


def snapshot(session: Session, case_id: int) -> Snapshot:
    row = session.execute(select(Case.urgency_on, Case.urgency_kind, Case.urgency_expires_at, Case.version,
                                 Case.updated_at).where(Case.id == case_id)).one()
    return row.urgency_on, row.urgency_kind, row.urgency_expires_at, row.version, row.updated_at


def ready_case(session: Session, deadlines: list[dict[str, Any]]) -> int:
    case = filed(session)
    case.status = CaseStatus.READY
    case.assessment = dict(case.assessment or {}, deadlines=deadlines)
    session.flush()
    return case.id


@pytest.mark.storage
def test_the_sweep_moves_on_expired_urgency_without_a_version_bump(committed: Runtime) -> None:
    today = utcnow().date()

    def day(n: int) -> dt.date:
        return today + dt.timedelta(days=n)

    with writing(committed) as session:
        expiring = ready_case(session, [deadline("refund_window_end", day(30), day(29)),
                                        deadline("renewal", day(60), day(59))])
        later = ready_case(session, [deadline("renewal", day(90), day(89))])
        waiting = filed(session)
        waiting.status = CaseStatus.SENT
        waiting.answer_due_on = day(5)
        waiting.assessment = dict(waiting.assessment or {}, deadlines=[])
        session.flush()
        clocked = waiting.id
    with committed.sessions() as session:
        before = {case_id: snapshot(session, case_id) for case_id in (expiring, later, clocked)}
    moment = before[expiring][2]
    assert moment == end_of_day(day(30), MELBOURNE)

    with writing(committed) as session:
        assert refresh_batch(session, moment) == 1
    with writing(committed) as session:
        assert refresh_batch(session, moment) == 0  # done once

    with committed.sessions() as session:
        after = {case_id: snapshot(session, case_id) for case_id in (expiring, later, clocked)}
    assert after[expiring][:3] == (day(59), "renewal", end_of_day(day(60), MELBOURNE))
    assert after[expiring][3] == before[expiring][3]  # an open form on the case does not go stale
    assert after[later] == before[later]
    assert after[clocked] == before[clocked]


@pytest.mark.storage
def test_the_sweep_changes_nothing_but_the_urgency(committed: Runtime) -> None:
    today = utcnow().date()
    with writing(committed) as session:
        case_id = ready_case(session, [deadline("refund_window_end", today + dt.timedelta(days=30),
                                                today + dt.timedelta(days=29))])
    with committed.sessions() as session:
        before = snapshot(session, case_id)
    with writing(committed) as session:
        assert refresh_batch(session, before[2] or NOW) == 1
    with committed.sessions() as session:
        after = snapshot(session, case_id)
    assert after[:3] == (NO_DEADLINE, None, None)
    assert after[3:] == before[3:]  # version and updated_at as they were


@pytest.mark.storage
def test_the_sweep_is_not_refused_when_a_caseworker_writes_meanwhile(committed: Runtime) -> None:
    """The sweep reads the expired cases, then writes; a request writing in between must not make it fail
    (SQLite refuses at once to turn a reading transaction into a writing one after another write): the
    request either commits first or waits for the sweep."""
    today = utcnow().date()
    with writing(committed) as session:
        case_id = ready_case(session, [deadline("refund_window_end", today + dt.timedelta(days=30),
                                                today + dt.timedelta(days=29))])
        other_id = ready_case(session, [deadline("renewal", today + dt.timedelta(days=90),
                                                 today + dt.timedelta(days=89))])
    with committed.sessions() as session:
        moment = snapshot(session, case_id)[2]
    assert moment is not None
    writers: list[threading.Thread] = []

    def write_elsewhere() -> None:
        with committed.sessions(execution_options={WRITE_INTENT: True}) as other, other.begin():
            other.execute(update(Case).where(Case.id == other_id).values(consumer_phone="+61 400 000 000"))

    def meanwhile(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not writers and statement.lstrip().upper().startswith("SELECT") and "urgency_expires_at <=" in statement:
            writers.append(threading.Thread(target=write_elsewhere, daemon=True))
            writers[0].start()
            writers[0].join(timeout=2)  # done at once unless the sweep holds the write lock already

    event.listen(committed.engine, "after_cursor_execute", meanwhile)
    try:
        assert refresh_expired(committed, moment) == 1
    finally:
        event.remove(committed.engine, "after_cursor_execute", meanwhile)
    assert len(writers) == 1
    writers[0].join(timeout=30)
    with committed.sessions() as session:
        assert snapshot(session, case_id)[:3] == (NO_DEADLINE, None, None)
        assert session.get_one(Case, other_id).consumer_phone == "+61 400 000 000"


# --- the caseworker's look, by a day the consumer is told -------------------------------------------------------

def test_working_days_skip_the_weekend() -> None:
    friday = dt.date(2031, 1, 3)
    assert friday.weekday() == 4
    assert add_working_days(friday, 2) == dt.date(2031, 1, 7)  # Tuesday
    assert add_working_days(friday + dt.timedelta(days=1), 2) == dt.date(2031, 1, 7)  # from Saturday too
    assert add_working_days(dt.date(2031, 1, 6), 2) == dt.date(2031, 1, 8)  # Monday to Wednesday


def test_a_promised_review_takes_its_place_in_the_queue() -> None:
    today = NOW.astimezone(ZoneInfo(MELBOURNE)).date()
    review_day = today + dt.timedelta(days=2)
    alone = compute(status=CaseStatus.SENT, assessment=None, timezone=MELBOURNE, answer_due_on=today + dt.timedelta(
        days=9), escalation_due_at=None, now=NOW, review_due_on=review_day)
    assert (alone.on, alone.kind) == (review_day, REVIEW_DUE)
    sooner = deadline("refund_window_end", today + dt.timedelta(days=1), today)
    beaten = compute(status=CaseStatus.SENT, assessment={"deadlines": [sooner]}, timezone=MELBOURNE,
                     answer_due_on=None, escalation_due_at=None, now=NOW, review_due_on=review_day)
    assert (beaten.on, beaten.kind) == (today, "refund_window_end")
    finished = compute(status=CaseStatus.RESOLVED, assessment=None, timezone=MELBOURNE, answer_due_on=None,
                       escalation_due_at=None, now=NOW, review_due_on=review_day)
    assert finished == urgency.NONE


@pytest.mark.storage
def test_consumer_news_sets_the_review_day_and_the_look_clears_it(db_session: Session) -> None:
    case = filed(db_session)
    assert add_event(db_session, case, Actor.CONSUMER, "response_recorded")
    due = db_session.execute(select(Case.review_due_on).where(Case.id == case.id)).scalar_one()
    assert due == review_due(utcnow(), case.timezone)
    assert due > utcnow().astimezone(ZoneInfo(case.timezone)).date()
    assert add_event(db_session, case, Actor.CONSUMER, "info_provided")  # still flagged: the day stays as told
    assert db_session.execute(select(Case.review_due_on).where(Case.id == case.id)).scalar_one() == due
    assert not add_event(db_session, case, Actor.STAFF, "reviewed")
    assert db_session.execute(select(Case.review_due_on).where(Case.id == case.id)).scalar_one() is None
