"""Deadline reminders: planned at 09:00 on the consumer's calendar, sent once by the sweep, with a calendar
entry and a one-click way to stop them."""

from __future__ import annotations

import datetime as dt
import email
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from icalendar import Calendar
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from casework.cases.confirmation import issue_code
from casework.cases.filing import assessment_of, file_case
from casework.cases.models import Case, CaseEvent
from casework.cases.states import Actor, BillingChannel, CaseStatus, Outcome, RequestedOutcome
from casework.cases.workflow import (
    confirm,
    confirm_cancelled,
    correct_facts,
    record_response,
    transition,
    withdraw,
)
from casework.db import utcnow
from casework.letters.models import Letter
from casework.mail.compose import build_message, message_id_for
from casework.mail.models import OutboundEmail
from casework.reminders.links import unsubscribe_token
from casework.reminders.models import Reminder
from casework.reminders.planning import plan_reminders
from casework.reminders.sweep import run_reminder_sweep
from casework.runtime import Runtime
from tests.support.factories import case_facts
from tests.support.today import TODAY
from tests.support.waiting import wait_for
from tests.support.writes import writing

pytestmark = pytest.mark.dates

NOW = dt.datetime.combine(TODAY, dt.time(12, 0), tzinfo=dt.UTC)  # the same calendar day in Sydney (22:00/23:00)


def day(offset: int) -> dt.date:
    """A date ``offset`` days from the suite's today, the day every case here is filed on."""
    return TODAY + dt.timedelta(days=offset)


def iso(offset: int) -> str:
    return day(offset).isoformat()


def at_midnight(offset: int) -> dt.datetime:
    return dt.datetime.combine(day(offset), dt.time(0), tzinfo=dt.UTC)


def trial_facts(**changes: Any) -> Any:
    """A Coursera Plus monthly trial, nothing paid yet: deadlines are the trial's end and the first charge."""
    base: dict[str, Any] = {"plan": "coursera-plus-monthly", "payment_date": None, "amount_value": None,
                            "amount_currency": None, "requested_outcome": RequestedOutcome.CANCEL,
                            "trial_start_date": day(-2), "timezone": "Australia/Sydney"}
    base.update(changes)
    return case_facts(**base)


def new_case(session: Session, runtime: Runtime, now: dt.datetime = NOW, **changes: Any) -> Case:
    filed = file_case(session, trial_facts(**changes), runtime.settings.secret_key, now)
    case = session.get(Case, filed.case_id)
    assert case is not None
    return case


def scheduled(session: Session, case_id: int) -> list[tuple[str, dt.date | None, int, dt.datetime]]:
    rows = session.scalars(select(Reminder).where(Reminder.case_id == case_id, Reminder.status == "scheduled")
                           .order_by(Reminder.due_at))
    return [(r.kind, r.deadline, r.lead_days, r.due_at) for r in rows]


def local(day: str, timezone: str) -> dt.datetime:
    """09:00 on ``day`` in ``timezone`` as UTC: what the tests expect every reminder's due time to be."""
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(9), ZoneInfo(timezone)).astimezone(dt.UTC)


def confirm_case(session: Session, runtime: Runtime, case: Case, now: dt.datetime) -> None:
    """Confirm the way the consumer does, with the letter marked rendered (the PDF is not needed here)."""
    letter = session.scalars(select(Letter).where(Letter.case_id == case.id)).one()
    letter.status, letter.pdf, letter.sha256 = "rendered", b"%PDF-1.7 stand-in", "0" * 64
    session.flush()
    _, code = issue_code(session, case.id, letter.id, case.consumer_email, runtime.settings.secret_key, now)
    confirm(session, runtime.settings, case, code, now)


