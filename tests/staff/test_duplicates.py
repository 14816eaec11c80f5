"""Duplicate cases: the same consumer and company, both open, are flagged (both ways); a caseworker merges one
into the other from the case page, and the merged case is closed without an outcome, points to the survivor,
sends nothing more and keeps its records, while the survivor's page shows both timelines."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.test import TestResponse

from casework.cases.filing import file_case
from casework.cases.models import Case, CaseEvent, Delivery
from casework.cases.states import Actor, CaseStatus
from casework.cases.workflow import start_delivery, transition, withdraw
from casework.db import utcnow
from casework.evidence.pack import build_pack
from casework.letters.models import Letter
from casework.letters.services import latest_letter
from casework.reminders.models import Reminder
from casework.reminders.planning import plan_reminders
from casework.runtime import Runtime
from casework.staff import duplicates
from casework.staff.accounts import create_staff
from casework.staff.models import StaffUser
from casework.web import limiter
from tests.support.factories import case_facts
from tests.support.jobs import run_pending_jobs
from tests.support.web import csrf_token
from tests.support.writes import writing

pytestmark = pytest.mark.http
PASSWORD = "correct horse battery staple"
ACME = {"name": "Acme Streaming", "email": "cancel@acme.example"}
ROW_RE = re.compile(r'<tr data-action="([a-z_]+)"(?: data-case="([^"]+)")?><td>([^<]+)</td>')


@dataclass(frozen=True)
class Filed:
    case_id: int
    reference: str
    token: str


@pytest.fixture
def staff_id(committed: Runtime) -> int:
    limiter.reset()
    with writing(committed) as session:
        user = create_staff(session, "casey@casework.test", "Casey Worker", PASSWORD)
        session.flush()
        return user.id


@pytest.fixture
def casey(app: Flask, staff_id: int) -> FlaskClient:
    client = app.test_client()
    response = client.post("/staff/login", data={"csrf_token": csrf_token(client, "/staff/login"),
                                                  "email": "casey@casework.test", "password": PASSWORD})
    assert response.status_code == 303
    return client


def file(runtime: Runtime, *, confirmed: bool = True, **changes: Any) -> Filed:
    """A filed case (its letter job left pending: nothing here needs the PDF), its address confirmed unless
    ``confirmed`` is False: only confirmed addresses show the same consumer."""
    with writing(runtime) as session:
        filed = file_case(session, case_facts(**changes), runtime.settings.secret_key)
        if confirmed:
            session.get_one(Case, filed.case_id).email_confirmed_at = utcnow()
    return Filed(filed.case_id, filed.reference, filed.access_token)


def other_company(runtime: Runtime, name: str, email: str = "jane@example.com") -> Filed:
    return file(runtime, provider="other", plan="other-monthly", consumer_email=email,
                company={"name": name, "email": "cancel@acme.example"})


def delivered_with_reminders(runtime: Runtime) -> Filed:
    """A case whose letter is written, confirmed and e-mailed to the company (→ sent), with reminders planned."""
    filed = other_company(runtime, ACME["name"])
    run_pending_jobs(runtime)
    now = utcnow()
    with writing(runtime) as session:
        case = session.get_one(Case, filed.case_id)
        case.confirmed_at = case.email_confirmed_at = now
        transition(session, case, CaseStatus.READY, Actor.CONSUMER, "confirmed", now)
        letter = latest_letter(session, case.id)
        assert letter is not None
        start_delivery(session, runtime.settings, case, letter, now)
        session.add(Reminder(case_id=case.id, kind="renewal", deadline=now.date() + dt.timedelta(days=300),
                             lead_days=3, due_at=now + dt.timedelta(days=297), recipient=case.consumer_email,
                             status="scheduled", created_at=now))
        plan_reminders(session, case, now)
    run_pending_jobs(runtime)
    with runtime.sessions() as session:
        case = session.get_one(Case, filed.case_id)
        assert case.status is CaseStatus.SENT
        assert case.answer_due_on is not None
        assert session.scalars(select(Reminder).where(Reminder.case_id == case.id,
                                                      Reminder.status == "scheduled")).all()
    return filed


def load(runtime: Runtime, filed: Filed) -> Case:
    with runtime.sessions() as session:
        return session.get_one(Case, filed.case_id)


def flagged(runtime: Runtime, *cases: Filed) -> set[str]:
    """The references duplicates.duplicate_ids flags among these cases (as one queue page)."""
    with runtime.sessions() as session:
        rows = [session.get_one(Case, filed.case_id) for filed in cases]
        ids = duplicates.duplicate_ids(session, rows)
        return {case.reference for case in rows if case.id in ids}


def duplicates_of(runtime: Runtime, filed: Filed) -> list[str]:
    with runtime.sessions() as session:
        return [case.reference for case in duplicates.duplicates_of(session, session.get_one(Case, filed.case_id))]


def merge(client: FlaskClient, runtime: Runtime, survivor: Filed, absorbed: Filed, *, version: int | None = None,
          absorb_version: int | None = None, absorb: str | None = None) -> TestResponse:
    """Post the page's merge form: this case's version and the other case's version."""
    page = f"/staff/cases/{survivor.reference}"
    return client.post(f"{page}/merge", data={
        "csrf_token": csrf_token(client, page),
        "version": str(load(runtime, survivor).version if version is None else version),
        "absorb": absorb if absorb is not None else absorbed.reference,
        "absorb_version": str(load(runtime, absorbed).version if absorb_version is None else absorb_version)})


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


