"""Correcting a form: only filings count against the filing limit, every problem shows in one pass, in the
words of the page, and a page over the limit keeps what was typed and says when to try again."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from casework.cases.models import Case
from casework.runtime import Runtime
from casework.web import limiter
from tests.support.today import iso_days_ago, iso_days_ahead
from tests.support.web import csrf_token, filing_form, post_form

pytestmark = [pytest.mark.http, pytest.mark.dates]

WIZARD = {
    "company": {"provider": "coursera"},
    "plan": {"plan": "coursera-plus-annual", "billing_channel": "direct"},
    "dates": {"country": "AU", "payment_date": iso_days_ago(7), "amount.value": "599.00", "amount.currency": "AUD"},
    "outcome": {"requested_outcome": "cancel_and_refund"},
    "details": {"consumer.name": "Jane Q. Consumer", "consumer.email": "jane@example.com",
                "consent.send_in_my_name": "yes"},
}
WAIT = re.compile(r"Try again in \d+ (seconds?|minutes?)")


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


def cases(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.execute(select(func.count(Case.id))).scalar_one())


def answer(client: FlaskClient, step: str, fields: dict[str, str]) -> tuple[int, str]:
    response = client.post(f"/start/{step}", data={"csrf_token": csrf_token(client, f"/start/{step}"), **fields})
    return response.status_code, response.headers.get("Location", "") or response.get_data(as_text=True)


def walk(client: FlaskClient, answers: dict[str, dict[str, str]]) -> None:
    for step, fields in answers.items():
        status, where = answer(client, step, fields)
        assert status == 303, (step, where[:2000])


def submit_check(client: FlaskClient) -> tuple[int, str]:
    response = client.post("/start/check", data={"csrf_token": csrf_token(client, "/start/company")})
    return response.status_code, response.headers.get("Location", "") or response.get_data(as_text=True)


# --- the filing limit counts filings, not corrections ----------------------------------------------------------------

def test_corrections_on_the_form_never_reach_the_limit_but_filings_do(client: FlaskClient,
                                                                      committed: Runtime) -> None:
    for attempt in range(5):
        response = post_form(client, "/", filing_form(**{"consumer.name": "", "amount.value": f"12,9{attempt}"}))
        assert response.status_code == 422, attempt
        assert "Too many" not in response.get_data(as_text=True)
    filed = [post_form(client, "/", filing_form(**{"consumer.email": f"j{i}@example.com"})).status_code
             for i in range(3)]
    assert filed == [303, 303, 303]
    assert cases(committed) == 3

    limited = post_form(client, "/", filing_form(**{"consumer.email": "late@example.com",
                                                     "consumer.name": "Late Filer"}))
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    page = limited.get_data(as_text=True)
    assert WAIT.search(page), page
    assert 'value="late@example.com"' in page  # what was typed is kept
    assert 'value="Late Filer"' in page
    assert '<form method="post"' in page
    assert cases(committed) == 3


def test_corrections_in_the_wizard_never_reach_the_limit_but_filings_do(client: FlaskClient,
                                                                        committed: Runtime) -> None:
    walk(client, {step: fields for step, fields in WIZARD.items() if step != "details"})
    for attempt in range(5):
        status, page = answer(client, "details", {"consumer.name": "", "consumer.email": f"jane{attempt}@"})
        assert status == 422, attempt
        status, where = submit_check(client)  # not finished yet: sent back to the step, not counted
        assert (status, "/start/details" in where) == (303, True), attempt
    for i in range(3):
        walk(client, {**WIZARD, "details": {**WIZARD["details"], "consumer.email": f"j{i}@example.com"}})
        status, where = submit_check(client)
        assert (status, "/c/" in where) == (303, True), (i, where[:2000])
    assert cases(committed) == 3

    walk(client, {**WIZARD, "details": {**WIZARD["details"], "consumer.email": "late@example.com"}})
    response = client.post("/start/check", data={"csrf_token": csrf_token(client, "/start/company")})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    page = response.get_data(as_text=True)
    assert WAIT.search(page), page
    assert "Check your answers" in page
    assert "late@example.com" in page
    assert cases(committed) == 3


# --- every problem in one pass ----------------------------------------------------------------------------------------

def test_the_form_shows_field_problems_and_cross_field_rules_together(client: FlaskClient) -> None:
    form = filing_form(**{"plan": "other:other-monthly", "company.name": "Streamy Ltd", "consumer.name": "",
                          "subscription_start_date": iso_days_ago(3)})
    form["payment_date"] = iso_days_ago(7)
    response = post_form(client, "/", form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for field in ("company-email", "consumer-name", "subscription_start_date"):
        assert f'id="{field}-error"' in page, field
        assert f'href="#{field}"' in page, field


def test_a_wizard_step_shows_its_field_problems_and_rules_together(client: FlaskClient) -> None:
    status, page = answer(client, "company", {"provider": "other", "company.name": ""})
    assert status == 422
    assert 'id="company-name-error"' in page
    assert 'id="company-email-error"' in page
    walk(client, {"company": {"provider": "coursera"}, "plan": WIZARD["plan"]})
    status, page = answer(client, "dates", {"country": "AU", "subscription_start_date": iso_days_ago(3),
                                            "payment_date": iso_days_ago(7), "amount.value": "12,99"})
    assert status == 422
    for field in ("subscription_start_date", "amount-value", "amount-currency"):
        assert f'id="{field}-error"' in page, field


def test_the_api_still_reports_its_stages_one_at_a_time(client: FlaskClient) -> None:
    body = {"provider": "other", "plan": "other-monthly", "billing_channel": "direct", "country": "AU",
            "payment_date": iso_days_ago(7), "requested_outcome": "cancel",
            "consumer": {"name": "", "email": "jane@example.com"}, "consent": {"send_in_my_name": True},
            "company": {"name": "Streamy Ltd"}}
    response = client.post("/api/v1/cases", json=body)
    assert response.status_code == 422
    assert response.get_json()["fields"] == {"consumer.name": "required"}


# --- in the words of the page ---------------------------------------------------------------------------------------

def test_the_form_speaks_in_sentences_not_validator_output(client: FlaskClient) -> None:
    form = filing_form(**{"consumer.name": "", "consumer.email": "jane-at-example", "amount.value": "12,99",
                          "amount.currency": "Dollars", "consent.send_in_my_name": "",
                          "payment_date": iso_days_ahead(1)})
    response = post_form(client, "/", form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for sentence in ("Enter your full name", "Enter your e-mail address, like name@example.com",
                     "Use a full stop for pennies or cents, like 12.99",
                     "Enter a 3-letter currency code, like AUD, USD or EUR",
                     "Tick the box to let us write in your name",
                     "Date of your last payment must be today or in the past"):
        assert page.count(sentence) == 2, sentence  # in the summary and beside the field
    for output in ("must be true", "ISO 4217", "required", "Consent:", "must not be in the future"):
        assert output not in page, output
    assert 'value="12,99"' in page
    # Focus moves to the summary from a file the CSP allows: no inline script (the form's own script is a file too).
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/static/error-summary.js" defer>',
                                                  '<script src="/static/filing-form.js" defer>']


@pytest.mark.parametrize(("typed", "sentence"), [
    ("abc", "Enter the amount as a number, like 12.99"),
    ("0", "Amount must be more than 0"),
    ("12.999", "Amount can have at most 2 digits after the full stop, like 12.99"),
])
def test_an_amount_is_refused_with_what_to_change(client: FlaskClient, typed: str, sentence: str) -> None:
    page = post_form(client, "/", filing_form(**{"amount.value": typed})).get_data(as_text=True)
    assert sentence in page


def test_the_api_keeps_its_own_messages(client: FlaskClient) -> None:
    body = {"provider": "coursera", "plan": "coursera-plus-annual", "billing_channel": "direct", "country": "AU",
            "payment_date": iso_days_ago(7), "requested_outcome": "cancel", "amount": {"value": "12,99",
            "currency": "XXQ"}, "consumer": {"name": "Jane", "email": "jane@example.com"},
            "consent": {"send_in_my_name": False}}
    fields = client.post("/api/v1/cases", json=body).get_json()["fields"]
    assert fields["amount.currency"] == "not an ISO 4217 currency code"
    assert fields["consent.send_in_my_name"].startswith("must be true")
