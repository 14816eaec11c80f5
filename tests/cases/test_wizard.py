"""The intake wizard: one question group per page, answers kept, errors inline, check your answers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from casework.cases.models import Case
from casework.letters.models import Letter
from casework.runtime import Runtime
from casework.web import limiter
from tests.support.today import iso_days_ago, iso_days_ahead
from tests.support.web import csrf_token

pytestmark = [pytest.mark.http, pytest.mark.dates]

COURSERA = {
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


def answer(client: FlaskClient, step: str, fields: dict[str, str]) -> tuple[int, str]:
    token = csrf_token(client, f"/start/{step}")
    response = client.post(f"/start/{step}", data={"csrf_token": token, **fields})
    return response.status_code, response.headers.get("Location", "") or response.get_data(as_text=True)


def walk(client: FlaskClient, answers: dict[str, dict[str, str]]) -> None:
    for step, fields in answers.items():
        status, where = answer(client, step, fields)
        assert status == 303, (step, where[:2000])


def cases(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.execute(select(func.count(Case.id))).scalar_one())


def test_happy_path_shows_where_you_stand_and_files(client: FlaskClient, committed: Runtime) -> None:
    assert 'href="/start/company"' in client.get("/start").get_data(as_text=True)  # the start page's "Start now"
    walk(client, COURSERA)
    page = client.get("/start/check").get_data(as_text=True)
    assert "Check your answers" in page
    assert "You can get a refund" in page
    assert f'datetime="{iso_days_ahead(7)}"' in page  # the refund window ends 14 days after the payment
    assert "Act by" in page
    assert "Jane Q. Consumer" in page
    preview = client.get("/start/preview.pdf")
    assert (preview.status_code, preview.mimetype) == (200, "application/pdf")
    assert cases(committed) == 0  # nothing saved before the last step
    response = client.post("/start/check", data={"csrf_token": csrf_token(client, "/start/check")})
    assert response.status_code == 303
    assert "/c/" in response.headers["Location"]
    assert cases(committed) == 1
    assert "Continue where you left off" not in client.get("/start").get_data(as_text=True)  # answers cleared


def test_errors_show_inline_and_keep_what_was_typed(client: FlaskClient, committed: Runtime) -> None:
    walk(client, {k: v for k, v in COURSERA.items() if k != "details"})
    status, page = answer(client, "details", {"consumer.name": "Jane <b>Q</b>", "consumer.email": "jane@"})
    assert status == 422
    assert "There is a problem" in page
    assert 'href="#consumer-email"' in page
    assert 'href="#consent-send_in_my_name"' in page
    assert 'value="Jane &lt;b&gt;Q&lt;/b&gt;"' in page
    walk(client, {"details": COURSERA["details"]})
    assert client.get("/start/check").status_code == 200


def test_another_company_asks_for_a_channel(client: FlaskClient, committed: Runtime) -> None:
    status, page = answer(client, "company", {"provider": "other", "company.name": "Acme Streaming"})
    assert status == 422
    assert "Give at least one way to reach the company" in page
    walk(client, {"company": {"provider": "other", "company.name": "Acme Streaming",
                              "company.email": "cancel@acme.example"}})
    plan_page = client.get("/start/plan").get_data(as_text=True)
    assert "other-monthly" in plan_page
    walk(client, {"plan": {"plan": "other-monthly", "billing_channel": "direct"},
                  **{k: v for k, v in COURSERA.items() if k not in ("company", "plan")}})
    assert "Acme Streaming" in client.get("/start/check").get_data(as_text=True)


def test_app_store_billing_gets_steps_not_a_letter(client: FlaskClient, committed: Runtime) -> None:
    walk(client, {**COURSERA, "plan": {"plan": "coursera-plus-annual", "billing_channel": "apple_app_store"}})
    page = client.get("/start/check").get_data(as_text=True)
    assert "Apple bills this subscription" in page
    assert "Preview your letter" not in page
    assert client.get("/start/preview.pdf").status_code == 404
    response = client.post("/start/check", data={"csrf_token": csrf_token(client, "/start/check")})
    status_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "I have cancelled it" in status_page
    with committed.sessions() as session:
        assert session.execute(select(func.count(Letter.id))).scalar_one() == 0
    token_path = response.headers["Location"]
    done = client.post(f"{token_path}/cancelled", data={"csrf_token": csrf_token(client, token_path)})
    assert done.status_code == 303
    with committed.sessions() as session:
        case = session.execute(select(Case)).scalar_one()
    assert (case.status.value, case.outcome.value if case.outcome else None) == ("resolved", "redirected_app_store")


def test_checking_an_incomplete_case_sends_you_back_with_the_error(client: FlaskClient) -> None:
    walk(client, {"company": COURSERA["company"], "plan": COURSERA["plan"]})
    response = client.get("/start/check")
    assert response.status_code == 302
    assert "/start/dates" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "There is a problem" in page
