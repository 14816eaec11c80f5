"""The consumer's pages for the subscription's start date ("When did you first subscribe?", with "I don't know")
and for cases that get no letter: told before filing, tracked after it, never expired as unconfirmed letters are."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from casework.cases.filing import assessment_of, file_case
from casework.cases.models import Case
from casework.cases.states import Actor, CaseStatus, Outcome, RequestedOutcome
from casework.cases.transitions import finish, reopen
from casework.cases.workflow import correct_facts
from casework.db import utcnow
from casework.letters.models import Letter
from casework.mail.models import OutboundEmail
from casework.privacy.expiry import expire_unconfirmed
from casework.reminders.models import Reminder
from casework.reminders.planning import plan_new_cases_without_letter
from casework.runtime import Runtime
from casework.staff.accounts import create_staff
from casework.web import limiter
from tests.support.factories import case_facts
from tests.support.jobs import run_pending_jobs
from tests.support.staff import PASSWORD, signed_in
from tests.support.today import days_ago, iso_days_ago, iso_days_ahead, long_date
from tests.support.web import csrf_token, filing_form, post_form, token_from_location
from tests.support.writes import writing

pytestmark = [pytest.mark.http, pytest.mark.dates]

NO_LETTER_FORM = {"plan": "coursera:course-one-time", "certificate_earned": "yes"}
WIZARD = {
    "company": {"provider": "coursera"},
    "plan": {"plan": "coursera-plus-annual", "billing_channel": "direct"},
    "dates": {"country": "AU", "payment_date": iso_days_ago(7), "amount.value": "599.00", "amount.currency": "AUD"},
    "outcome": {"requested_outcome": "cancel_and_refund"},
    "details": {"consumer.name": "Jane Q. Consumer", "consumer.email": "jane@example.com",
                "consent.send_in_my_name": "yes"},
}


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


def count(runtime: Runtime, model: type[Case] | type[Letter] | type[OutboundEmail]) -> int:
    with runtime.sessions() as session:
        return int(session.execute(select(func.count(model.id))).scalar_one())


def emails_sent(runtime: Runtime) -> list[tuple[str, list[str]]]:
    """Each e-mail sent, as its kind and its recipients."""
    with runtime.sessions() as session:
        return [(row.kind, row.recipients) for row in session.scalars(
            select(OutboundEmail).where(OutboundEmail.status == "sent").order_by(OutboundEmail.id))]


def the_case(runtime: Runtime) -> Case:
    with runtime.sessions() as session:
        return session.execute(select(Case)).scalar_one()


def answer(client: FlaskClient, step: str, fields: dict[str, str]) -> tuple[int, str]:
    response = client.post(f"/start/{step}", data={"csrf_token": csrf_token(client, f"/start/{step}"), **fields})
    return response.status_code, response.headers.get("Location", "") or response.get_data(as_text=True)


def walk(client: FlaskClient, answers: dict[str, dict[str, str]]) -> None:
    for step, fields in answers.items():
        status, where = answer(client, step, fields)
        assert status == 303, (step, where[:2000])


# --- the single-page form ------------------------------------------------------------------------------------------

def test_the_form_asks_when_you_first_subscribed(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert "When did you first subscribe?" in page
    assert 'name="subscription_start_date"' in page
    assert 'name="subscription_start_unknown"' in page
    assert "14-day cancellation rights" in page


@pytest.mark.parametrize(("start", "message"), [
    (iso_days_ahead(1), "The day you first subscribed must be today or in the past"),
    # the payment was 7 days ago
    (iso_days_ago(6), "The day you first subscribed must be on or before the date of your last payment"),
])
def test_a_bad_start_date_is_named_and_what_was_typed_is_kept(client: FlaskClient, committed: Runtime, start: str,
                                                              message: str) -> None:
    response = post_form(client, "/", filing_form(subscription_start_date=start))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'href="#subscription_start_date"' in page
    assert 'id="subscription_start_date-error"' in page
    assert message in page
    assert f'value="{start}"' in page
    assert 'value="Jane Q. Consumer"' in page
    assert count(committed, Case) == 0


def test_the_start_date_is_stored(client: FlaskClient, committed: Runtime) -> None:
    response = post_form(client, "/", filing_form(subscription_start_date=iso_days_ago(400)))
    assert response.status_code == 303
    assert the_case(committed).subscription_start_date == days_ago(400)


def test_i_dont_know_wins_over_a_date_typed_beside_it(client: FlaskClient, committed: Runtime) -> None:
    response = post_form(client, "/", filing_form(subscription_start_date=iso_days_ahead(5),
                                                  subscription_start_unknown="yes"))
    assert response.status_code == 303, response.get_data(as_text=True)
    assert the_case(committed).subscription_start_date is None


def test_the_form_files_a_case_without_a_letter_and_says_why(client: FlaskClient, committed: Runtime) -> None:
    page = client.get("/").get_data(as_text=True)
    assert "we tell you why" in page  # the consent says what may happen
    response = post_form(client, "/", filing_form(**NO_LETTER_FORM))
    assert response.status_code == 303
    token = token_from_location(response)
    run_pending_jobs(committed)
    assert count(committed, Letter) == 0
    assert emails_sent(committed) == [("case_without_letter", ["jane@example.com"])]  # its link; nothing to Coursera
    status = client.get(f"/c/{token}").get_data(as_text=True)
    assert "No letter is written for it" in status  # the flash after filing
    assert "Tracked without a letter" in status
    assert "a one-time purchase has nothing to renew, and a refund is not available" in status
    assert "certificate" in status
    assert "Review and confirm my letter" not in status
    assert "We are preparing your letter" not in status
    assert "Withdraw my case" in status
    assert "I have cancelled it" not in status  # that is for app-store billing


# --- the step-by-step intake ---------------------------------------------------------------------------------------

def test_the_wizard_keeps_a_bad_start_date_and_shows_a_good_one(client: FlaskClient, committed: Runtime) -> None:
    walk(client, {"company": WIZARD["company"], "plan": WIZARD["plan"]})
    status, page = answer(client, "dates", {**WIZARD["dates"], "subscription_start_date": iso_days_ahead(1)})
    assert status == 422
    assert 'href="#subscription_start_date"' in page
    assert "The day you first subscribed must be today or in the past" in page
    assert f'value="{iso_days_ahead(1)}"' in page
    walk(client, {"dates": {**WIZARD["dates"], "subscription_start_date": iso_days_ago(400)},
                  "outcome": WIZARD["outcome"], "details": WIZARD["details"]})
    check = client.get("/start/check").get_data(as_text=True)
    assert "First subscribed" in check
    assert long_date(days_ago(400)) in check
    client.post("/start/check", data={"csrf_token": csrf_token(client, "/start/check")})
    assert the_case(committed).subscription_start_date == days_ago(400)


def test_the_wizard_accepts_i_dont_know(client: FlaskClient, committed: Runtime) -> None:
    walk(client, {**WIZARD, "dates": {**WIZARD["dates"], "subscription_start_date": iso_days_ago(30),
                                      "subscription_start_unknown": "yes"}})
    check = client.get("/start/check").get_data(as_text=True)
    assert "First subscribed" in check
    assert "Not known" in check
    dates = client.get("/start/dates").get_data(as_text=True)
    assert 'id="subscription_start_unknown" name="subscription_start_unknown" value="yes" checked' in dates
    client.post("/start/check", data={"csrf_token": csrf_token(client, "/start/check")})
    assert the_case(committed).subscription_start_date is None


def test_the_wizard_says_before_consent_that_no_letter_is_written(client: FlaskClient, committed: Runtime) -> None:
    walk(client, {**{k: v for k, v in WIZARD.items() if k != "details"},
                  "plan": {"plan": "guided-project", "billing_channel": "direct"}})
    details = client.get("/start/details").get_data(as_text=True)
    assert "No letter is written" in details
    assert "non-refundable" in details
    assert "I authorise casework to keep track of this case for me" in details
    assert "write and send a cancellation letter" not in details
    walk(client, {"details": WIZARD["details"]})
    check = client.get("/start/check").get_data(as_text=True)
    assert "a one-time purchase has nothing to renew" in check
    assert "Preview your letter" not in check
    assert "Track my case" in check
    assert "Prepare my letter" not in check
    assert client.get("/start/preview.pdf").status_code == 404
    response = client.post("/start/check", data={"csrf_token": csrf_token(client, "/start/check")})
    status = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Tracked without a letter" in status
    assert "non-refundable" in status
    run_pending_jobs(committed)
    assert count(committed, Letter) == 0
    assert emails_sent(committed) == [("case_without_letter", ["jane@example.com"])]


def test_the_wizard_asks_consent_for_a_letter_where_one_is_written(client: FlaskClient, committed: Runtime) -> None:
    walk(client, {k: v for k, v in WIZARD.items() if k != "details"})
    details = client.get("/start/details").get_data(as_text=True)
    assert "write and send a cancellation letter" in details
    assert "The subscription is mine (or I may act for its holder)" in details  # the only ground for a letter
    assert "No letter is written" not in details


# --- after filing: tracked, never expired as an unconfirmed letter, reminded where deadlines exist ----------------

def test_a_case_without_a_letter_stays_open_and_gets_its_reminders(committed: Runtime) -> None:
    facts = case_facts(plan="course-one-time", certificate_earned=True, payment_date=days_ago(3))
    with writing(committed) as session:
        filed = file_case(session, facts, committed.settings.secret_key)
    assert (filed.letter_id, filed.letter_plan.letter) == (None, False)
    with writing(committed) as session:
        assert plan_new_cases_without_letter(session, utcnow()) == 1
        assert plan_new_cases_without_letter(session, utcnow()) == 0  # once
        assert expire_unconfirmed(session, utcnow() + dt.timedelta(days=30)) == 0
    with committed.sessions() as session:
        case = session.get_one(Case, filed.case_id)
        assert (case.status, case.personal_data_deleted_at) == (CaseStatus.NEW, None)
        kinds = set(session.scalars(select(Reminder.kind).where(Reminder.case_id == case.id)))
    assert kinds == {"refund_window_end"}  # 14 days from the payment, still ahead


def test_a_letter_case_is_not_planned_by_the_sweep_and_still_expires(committed: Runtime) -> None:
    with writing(committed) as session:
        filed = file_case(session, case_facts(), committed.settings.secret_key)
    assert filed.letter_plan.letter is True
    with writing(committed) as session:
        assert plan_new_cases_without_letter(session, utcnow()) == 0
        assert expire_unconfirmed(session, utcnow() + dt.timedelta(days=7, minutes=1)) == 1


def test_a_letter_asked_for_later_gives_its_own_seven_days(committed: Runtime) -> None:
    """A case filed without a letter whose corrected facts call for one expires 7 days after that letter."""
    facts = case_facts(plan="course-one-time", requested_outcome=RequestedOutcome.CANCEL)
    with writing(committed) as session:
        filed = file_case(session, facts, committed.settings.secret_key, now=utcnow() - dt.timedelta(days=10))
    corrected = case_facts(plan="course-one-time")
    with writing(committed) as session:
        case = session.get_one(Case, filed.case_id)
        correct_facts(session, case, corrected, assessment_of(corrected, utcnow()), utcnow())
    with writing(committed) as session:
        assert expire_unconfirmed(session, utcnow()) == 0
        assert expire_unconfirmed(session, utcnow() + dt.timedelta(days=7, minutes=1)) == 1


def test_the_staff_page_and_the_export_show_the_start_date(app: Flask, client: FlaskClient,
                                                          committed: Runtime) -> None:
    response = post_form(client, "/", filing_form(subscription_start_date=iso_days_ago(400), **NO_LETTER_FORM))
    token = token_from_location(response)
    export = client.get(f"/c/{token}/my-data.zip")
    with zipfile.ZipFile(io.BytesIO(export.data)) as archive:
        [case] = json.loads(archive.read("export.json"))["cases"]
    assert case["facts"]["subscription_start_date"] == iso_days_ago(400)
    with writing(committed) as session:
        create_staff(session, "casey@casework.test", "Casey Worker", PASSWORD)
    staff = signed_in(app, "casey@casework.test")
    page = staff.get(f"/staff/cases/{the_case(committed).reference}").get_data(as_text=True)
    assert "First subscribed" in page
    assert iso_days_ago(400) in page
    assert "a one-time purchase has nothing to renew" in page


def test_a_case_without_a_letter_reopens_to_new(committed: Runtime) -> None:
    """Charged again after it was resolved: a case with no letter has nothing delivered to wait on."""
    facts = case_facts(plan="guided-project")
    with writing(committed) as session:
        filed = file_case(session, facts, committed.settings.secret_key)
    with writing(committed) as session:
        case = session.get_one(Case, filed.case_id)
        finish(session, case, CaseStatus.RESOLVED, Outcome.REFUND_DENIED, Actor.SYSTEM, "resolved", utcnow())
        assert reopen(session, case, Actor.CONSUMER, utcnow(), {"because": "charged_again"}) is CaseStatus.NEW
    with writing(committed) as session:
        letter_case = session.get_one(Case, file_case(session, case_facts(), committed.settings.secret_key).case_id)
        finish(session, letter_case, CaseStatus.RESOLVED, Outcome.CANCELLED, Actor.SYSTEM, "resolved", utcnow())
        assert reopen(session, letter_case, Actor.CONSUMER, utcnow(), {"because": "charged_again"}) is CaseStatus.SENT