def test_a_trial_gets_trial_end_and_first_charge_reminders_at_nine_in_sydney(
        db_session: Session, runtime: Runtime) -> None:
    case = new_case(db_session, runtime)
    assert scheduled(db_session, case.id) == []  # a letter case is planned when it is confirmed
    confirm_case(db_session, runtime, case, NOW)
    sydney = "Australia/Sydney"
    # Trial from today-2 to today+4 (act by +3), first charge today+5 (act by +4). The 3-day reminder for the
    # trial's end would be today 09:00 in Sydney, already past at NOW (22:00 or 23:00 there): not planned.
    assert scheduled(db_session, case.id) == [
        ("renewal", day(5), 3, local(iso(1), sydney)),
        ("trial_end", day(4), 0, local(iso(3), sydney)),
        ("renewal", day(5), 0, local(iso(4), sydney)),
    ]
    for _, _, _, due in scheduled(db_session, case.id):
        assert due.astimezone(ZoneInfo(sydney)).time() == dt.time(9)  # nine o'clock on the consumer's clock
    recipients = set(db_session.scalars(select(Reminder.recipient).where(Reminder.case_id == case.id)))
    assert recipients == {"jane@example.com"}


def next_end_of_us_daylight_saving() -> dt.date:
    """The first Sunday of November (US daylight saving ends) at least a week after the suite's today."""
    year = TODAY.year
    while True:
        first = dt.date(year, 11, 1)
        sunday = first + dt.timedelta(days=(6 - first.weekday()) % 7)
        if sunday > TODAY + dt.timedelta(days=7):
            return sunday
        year += 1


def test_los_angeles_reminders_follow_the_end_of_daylight_saving(db_session: Session, runtime: Runtime) -> None:
    change = next_end_of_us_daylight_saving()
    now = dt.datetime.combine(change - dt.timedelta(days=5), dt.time(12), tzinfo=dt.UTC)
    case = new_case(db_session, runtime, now, trial_start_date=change - dt.timedelta(days=4), country="US",
                    region="US-CA", timezone="America/Los_Angeles")
    plan_reminders(db_session, case, now)
    due = {(kind, lead): at for kind, _, lead, at in scheduled(db_session, case.id)}

    def utc(offset: int, hour: int) -> dt.datetime:
        return dt.datetime.combine(change + dt.timedelta(days=offset), dt.time(hour), tzinfo=dt.UTC)

    # 09:00 in Los Angeles is 16:00 UTC before the change (PDT) and 17:00 UTC after it (PST).
    assert due == {
        ("trial_end", 3): utc(-2, 16),
        ("renewal", 3): utc(-1, 16),
        ("trial_end", 0): utc(1, 17),
        ("renewal", 0): utc(2, 17),
    }


def test_nothing_in_the_past_is_planned(db_session: Session, runtime: Runtime) -> None:
    case = new_case(db_session, runtime)
    assert plan_reminders(db_session, case, at_midnight(4)) == []
    assert scheduled(db_session, case.id) == []


def test_corrected_facts_cancel_and_replace_the_reminders(db_session: Session, runtime: Runtime) -> None:
    case = new_case(db_session, runtime)
    confirm_case(db_session, runtime, case, NOW)
    before = {r.id for r in db_session.scalars(select(Reminder).where(Reminder.case_id == case.id))}
    assert len(before) == 3
    case.status = CaseStatus.NEW  # correctable again, as for a consumer who spotted a wrong date early
    facts = trial_facts(trial_start_date=day(8), consumer_email="jane.new@example.com")
    correct_facts(db_session, case, facts, assessment_of(facts, NOW), NOW, runtime.settings)
    statuses = dict(db_session.execute(select(Reminder.id, Reminder.status).where(Reminder.id.in_(before))).all())
    assert set(statuses.values()) == {"cancelled"}
    sydney = "Australia/Sydney"
    assert scheduled(db_session, case.id) == [
        ("trial_end", day(14), 3, local(iso(10), sydney)),
        ("renewal", day(15), 3, local(iso(11), sydney)),
        ("trial_end", day(14), 0, local(iso(13), sydney)),
        ("renewal", day(15), 0, local(iso(14), sydney)),
    ]
    new_recipients = db_session.scalars(select(Reminder.recipient).where(Reminder.status == "scheduled",
                                                                          Reminder.case_id == case.id))
    assert set(new_recipients) == {"jane.new@example.com"}