# --- flagged -----------------------------------------------------------------------------------------------


def test_the_same_consumer_and_company_open_twice_is_flagged_both_ways(committed: Runtime) -> None:
    first = file(committed)
    second = file(committed, consumer_email="Jane@EXAMPLE.com")  # the e-mail address in another case
    stranger = file(committed, consumer_email="someone.else@example.com")
    assert flagged(committed, first, second, stranger) == {first.reference, second.reference}
    assert flagged(committed, first) == {first.reference}  # its duplicate need not be on the same page
    assert duplicates_of(committed, first) == [second.reference]
    assert duplicates_of(committed, second) == [first.reference]
    assert duplicates_of(committed, stranger) == []


def test_a_finished_case_is_no_duplicate(committed: Runtime) -> None:
    first, second = file(committed), file(committed)
    with writing(committed) as session:
        withdraw(session, session.get_one(Case, second.case_id), Actor.CONSUMER, utcnow())
    assert flagged(committed, first, second) == set()
    assert duplicates_of(committed, first) == []
    assert duplicates_of(committed, second) == []


def test_another_company_is_no_duplicate(committed: Runtime) -> None:
    coursera, acme = file(committed), other_company(committed, ACME["name"])
    assert flagged(committed, coursera, acme) == set()
    assert duplicates_of(committed, coursera) == []


def test_another_company_by_name_compares_the_name_in_any_case(committed: Runtime) -> None:
    acme, music = other_company(committed, "Acme Streaming"), other_company(committed, "Acme Music")
    assert flagged(committed, acme, music) == set()
    shouting = other_company(committed, "  ACME   streaming ")
    assert flagged(committed, acme, music, shouting) == {acme.reference, shouting.reference}
    assert duplicates_of(committed, shouting) == [acme.reference]


def test_a_case_whose_personal_data_is_deleted_is_no_duplicate(committed: Runtime) -> None:
    first, second = file(committed), file(committed)
    with writing(committed) as session:
        session.get_one(Case, second.case_id).personal_data_deleted_at = utcnow()
    assert flagged(committed, first, second) == set()
    assert duplicates_of(committed, second) == []


def test_an_unconfirmed_address_is_no_duplicate(committed: Runtime) -> None:
    """Anyone can file a case with anyone's address: a case whose address nobody confirmed matches no other."""
    owner = file(committed)
    stranger = file(committed, confirmed=False, consumer_email="JANE@example.com")
    another_stranger = file(committed, confirmed=False)
    assert flagged(committed, owner, stranger, another_stranger) == set()
    assert duplicates_of(committed, owner) == []
    assert duplicates_of(committed, stranger) == []
    with writing(committed) as session:
        session.get_one(Case, stranger.case_id).email_confirmed_at = utcnow()
    assert flagged(committed, owner, stranger, another_stranger) == {owner.reference, stranger.reference}


