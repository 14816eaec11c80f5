"""The company's clock: silence brings one follow-up by the letter's channel, a second silence flags
escalation, the caseworker's final notice goes out the same way, and resolved cases close by themselves.

Jobs run in this process (tests/support/jobs.py); time moves by passing ``now`` to the sweep.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from casework.cases import delivery as clock
from casework.cases.clock import overdue_batch, run_clock_sweep, send_final_notice
from casework.cases.filing import file_case
from casework.cases.models import Case, CaseEvent, Delivery
from casework.cases.states import Actor, CaseStatus, Outcome
from casework.cases.workflow import (
    LETTER_TO_COMPANY,
    record_response,
    record_submission,
    start_delivery,
    transition,
)
from casework.catalog import CatalogError, default_catalog, load_catalog
from casework.catalog.loader import CATALOG_DIR
from casework.db import utcnow
from casework.letters.models import Letter
from casework.letters.services import latest_letter
from casework.mail.models import OutboundEmail
from casework.runtime import Runtime
from casework.staff.accounts import create_staff
from casework.web import limiter
from tests.support.factories import case_facts
from tests.support.jobs import run_pending_jobs
from tests.support.mailbox import as_sent_text
from tests.support.web import post_form
from tests.support.writes import writing

pytestmark = [pytest.mark.http, pytest.mark.dates]
PASSWORD = "correct horse battery staple"
ACME = {"name": "Acme Streaming", "email": "cancel@acme.example"}
DAY = dt.timedelta(days=1)


def deliver(runtime: Runtime, *, by_email: bool, **changes: Any) -> int:
    """A filed case whose letter is rendered, confirmed (set directly) and delivered; returns its id."""
    with writing(runtime) as session:
        case_id = file_case(session, case_facts(**changes), runtime.settings.secret_key).case_id
    run_pending_jobs(runtime)
    now = utcnow()
    with writing(runtime) as session:
        case = session.get(Case, case_id)
        assert case is not None
        case.confirmed_at = case.email_confirmed_at = now
        transition(session, case, CaseStatus.READY, Actor.CONSUMER, "confirmed", now)
        if by_email:
            letter = latest_letter(session, case_id)
            assert letter is not None
            start_delivery(session, runtime.settings, case, letter, now)
        else:
            record_submission(session, runtime.settings, case, "web_form", now, "ticket 1", Actor.CONSUMER, now)
    run_pending_jobs(runtime)
    return case_id


def load(runtime: Runtime, case_id: int) -> Case:
    with runtime.sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case


def actions(runtime: Runtime, case_id: int) -> list[str]:
    with runtime.sessions() as session:
        return list(session.scalars(select(CaseEvent.action).where(CaseEvent.case_id == case_id)
                                    .order_by(CaseEvent.id)))


def letters(runtime: Runtime, case_id: int, kind: str) -> list[Letter]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Letter).where(Letter.case_id == case_id, Letter.kind == kind)))


def emails(runtime: Runtime, case_id: int, kind: str) -> list[OutboundEmail]:
    with runtime.sessions() as session:
        return list(session.scalars(select(OutboundEmail).where(OutboundEmail.case_id == case_id,
                                                                OutboundEmail.kind == kind)
                                    .order_by(OutboundEmail.id)))


def local_today(case: Case) -> dt.date:
    return utcnow().astimezone(ZoneInfo(case.timezone)).date()


def test_email_company_gets_a_follow_up_then_escalation_is_flagged(committed: Runtime) -> None:
    case_id = deliver(committed, by_email=True, provider="other", plan="other-monthly", company=ACME)
    case = load(committed, case_id)
    assert case.status is CaseStatus.SENT
    assert case.answer_due_on == local_today(case) + dt.timedelta(days=10)
    now = utcnow()

    assert run_clock_sweep(committed, now + 9 * DAY) == {"follow_ups": 0, "escalations": 0, "closed": 0}
    assert letters(committed, case_id, "follow_up") == []

    assert run_clock_sweep(committed, now + 12 * DAY)["follow_ups"] == 1
    assert run_clock_sweep(committed, now + 12 * DAY) == {"follow_ups": 0, "escalations": 0, "closed": 0}
    case = load(committed, case_id)
    assert (case.follow_ups_sent, case.answer_due_on, case.status) == (1, None, CaseStatus.SENT)
    assert actions(committed, case_id).count("answer_overdue") == 1
    [follow_up] = letters(committed, case_id, "follow_up")
    assert follow_up.status == "pending"
    [told] = emails(committed, case_id, "status_answer_due")  # the consumer hears the company missed its date
    assert told.recipients == ["jane@example.com"]

    run_pending_jobs(committed)
    to_company = emails(committed, case_id, LETTER_TO_COMPANY)
    assert [e.letter_id for e in to_company] == [latest_letter_id(committed, case_id, "cancellation"), follow_up.id]
    sent = to_company[-1]
    assert (sent.status, sent.recipients, sent.cc) == ("sent", ["cancel@acme.example"], ["jane@example.com"])
    assert "Follow-up" in sent.subject
    assert len(emails(committed, case_id, "confirm_letter")) == 1  # no new confirmation for the follow-up
    case = load(committed, case_id)
    assert case.status is CaseStatus.FOLLOW_UP
    assert case.answer_due_on == local_today(case) + dt.timedelta(days=10)
    assert len(emails(committed, case_id, "status_follow_up")) == 1
    with committed.sessions() as session:
        deliveries = list(session.scalars(select(Delivery.letter_id).where(Delivery.case_id == case_id)
                                          .order_by(Delivery.id)))
    assert deliveries[-1] == follow_up.id

    counts = run_clock_sweep(committed, now + 25 * DAY)
    assert (counts["follow_ups"], counts["escalations"]) == (0, 1)
    assert run_clock_sweep(committed, now + 40 * DAY) == {"follow_ups": 0, "escalations": 0, "closed": 0}
    case = load(committed, case_id)
    assert case.escalation_due_at is not None
    assert case.answer_due_on is None
    assert len(letters(committed, case_id, "follow_up")) == 1  # no more automatic letters
    assert letters(committed, case_id, "final_notice") == []
    timeline = actions(committed, case_id)
    assert timeline.index("answer_overdue") < timeline.index("escalation_due")

    with writing(committed) as session:
        found = session.get(Case, case_id)
        assert found is not None
        staff = create_staff(session, "casey@casework.test", "Casey Worker", PASSWORD)
        session.flush()
        send_final_notice(session, committed.settings, found, staff.id, utcnow())
    run_pending_jobs(committed)
    [notice] = letters(committed, case_id, "final_notice")
    assert notice.status == "rendered"
    assert notice.sent_at is not None
    assert emails(committed, case_id, LETTER_TO_COMPANY)[-1].letter_id == notice.id
    assert "Final notice" in emails(committed, case_id, LETTER_TO_COMPANY)[-1].subject


def latest_letter_id(runtime: Runtime, case_id: int, kind: str) -> int:
    with runtime.sessions() as session:
        letter = latest_letter(session, case_id, kind)
        assert letter is not None
        return letter.id


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with writing(committed) as session:
        create_staff(session, "casey@casework.test", "Casey Worker", PASSWORD)
    with app.test_client() as test_client:
        response = post_form(test_client, "/staff/login", {"email": "casey@casework.test", "password": PASSWORD},
                             page="/staff/login")
        assert response.status_code == 303
        yield test_client


def staff_post(client: FlaskClient, runtime: Runtime, case_id: int, action: str, data: dict[str, str]) -> Any:
    case = load(runtime, case_id)
    return post_form(client, f"/staff/cases/{case.reference}/{action}", {"version": str(case.version), **data},
                     page=f"/staff/cases/{case.reference}")


def test_a_web_form_follow_up_is_handed_to_the_consumer_and_flagged(client: FlaskClient,
                                                                    committed: Runtime) -> None:
    case_id = deliver(committed, by_email=False)  # Coursera: the Help Center form
    case = load(committed, case_id)
    assert case.answer_due_on == local_today(case) + dt.timedelta(days=10)
    now = utcnow()
    assert run_clock_sweep(committed, now + 12 * DAY)["follow_ups"] == 1
    run_pending_jobs(committed)

    assert [e.letter_id for e in emails(committed, case_id, LETTER_TO_COMPANY)] == []
    [told] = emails(committed, case_id, "reminder_to_submit")
    assert told.recipients == ["jane@example.com"]
    assert told.status == "sent"
    assert "https://learner.coursera.help/hc/en-us/requests/new" in told.body_text
    link = re.search(r"http://casework\.test/c/[A-Za-z0-9_-]+", as_sent_text(committed, told))
    assert link is not None
    assert client.get(link.group(0).removeprefix("http://casework.test")).status_code == 200
    assert told.attachments[0]["letter_id"] == latest_letter_id(committed, case_id, "follow_up")
    assert "follow_up_to_submit" in actions(committed, case_id)

    case = load(committed, case_id)
    listing = client.get("/staff").get_data(as_text=True)
    assert "Follow-up to submit" in listing
    assert "Escalation due" not in listing
    page = client.get(f"/staff/cases/{case.reference}").get_data(as_text=True)
    assert "Follow-up to submit" in page
    assert "Follow-ups sent</dt><dd>1" in page

    response = staff_post(client, committed, case_id, "delivery", {"channel": "web_form", "confirmation": "T-2"})
    assert response.status_code == 303, response.get_data(as_text=True)
    case = load(committed, case_id)
    assert case.status is CaseStatus.FOLLOW_UP
    assert case.answer_due_on is not None
    assert "Follow-up to submit" not in client.get("/staff").get_data(as_text=True)

    assert run_clock_sweep(committed, now + 30 * DAY)["escalations"] == 1
    assert "Escalation due" in client.get("/staff").get_data(as_text=True)
    page = client.get(f"/staff/cases/{case.reference}").get_data(as_text=True)
    assert "Escalation due since" in page
    assert "Send final notice" in page

    response = staff_post(client, committed, case_id, "final-notice", {})
    assert response.status_code == 303, response.get_data(as_text=True)
    with committed.sessions() as session:
        event = session.execute(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                        CaseEvent.action == "final_notice_requested")).scalar_one()
    assert event.actor is Actor.STAFF
    assert event.actor_staff_id is not None
    assert staff_post(client, committed, case_id, "final-notice", {}).status_code == 409  # once only
    run_pending_jobs(committed)
    [notice] = letters(committed, case_id, "final_notice")
    assert notice.status == "rendered"
    assert emails(committed, case_id, "reminder_to_submit")[-1].attachments[0]["letter_id"] == notice.id
    assert "Final notice to submit" in client.get("/staff").get_data(as_text=True)


def test_the_consumer_submits_the_follow_up_from_the_status_page(client: FlaskClient, committed: Runtime) -> None:
    case_id = deliver(committed, by_email=False)  # Coursera: the Help Center form
    assert run_clock_sweep(committed, utcnow() + 12 * DAY)["follow_ups"] == 1
    run_pending_jobs(committed)
    [told] = emails(committed, case_id, "reminder_to_submit")
    link = re.search(r"http://casework\.test(/c/[A-Za-z0-9_-]+)", as_sent_text(committed, told))
    assert link is not None
    page = client.get(link.group(1)).get_data(as_text=True)
    follow_up_id = latest_letter_id(committed, case_id, "follow_up")
    assert "Your follow-up letter is ready; please submit it yourself" in page
    assert f"/letters/{follow_up_id}.pdf" in page
    response = post_form(client, f"{link.group(1)}/delivery", {"channel": "web_form", "confirmation": "T-9"},
                         page=link.group(1))
    assert response.status_code == 303, response.get_data(as_text=True)
    case = load(committed, case_id)
    assert case.status is CaseStatus.FOLLOW_UP
    assert case.answer_due_on is not None
    assert "ready; please submit it yourself" not in client.get(link.group(1)).get_data(as_text=True)


def test_a_recorded_answer_stops_the_clock(committed: Runtime) -> None:
    case_id = deliver(committed, by_email=False)
    with writing(committed) as session:
        case = session.get(Case, case_id)
        assert case is not None
        record_response(session, case, "retention_offer", local_today(case), "They offered a discount.",
                        Actor.CONSUMER, utcnow())
        assert case.answer_due_on is None
    assert run_clock_sweep(committed, utcnow() + 30 * DAY)["follow_ups"] == 0
    with writing(committed) as session:  # a clock left running despite the answer is stopped, not acted on
        case = session.get(Case, case_id)
        assert case is not None
        case.answer_due_on = local_today(case) - 5 * DAY
    assert run_clock_sweep(committed, utcnow()) == {"follow_ups": 0, "escalations": 0, "closed": 0}
    assert load(committed, case_id).answer_due_on is None
    assert letters(committed, case_id, "follow_up") == []


@pytest.mark.parametrize(("zone", "utc_time", "overdue"), [
    ("Australia/Melbourne", "2026-12-10T12:00", False),  # 23:00 on the due day there
    ("Australia/Melbourne", "2026-12-10T14:00", True),  # 01:00 the next day there
    ("America/Los_Angeles", "2026-12-11T03:00", False),  # 19:00 on the due day there, a day later in UTC
    ("America/Los_Angeles", "2026-12-11T09:00", True),
])
def test_the_due_date_passes_in_the_consumers_calendar(committed: Runtime, zone: str, utc_time: str,
                                                       overdue: bool) -> None:
    case_id = deliver(committed, by_email=False, timezone=zone)
    with writing(committed) as session:
        case = session.get(Case, case_id)
        assert case is not None
        case.answer_due_on = dt.date(2026, 12, 10)
    now = dt.datetime.fromisoformat(utc_time).replace(tzinfo=dt.UTC)
    assert run_clock_sweep(committed, now)["follow_ups"] == int(overdue)
    assert (load(committed, case_id).answer_due_on is None) is overdue


def crash_after_batch(runtime: Runtime, now: dt.datetime) -> None:
    """The batch's work is done in its transaction, then the process dies before the commit."""
    with writing(runtime) as session:
        counts = {"follow_ups": 0, "escalations": 0}
        overdue_batch(session, runtime.settings, now, counts)
        assert counts["follow_ups"] == 1
        raise RuntimeError("worker killed before the commit")