def test_withdrawing_or_resolving_cancels_the_reminders(db_session: Session, runtime: Runtime) -> None:
    withdrawn = new_case(db_session, runtime)
    confirm_case(db_session, runtime, withdrawn, NOW)
    withdraw(db_session, withdrawn, Actor.CONSUMER, NOW)
    resolved = new_case(db_session, runtime)
    confirm_case(db_session, runtime, resolved, NOW)
    assert len(scheduled(db_session, resolved.id)) == 3
    transition(db_session, resolved, CaseStatus.RESOLVED, Actor.STAFF, "resolved", NOW, outcome=Outcome.CANCELLED)
    for case in (withdrawn, resolved):
        assert scheduled(db_session, case.id) == []
        kept = set(db_session.scalars(select(Reminder.status).where(Reminder.case_id == case.id)))
        assert kept == {"cancelled"}


def test_an_app_store_case_cancelled_then_charged_again_is_reminded_again(db_session: Session,
                                                                        runtime: Runtime) -> None:
    case = new_case(db_session, runtime, billing_channel=BillingChannel.APPLE_APP_STORE,
                    next_renewal_date=day(5))
    plan_reminders(db_session, case, NOW)
    assert len(scheduled(db_session, case.id)) == 3
    confirm_cancelled(db_session, case, NOW)
    assert scheduled(db_session, case.id) == []
    record_response(db_session, case, "charged_again", NOW.date(), "Charged again after cancelling.",
                    Actor.CONSUMER, NOW + dt.timedelta(hours=1))
    assert case.status is CaseStatus.NEW
    assert [(kind, lead) for kind, _, lead, _ in scheduled(db_session, case.id)] == [
        ("renewal", 3), ("trial_end", 0), ("renewal", 0)]


def file_app_store_case(runtime: Runtime, now: dt.datetime, confirmed: bool = True, **changes: Any) -> int:
    """An app-store case, its address confirmed unless ``confirmed`` is False (only then do reminders go)."""
    with writing(runtime) as session:
        facts = trial_facts(**{"billing_channel": BillingChannel.APPLE_APP_STORE,
                               "next_renewal_date": day(5), **changes})
        case_id = file_case(session, facts, runtime.settings.secret_key, now).case_id
        if confirmed:
            session.get_one(Case, case_id).email_confirmed_at = now
        return case_id


def test_the_sweep_sends_nothing_to_an_unconfirmed_address_until_it_is_confirmed(committed: Runtime) -> None:
    case_id = file_app_store_case(committed, NOW, confirmed=False)
    assert run_reminder_sweep(committed, NOW) == {"planned_cases": 1, "sent": 0, "cancelled": 0}
    later = at_midnight(3)  # two reminders are due by then
    assert run_reminder_sweep(committed, later) == {"planned_cases": 0, "sent": 0, "cancelled": 0}
    assert [r.status for r in reminders_of(committed, case_id)] == ["scheduled"] * 3
    with committed.sessions() as session:
        assert session.scalars(select(OutboundEmail.id).where(OutboundEmail.kind == "reminder")).all() == []
    with writing(committed) as session:
        session.get_one(Case, case_id).email_confirmed_at = later
    assert run_reminder_sweep(committed, later) == {"planned_cases": 0, "sent": 2, "cancelled": 0}


def reminders_of(runtime: Runtime, case_id: int) -> list[Reminder]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Reminder).where(Reminder.case_id == case_id).order_by(Reminder.id)))


def test_the_sweep_plans_app_store_cases_and_sends_each_due_reminder_once(committed: Runtime) -> None:
    case_id = file_app_store_case(committed, NOW)
    counts = run_reminder_sweep(committed, NOW)
    assert counts == {"planned_cases": 1, "sent": 0, "cancelled": 0}
    assert [r.status for r in reminders_of(committed, case_id)] == ["scheduled"] * 3
    later = at_midnight(3)  # two are due by then, the same-day renewal one not
    assert run_reminder_sweep(committed, later) == {"planned_cases": 0, "sent": 2, "cancelled": 0}
    assert run_reminder_sweep(committed, later) == {"planned_cases": 0, "sent": 0, "cancelled": 0}
    reminders = reminders_of(committed, case_id)
    assert [r.status for r in reminders] == ["sent", "sent", "scheduled"]
    with committed.sessions() as session:
        emails = list(session.scalars(select(OutboundEmail).where(OutboundEmail.kind == "reminder")
                                      .order_by(OutboundEmail.id)))
    assert sorted(e.id for e in emails) == sorted(r.outbound_email_id or 0 for r in reminders[:2])
    domain = committed.settings.message_id_domain
    assert {e.message_id for e in emails} == {message_id_for(f"reminder:{r.id}", domain) for r in reminders[:2]}
    assert emails[0].recipients == ["jane@example.com"]