def test_the_case_page_offers_the_merge(casey: FlaskClient, committed: Runtime) -> None:
    first, second = file(committed), file(committed, consumer_email="JANE@example.com")
    page = text(casey.get(f"/staff/cases/{first.reference}"))
    assert "Possible duplicates" in page
    assert f'name="absorb" value="{second.reference}"' in page
    assert f'name="absorb_version" value="{load(committed, second).version}"' in page
    assert "Merge that case into this one" in page
    alone = file(committed, consumer_email="alone@example.com")
    assert "Possible duplicates" not in text(casey.get(f"/staff/cases/{alone.reference}"))


# --- merged ------------------------------------------------------------------------------------------------


def test_merging_closes_the_duplicate_and_joins_the_timelines(casey: FlaskClient, committed: Runtime, app: Flask,
                                                              staff_id: int) -> None:
    absorbed = delivered_with_reminders(committed)
    survivor = other_company(committed, "acme streaming", email="JANE@example.com")
    response = merge(casey, committed, survivor, absorbed)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/staff/cases/{survivor.reference}")
    with committed.sessions() as session:
        case = session.get_one(Case, absorbed.case_id)
        assert (case.status, case.outcome, case.merged_into_id) == (CaseStatus.CLOSED, None, survivor.case_id)
        assert (case.answer_due_on, case.escalation_due_at) == (None, None)
        assert session.scalars(select(Reminder).where(Reminder.case_id == case.id,
                                                      Reminder.status == "scheduled")).all() == []
        assert session.scalars(select(Reminder).where(Reminder.case_id == case.id)).all()  # kept, cancelled
        assert session.scalars(select(Letter).where(Letter.case_id == case.id)).all()
        assert session.scalars(select(Delivery).where(Delivery.case_id == case.id)).all()
        [into] = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                         CaseEvent.action == "merged_into")).all()
        assert (into.actor, into.actor_staff_id) == (Actor.STAFF, staff_id)
        assert (into.from_status, into.to_status, into.data) == (CaseStatus.SENT, CaseStatus.CLOSED,
                                                                 {"into": survivor.reference})
        [came] = session.scalars(select(CaseEvent).where(CaseEvent.case_id == survivor.case_id,
                                                         CaseEvent.action == "merged_from")).all()
        assert (came.actor, came.actor_staff_id, came.data) == (Actor.STAFF, staff_id, {"from": absorbed.reference})
        assert session.get_one(Case, survivor.case_id).status is CaseStatus.NEW
    page = text(casey.get(f"/staff/cases/{survivor.reference}"))
    assert f"{absorbed.reference} is merged into this case" in page
    rows = ROW_RE.findall(page)
    assert ("delivered", absorbed.reference) in {(action, case) for action, case, _ in rows}
    assert ("merged_from", "") in {(action, case) for action, case, _ in rows}
    assert [when for _, _, when in rows] == sorted(when for _, _, when in rows)  # one timeline, by time
    assert {case for _, case, _ in rows} == {"", absorbed.reference}
    assert "Possible duplicates" not in page
    closed = text(casey.get(f"/staff/cases/{absorbed.reference}"))
    assert "Merged into" in closed
    assert f'href="/staff/cases/{survivor.reference}"' in closed
    assert "Reopen case" not in closed
    assert "The company charged again" not in closed
    consumer = app.test_client()
    assert consumer.get(f"/c/{absorbed.token}").status_code == 200
    document = consumer.get(f"/api/v1/cases/{absorbed.reference}",
                            headers={"Authorization": f"Bearer {absorbed.token}"})
    assert document.status_code == 200
    assert (document.get_json()["status"], document.get_json()["outcome"]) == ("closed", None)