def test_a_batch_killed_before_commit_is_done_once_by_the_next_sweep(committed: Runtime) -> None:
    case_id = deliver(committed, by_email=False)
    later = utcnow() + 12 * DAY
    with pytest.raises(RuntimeError, match="killed"):
        crash_after_batch(committed, later)
    case = load(committed, case_id)
    assert (case.follow_ups_sent, case.answer_due_on is not None) == (0, True)
    assert letters(committed, case_id, "follow_up") == []
    assert run_clock_sweep(committed, later)["follow_ups"] == 1
    assert run_clock_sweep(committed, later)["follow_ups"] == 0
    assert len(letters(committed, case_id, "follow_up")) == 1
    assert actions(committed, case_id).count("answer_overdue") == 1


def test_resolved_cases_close_after_the_configured_days_and_reopening_restarts(committed: Runtime) -> None:
    case_id = deliver(committed, by_email=False)
    resolved_on = utcnow()
    with writing(committed) as session:
        case = session.get(Case, case_id)
        assert case is not None
        transition(session, case, CaseStatus.RESOLVED, Actor.STAFF, "resolved", resolved_on,
                   outcome=Outcome.CANCELLED)
        assert (case.resolved_at, case.answer_due_on) == (resolved_on, None)
    days = committed.settings.resolved_close_days
    assert days == 30
    assert run_clock_sweep(committed, resolved_on + (days - 1) * DAY)["closed"] == 0
    assert load(committed, case_id).status is CaseStatus.RESOLVED
    assert run_clock_sweep(committed, resolved_on + (days + 1) * DAY)["closed"] == 1
    assert run_clock_sweep(committed, resolved_on + (days + 2) * DAY)["closed"] == 0
    case = load(committed, case_id)
    assert (case.status, case.outcome) == (CaseStatus.CLOSED, Outcome.CANCELLED)
    assert actions(committed, case_id)[-1] == "closed_automatically"

    with writing(committed) as session:
        case = session.get(Case, case_id)
        assert case is not None
        record_response(session, case, "charged_again", local_today(case), "Charged again.", Actor.CONSUMER,
                        utcnow())
        assert (case.status, case.resolved_at) == (CaseStatus.SENT, None)


