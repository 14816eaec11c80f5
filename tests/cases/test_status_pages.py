"""The consumer's pages say who sends what, by when; what a company's answer means and what comes next;
technical details behind a toggle; and that the private link is the way back."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from casework.cases.deadlines import most_urgent
from casework.cases.models import Case, CompanyResponse, Delivery
from casework.cases.review import REVIEW_WORKING_DAYS, add_working_days
from casework.cases.states import Actor, CaseStatus, Outcome
from casework.cases.workflow import record_response
from casework.db import utcnow
from casework.letters.models import Letter
from casework.mail.models import OutboundEmail
from casework.runtime import Runtime
from casework.web import limiter
from tests.cases.test_consumer_answers import answer, new_case, post
from tests.support.jobs import run_pending_jobs
from tests.support.mailbox import as_sent_text
from tests.support.today import TODAY, long_date
from tests.support.web import filing_form, post_form, token_from_location
from tests.support.writes import writing

pytestmark = [pytest.mark.http, pytest.mark.dates]

ACME = {"plan": "other:other-monthly", "company.name": "Acme Streaming", "company.email": "cancel@acme.example"}
DETAILS = re.compile(r"<details\b.*?</details>", re.S)


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


def words(page: str) -> str:
    """The page's text with its whitespace collapsed (sentences break across template lines)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", page)).split())


def file(client: FlaskClient, runtime: Runtime, **changes: str) -> str:
    response = post_form(client, "/", filing_form(**changes))
    assert response.status_code == 303, response.get_data(as_text=True)
    run_pending_jobs(runtime)
    return token_from_location(response)


def the_case(runtime: Runtime) -> Case:
    with runtime.sessions() as session:
        return session.execute(select(Case)).scalar_one()


def act_by_words(case: Case) -> str:
    deadline = most_urgent(case.assessment, TODAY)
    assert deadline is not None, case.assessment
    return long_date(deadline.act_by)


def confirmation_text(runtime: Runtime) -> str:
    with runtime.sessions() as session:
        row = session.execute(select(OutboundEmail).where(OutboundEmail.kind == "confirm_letter")).scalar_one()
        return " ".join(as_sent_text(runtime, row).split())


def confirm_code(runtime: Runtime) -> str:
    found = re.search(r"/confirm\?code=([0-9A-Z-]+)", confirmation_text(runtime))
    assert found is not None
    return found.group(1)


def button(html: str) -> str:
    found = re.search(r'<button type="submit" class="button">([^<]*)</button>', html)
    assert found is not None
    return found.group(1)


def test_a_web_form_company_the_consumer_submits_it_by_the_act_by_date(client: FlaskClient,
                                                                        committed: Runtime) -> None:
    token = file(client, committed)  # Coursera: its Help Center web form only
    act_by = act_by_words(the_case(committed))
    page = client.get(f"/c/{token}/confirm").get_data(as_text=True)
    text = words(page)
    assert f"You will submit this letter through Coursera's form (about five minutes); do it by {act_by}." in text
    assert "We e-mail this letter" not in text
    assert button(page) == "Confirm the letter"
    assert "send" not in button(page).lower()
    # The e-mail that asks for the confirmation says the same, with the same date.
    mail = confirmation_text(committed)
    assert "you will submit this letter through Coursera's form (about five minutes)" in mail
    assert f"Submit it yourself by {act_by}." in mail
    assert 'press "Confirm the letter"' in mail
    # The status page, before and after confirming, puts the date beside "submit it yourself".
    assert act_by in words(client.get(f"/c/{token}").get_data(as_text=True))
    response = post_form(client, f"/c/{token}/confirm", {"code": confirm_code(committed)}, page=f"/c/{token}/confirm")
    assert response.status_code == 303
    token = token_from_location(response)  # the links made before confirming stop working
    status = words(client.get(f"/c/{token}").get_data(as_text=True))
    assert f"Submit it yourself by {act_by}" in status
    assert "I have submitted it" in status


def test_an_email_company_we_send_it_as_soon_as_it_is_confirmed(client: FlaskClient, committed: Runtime) -> None:
    token = file(client, committed, **ACME)
    page = client.get(f"/c/{token}/confirm").get_data(as_text=True)
    sentence = "We e-mail this letter to Acme Streaming (cancel@acme.example) in your name as soon as you confirm"
    assert sentence in words(page)
    assert "You will submit" not in words(page)
    assert button(page) == "Confirm and send in my name"
    mail = confirmation_text(committed)
    assert "we e-mail this letter to Acme Streaming in your name as soon as you confirm" in mail
    assert "Submit it yourself" not in mail


def test_after_a_refusal_the_page_says_what_it_means_and_what_comes_next(client: FlaskClient,
                                                                        committed: Runtime) -> None:
    _, token = new_case(committed, CaseStatus.SENT)
    before = words(client.get(f"/c/{token}").get_data(as_text=True))
    assert "waiting for the company's answer" in before
    assert post(client, token, "answer", answer("refused")).status_code == 303
    page = client.get(f"/c/{token}").get_data(as_text=True)
    text = words(page)
    assert "waiting for the company's answer" not in text
    assert 'id="answer-panel"' in page
    assert "The company refused to cancel or to refund." in text
    assert f"A caseworker will look at your case by {long_date(add_working_days(TODAY, REVIEW_WORKING_DAYS))}." in text
    caseworker = re.sub(r".*What your caseworker does(.*?)What you can do now.*", r"\1", text)
    assert "within" not in caseworker  # a day, not a vague "within"
    assert f'href="/c/{token}/evidence.pdf"' in page
    assert "chargeback" in text
    with committed.sessions() as session:
        assert session.execute(select(Case.needs_review)).scalar_one() is True  # what "will look" stands on