def test_a_chain_of_merges_shows_every_timeline(casey: FlaskClient, committed: Runtime) -> None:
    first, second, third = file(committed), file(committed), file(committed)
    assert merge(casey, committed, second, first).status_code == 303
    assert merge(casey, committed, third, second).status_code == 303
    cases = {case for _, case, _ in ROW_RE.findall(text(casey.get(f"/staff/cases/{third.reference}")))}
    assert cases == {"", first.reference, second.reference}


@pytest.mark.parametrize("what", ["another consumer", "another company", "finished", "itself", "finished survivor"])
def test_only_open_duplicates_merge(casey: FlaskClient, committed: Runtime, what: str) -> None:
    survivor = file(committed)
    absorbed = {"another consumer": lambda: file(committed, consumer_email="other@example.com"),
                "another company": lambda: other_company(committed, ACME["name"]),
                "itself": lambda: survivor}.get(what, lambda: file(committed))()
    if what.startswith("finished"):
        with writing(committed) as session:
            target = survivor if what == "finished survivor" else absorbed
            withdraw(session, session.get_one(Case, target.case_id), Actor.CONSUMER, utcnow())
    before = load(committed, absorbed).status
    response = merge(casey, committed, survivor, absorbed)
    assert response.status_code == 409
    sentence = {"another consumer": "e-mail address differs", "another company": "the company differs",
                "finished": "only open cases can be merged", "finished survivor": "only open cases can be merged",
                "itself": "cannot be merged into itself"}[what]
    assert sentence in text(response)
    case = load(committed, absorbed)
    assert (case.status, case.merged_into_id) == (before, None)


@pytest.mark.parametrize("unconfirmed", ["survivor", "absorbed", "both"])
def test_a_case_with_an_unconfirmed_address_is_not_merged(casey: FlaskClient, committed: Runtime,
                                                          unconfirmed: str) -> None:
    survivor = file(committed, confirmed=unconfirmed == "absorbed")
    absorbed = file(committed, confirmed=unconfirmed == "survivor")
    response = merge(casey, committed, survivor, absorbed)
    assert response.status_code == 409
    assert "has not confirmed their e-mail address" in text(response)
    assert "only cases with a confirmed address can be merged" in text(response)
    for filed in (survivor, absorbed):
        case = load(committed, filed)
        assert (case.status, case.merged_into_id) == (CaseStatus.NEW, None)
    with committed.sessions() as session:
        assert not session.scalars(select(CaseEvent).where(
            CaseEvent.action.in_(["merged_into", "merged_from"]))).all()


def test_merging_directly_refuses_an_unconfirmed_address(committed: Runtime, staff_id: int) -> None:
    survivor, absorbed = file(committed), file(committed, confirmed=False)
    with pytest.raises(duplicates.CaseConflict, match="has not confirmed"), writing(committed) as session:
        duplicates.merge(session, committed.settings, session.get_one(Case, survivor.case_id),
                         session.get_one(Case, absorbed.case_id), session.get_one(StaffUser, staff_id), utcnow())
    assert load(committed, absorbed).merged_into_id is None


@pytest.mark.parametrize("stale", ["version", "absorb_version"])
def test_a_stale_version_of_either_case_is_409(casey: FlaskClient, committed: Runtime, stale: str) -> None:
    survivor, absorbed = file(committed), file(committed)
    versions = {"version": load(committed, survivor).version, "absorb_version": load(committed, absorbed).version}
    versions[stale] -= 1
    response = merge(casey, committed, survivor, absorbed, **versions)
    assert response.status_code == 409
    assert "Someone changed" in text(response)
    assert load(committed, absorbed).merged_into_id is None
    assert load(committed, absorbed).status is CaseStatus.NEW


@pytest.mark.parametrize("absorb", ["", "CW-2026-NOPE0000", "x" * 5000])
def test_an_unknown_case_to_merge_is_refused(casey: FlaskClient, committed: Runtime, absorb: str) -> None:
    survivor, other = file(committed), file(committed)
    response = merge(casey, committed, survivor, other, absorb=absorb)
    assert response.status_code == 422
    assert "Choose a case to merge" in text(response)
    assert load(committed, other).merged_into_id is None