def write_catalog(tmp_path: Path, line: str) -> Path:
    text = (CATALOG_DIR / "coursera.toml").read_text(encoding="utf-8")
    (tmp_path / "coursera.toml").write_text(text.replace("answer_days = 10", line), encoding="utf-8")
    return tmp_path


def test_answer_days_come_from_the_catalog(committed: Runtime, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_catalog().get("coursera").answer_days == 10  # type: ignore[union-attr]
    assert default_catalog().get("other").answer_days == 10  # type: ignore[union-attr]
    assert load_catalog(write_catalog(tmp_path, "")).get("coursera").answer_days == 10  # type: ignore[union-attr]
    for bad in ("answer_days = 0", "answer_days = 91", 'answer_days = "ten"'):
        with pytest.raises(CatalogError, match="answer_days"):
            load_catalog(write_catalog(tmp_path, bad))

    slower = load_catalog(write_catalog(tmp_path, "answer_days = 14"))
    monkeypatch.setattr(clock, "default_catalog", lambda: slower)
    case_id = deliver(committed, by_email=False)
    case = load(committed, case_id)
    assert case.answer_due_on == local_today(case) + dt.timedelta(days=14)
    with committed.sessions() as session:
        delivered = session.execute(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                            CaseEvent.action == "delivered")).scalar_one()
    assert delivered.data["answer_due"] == case.answer_due_on.isoformat()
    assert run_clock_sweep(committed, utcnow() + 12 * DAY)["follow_ups"] == 0
    assert run_clock_sweep(committed, utcnow() + 16 * DAY)["follow_ups"] == 1