def test_the_sweep_skips_unsubscribed_and_resolved_cases(committed: Runtime) -> None:
    unsubscribed = file_app_store_case(committed, NOW)
    resolved = file_app_store_case(committed, NOW)
    run_reminder_sweep(committed, NOW)
    with writing(committed) as session:
        session.execute(update(Case).where(Case.id == unsubscribed).values(reminders_unsubscribed_at=NOW))
        session.execute(update(Case).where(Case.id == resolved)
                        .values(status=CaseStatus.RESOLVED, outcome=Outcome.REDIRECTED_APP_STORE))
    counts = run_reminder_sweep(committed, at_midnight(3))
    assert counts == {"planned_cases": 0, "sent": 0, "cancelled": 4}
    for case_id in (unsubscribed, resolved):
        assert [r.status for r in reminders_of(committed, case_id)] == ["cancelled", "cancelled", "scheduled"]
    with committed.sessions() as session:
        assert session.scalars(select(OutboundEmail.id).where(OutboundEmail.kind == "reminder")).all() == []


def test_the_reminder_email_has_the_calendar_entry_and_one_click_unsubscribe(committed: Runtime) -> None:
    case_id = file_app_store_case(committed, NOW)
    run_reminder_sweep(committed, NOW)
    run_reminder_sweep(committed, at_midnight(1))  # the 3-day first-charge one
    with committed.sessions() as session:
        row = session.scalars(select(OutboundEmail).where(OutboundEmail.kind == "reminder")).one()
        message = email.message_from_bytes(build_message(session, row, committed.settings.secret_key).as_bytes())
        reference = session.get_one(Case, case_id).reference
    token = unsubscribe_token(committed.settings.secret_key, case_id)
    url = f"http://casework.test/reminders/unsubscribe/{token}"
    assert message["List-Unsubscribe"] == f"<{url}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Subject"].startswith("In 3 days: ")
    text = next(p for p in message.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    assert f"{day(5):%A} {day(5).day} {day(5):%B %Y}" in text
    assert f"Act by: {day(4):%A} {day(4).day} {day(4):%B %Y}" in text
    assert "http://casework.test/c/" in text
    assert url in text
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert part.get_filename() == f"{reference}-renewal.ics"
    calendar = Calendar.from_ical(part.get_payload(decode=True))
    [event] = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == day(4)
    assert str(event["uid"]) == f"{reference}-renewal-{iso(5)}@{committed.settings.message_id_domain}"
    assert len(event.walk("VALARM")) == 1


def test_unsubscribing_by_page_and_by_one_click(app: Flask, committed: Runtime) -> None:
    case_id = file_app_store_case(committed, NOW)
    run_reminder_sweep(committed, NOW)
    client = app.test_client()
    url = f"/reminders/unsubscribe/{unsubscribe_token(committed.settings.secret_key, case_id)}"
    page = client.get(url)
    assert page.status_code == 200
    assert "Stop deadline reminders" in page.get_data(as_text=True)
    assert reminders_of(committed, case_id)[0].status == "scheduled"  # looking is not unsubscribing
    # A mail client's one-click POST: no session, no CSRF token.
    done = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert "Reminders stopped" in done.get_data(as_text=True)
    assert {r.status for r in reminders_of(committed, case_id)} == {"cancelled"}
    with committed.sessions() as session:
        case = session.get_one(Case, case_id)
        assert case.reminders_unsubscribed_at is not None
        actions = session.scalars(select(CaseEvent.action).where(CaseEvent.case_id == case_id)).all()
    assert actions.count("reminders_unsubscribed") == 1
    assert client.post(url).status_code == 200  # again: still stopped, nothing new
    forged = unsubscribe_token("another-secret-key-" + "y" * 32, case_id)
    for bad in ("not-a-token", forged, unsubscribe_token(committed.settings.secret_key, 10**9)):
        assert client.get(f"/reminders/unsubscribe/{bad}").status_code == 404
        assert client.post(f"/reminders/unsubscribe/{bad}").status_code == 404


@pytest.mark.worker
def test_the_beat_task_sends_a_due_reminder_through_a_real_worker(committed: Runtime, start_worker: Any) -> None:
    now = utcnow()
    case_id = file_app_store_case(committed, now, trial_start_date=now.date() + dt.timedelta(days=2))
    with writing(committed) as session:
        case = session.get_one(Case, case_id)
        [first, *_] = plan_reminders(session, case, now)
        session.flush()
        first.due_at = now - dt.timedelta(minutes=1)
        reminder_id = first.id
    start_worker()
    committed.dispatcher.send("deadlines.sweep", [])
    expected = message_id_for(f"reminder:{reminder_id}", committed.settings.message_id_domain)

    def delivered() -> list[email.message.Message]:
        found = [email.message_from_bytes(p.read_bytes()) for p in committed.settings.outbox.glob("*.eml")]
        return [m for m in found if m["Message-ID"] == expected]

    [message] = wait_for(delivered, 30, "the reminder e-mail in the outbox")
    assert any(p.get_content_type() == "text/calendar" for p in message.walk())
    [reminder] = [r for r in reminders_of(committed, case_id) if r.id == reminder_id]
    assert reminder.status == "sent"

    def recorded() -> OutboundEmail | None:
        with committed.sessions() as session:
            row = session.get_one(OutboundEmail, reminder.outbound_email_id)
        return row if row.status == "sent" else None

    sent = wait_for(recorded, 30, "the reminder e-mail to be recorded as sent")  # the file is written first
    assert (sent.kind, sent.message_id) == ("reminder", expected)


def test_a_worker_killed_mid_sweep_loses_and_doubles_nothing(committed: Runtime, start_worker: Any) -> None:
    now = utcnow()
    case_id = file_app_store_case(committed, now, trial_start_date=now.date() + dt.timedelta(days=2))
    with writing(committed) as session:
        reminders = plan_reminders(session, session.get_one(Case, case_id), now)
        session.flush()
        for reminder in reminders:
            reminder.due_at = now - dt.timedelta(minutes=1)
        due = sorted(r.id for r in reminders)
    assert due

    stuck = start_worker(fault_pause_after_claim_seconds=60)
    committed.dispatcher.send("deadlines.sweep", [])
    wait_for(lambda: stuck.log_path.exists() and "pausing" in stuck.log_path.read_text(errors="replace"), 30,
             "the sweep to claim its batch")
    stuck.kill()  # kill -9 inside the batch's transaction: it rolls back
    assert {r.status for r in reminders_of(committed, case_id) if r.id in due} == {"scheduled"}
    with committed.sessions() as session:
        assert session.execute(select(OutboundEmail.id).where(OutboundEmail.case_id == case_id)).first() is None

    start_worker()
    committed.dispatcher.send("deadlines.sweep", [])
    committed.dispatcher.send("deadlines.sweep", [])  # a duplicate wake-up changes nothing
    expected = {message_id_for(f"reminder:{rid}", committed.settings.message_id_domain) for rid in due}

    def delivered() -> list[str]:
        ids = [email.message_from_bytes(p.read_bytes())["Message-ID"] for p in committed.settings.outbox.glob("*.eml")]
        found = [i for i in ids if i in expected]
        return found if set(found) == expected else []

    found = wait_for(delivered, 60, "every due reminder in the outbox")
    assert sorted(found) == sorted(expected)  # each once
    assert {r.status for r in reminders_of(committed, case_id) if r.id in due} == {"sent"}
    with committed.sessions() as session:
        rows = session.scalars(select(OutboundEmail.message_id).where(OutboundEmail.case_id == case_id,
                                                                      OutboundEmail.kind == "reminder")).all()
    assert sorted(rows) == sorted(expected)