@pytest.mark.storage
def test_two_caseworkers_merging_the_pair_both_ways_cannot_both_succeed(committed: Runtime, staff_id: int) -> None:
    """Each merge writes both cases under their versions: the second, on what it read before, is refused."""
    first, second = file(committed), file(committed)
    late = Session(committed.engine, expire_on_commit=False)
    with late.begin():
        late_first, late_second = late.get_one(Case, first.case_id), late.get_one(Case, second.case_id)
        late_staff = late.get_one(StaffUser, staff_id)
    with writing(committed) as session:
        duplicates.merge(session, committed.settings, session.get_one(Case, first.case_id),
                         session.get_one(Case, second.case_id), session.get_one(StaffUser, staff_id), utcnow())
    with pytest.raises(StaleDataError), late.begin():
        duplicates.merge(late, committed.settings, late_second, late_first, late_staff, utcnow())
    late.close()
    assert load(committed, second).merged_into_id == first.case_id
    assert load(committed, first).merged_into_id is None
    assert load(committed, first).status is CaseStatus.NEW


# --- with the queue flag and the consumer's page (casework/staff/queue.py, casework/cases/views.py) ---------


def test_the_queue_flags_possible_duplicates(casey: FlaskClient, committed: Runtime) -> None:
    first, second = file(committed), file(committed, consumer_email="JANE@example.com")
    alone = file(committed, consumer_email="alone@example.com")
    page = text(casey.get("/staff"))
    rows = {ref: row for ref, row in re.findall(r'<tr data-reference="([^"]+)">(.*?)</tr>', page, re.S)}
    assert "Possible duplicate" in rows[first.reference]
    assert "Possible duplicate" in rows[second.reference]
    assert "Possible duplicate" not in rows[alone.reference]


def test_the_consumer_is_told_where_the_case_went(casey: FlaskClient, committed: Runtime, app: Flask) -> None:
    absorbed = delivered_with_reminders(committed)
    survivor = other_company(committed, ACME["name"])
    assert merge(casey, committed, survivor, absorbed).status_code == 303
    page = text(app.test_client().get(f"/c/{absorbed.token}"))
    assert f"This case was merged into {survivor.reference}, which carries on with your request." in page
    assert "Tell us what happened" not in page


def test_a_merged_case_is_not_reopened(casey: FlaskClient, committed: Runtime) -> None:
    absorbed = delivered_with_reminders(committed)
    survivor = other_company(committed, ACME["name"])
    assert merge(casey, committed, survivor, absorbed).status_code == 303
    page = f"/staff/cases/{absorbed.reference}"
    response = casey.post(f"{page}/reopen", data={"csrf_token": csrf_token(casey, page), "reason": "Charged again",
                                                   "version": str(load(committed, absorbed).version)})
    assert response.status_code == 409
    assert "A merged case cannot be reopened" in text(response)
    response = casey.post(f"{page}/responses", data={
        "csrf_token": csrf_token(casey, page), "version": str(load(committed, absorbed).version),
        "response.type": "charged_again", "response.received_on": utcnow().date().isoformat(),
        "response.summary": "Charged again"})
    assert response.status_code == 409
    assert load(committed, absorbed).status is CaseStatus.CLOSED


def test_the_survivors_evidence_pack_carries_the_merged_cases_history(casey: FlaskClient,
                                                                     committed: Runtime) -> None:
    absorbed = delivered_with_reminders(committed)
    survivor = other_company(committed, "acme streaming", email="JANE@example.com")
    assert merge(casey, committed, survivor, absorbed).status_code == 303
    with committed.sessions() as session:
        pack = build_pack(session, session.get_one(Case, survivor.case_id), "https://casework.test", utcnow())
    merged_note = f"on {absorbed.reference} (merged into this case)"
    delivered = [row for row in pack.events if row.action == "delivered"]
    assert delivered
    assert all(merged_note in row.details for row in delivered)
    assert [row.action for row in pack.events if merged_note not in row.details][-1] == "merged_from"
    assert "merged_into" in {row.action for row in pack.events if merged_note in row.details}