def test_the_regulator_line_follows_the_country(client: FlaskClient, committed: Runtime) -> None:
    _, au = new_case(committed, CaseStatus.SENT)
    _, gb = new_case(committed, CaseStatus.SENT, country="GB", timezone="Europe/London", amount_currency="GBP",
                     consumer_email="sam@example.co.uk")
    for token in (au, gb):
        assert post(client, token, "answer", answer("refused")).status_code == 303
    au_text = words(client.get(f"/c/{au}").get_data(as_text=True))
    gb_text = words(client.get(f"/c/{gb}").get_data(as_text=True))
    assert "fair trading or consumer affairs office" in au_text
    assert "Citizens Advice" not in au_text
    assert "Citizens Advice consumer service" in gb_text
    assert "fair trading" not in gb_text


def test_an_offer_to_stay_and_a_confirmation_get_their_own_words(client: FlaskClient, committed: Runtime) -> None:
    _, token = new_case(committed, CaseStatus.SENT)
    post(client, token, "answer", answer("confirmed_cancellation", "They confirmed it."))
    text = words(client.get(f"/c/{token}").get_data(as_text=True))
    assert "The company confirmed the cancellation." in text
    assert "chargeback" not in text
    post(client, token, "answer", answer("retention_offer", "Half price for a year."))
    text = words(client.get(f"/c/{token}").get_data(as_text=True))
    assert "You do not have to accept it" in text
    assert "chargeback" in text


def test_an_answer_a_caseworker_recorded_is_listed_as_theirs(client: FlaskClient, committed: Runtime) -> None:
    case_id, token = new_case(committed, CaseStatus.SENT)
    with writing(committed) as session:
        session.add(CompanyResponse(case_id=case_id, type="refused", received_on=TODAY - dt.timedelta(days=1),
                                    summary="Refused on the phone.", recorded_by=Actor.STAFF, created_at=utcnow()))
    text = words(client.get(f"/c/{token}").get_data(as_text=True))
    assert "recorded by your caseworker: Refused on the phone." in text
    assert "Your caseworker recorded this answer" in text


def test_hashes_and_message_ids_only_behind_the_toggle(client: FlaskClient, committed: Runtime) -> None:
    token = file(client, committed, **ACME)
    token = token_from_location(
        post_form(client, f"/c/{token}/confirm", {"code": confirm_code(committed)}, page=f"/c/{token}/confirm"))
    run_pending_jobs(committed)
    with committed.sessions() as session:
        letter = session.execute(select(Letter)).scalar_one()
        delivery = session.execute(select(Delivery)).scalar_one()
        message_id = session.execute(select(OutboundEmail.message_id)
                                     .where(OutboundEmail.kind == "letter_to_company")).scalar_one()
    assert message_id in (delivery.confirmation or "")
    page = html.unescape(client.get(f"/c/{token}").get_data(as_text=True))
    outside = DETAILS.sub("", page)
    inside = "".join(DETAILS.findall(page))
    for secret in (letter.sha256, message_id):
        assert secret in inside
        assert secret not in outside
    assert "SHA-256" not in outside
    assert "Message-ID" not in outside


def test_outcomes_are_said_in_words(client: FlaskClient, committed: Runtime) -> None:
    _, token = new_case(committed, CaseStatus.RESOLVED, Outcome.CANCELLED_REFUNDED)
    text = words(client.get(f"/c/{token}").get_data(as_text=True))
    assert "This case is finished: Cancelled and refunded." in text
    assert "cancelled refunded" not in text.lower()


def test_the_page_says_once_that_its_link_is_the_way_back(client: FlaskClient, committed: Runtime) -> None:
    token = file(client, committed)
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert page.count('id="save-link"') == 1
    assert "This private link is your way back to your case: bookmark it; it is also in the e-mails" in words(page)
    assert page.index('id="save-link"') < page.index('id="next-title"')  # near the top


def test_the_confirm_page_says_what_the_letter_asks_in_its_own_terms(client: FlaskClient,
                                                                     committed: Runtime) -> None:
    response = post_form(client, "/", filing_form(requested_outcome="cancel"))
    token = token_from_location(response)
    run_pending_jobs(committed)
    page = client.get(f"/c/{token}/confirm").get_data(as_text=True)
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "the end of the subscription on" in text
    assert "the last day already paid for" in text
    assert "an end to charges" not in text


def test_an_answer_a_caseworker_recorded_is_not_under_what_you_told_us(client: FlaskClient,
                                                                      committed: Runtime) -> None:
    case_id, token = new_case(committed, CaseStatus.SENT)
    assert "What you told us" not in words(client.get(f"/c/{token}").get_data(as_text=True))
    with writing(committed) as session:
        case = session.get_one(Case, case_id)
        record_response(session, case, "refused", TODAY, "Refused on the phone.", Actor.STAFF, utcnow())
    text = words(client.get(f"/c/{token}").get_data(as_text=True))
    assert "What you told us" not in text
    assert "What has been recorded" in text
    assert "recorded by your caseworker" in text
    assert post(client, token, "answer", answer("refused")).status_code == 303
    text = words(client.get(f"/c/{token}").get_data(as_text=True))
    assert "you told us:" in text
