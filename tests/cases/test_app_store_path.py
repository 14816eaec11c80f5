"""Subscriptions billed by Apple or Google: asked who bills first, told the platform's steps and links, e-mailed a
way back to the case (which confirms the address), and the refund routed to the platform."""

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
from tests.support.web import filing_form, post_form

pytestmark = [pytest.mark.http]


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


def count(runtime: Runtime, model: type[Case] | type[Letter]) -> int:
    with runtime.sessions() as session:
        return int(session.execute(select(func.count(model.id))).scalar_one())


# --- the single-page form ------------------------------------------------------------------------------------------

def test_the_form_asks_who_bills_you_with_no_answer_chosen(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert "Who charges you for it?" in page
    for value in ("direct", "apple_app_store", "google_play"):
        assert f'id="billing_channel-{value}" name="billing_channel" value="{value}">' in page  # none checked


def test_the_form_requires_the_billing_question(client: FlaskClient, committed: Runtime) -> None:
    response = post_form(client, "/", filing_form(billing_channel=""))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Select how you pay" in page
    assert count(committed, Case) == 0


def test_an_app_store_case_from_the_form_gets_no_letter(client: FlaskClient, committed: Runtime) -> None:
    response = post_form(client, "/", filing_form(billing_channel="apple_app_store"))
    assert response.status_code == 303
    assert count(committed, Case) == 1
    assert count(committed, Letter) == 0


def test_an_apple_case_page_gives_apples_steps_and_routes_the_refund_to_apple(client: FlaskClient,
                                                                             committed: Runtime) -> None:
    response = post_form(client, "/", filing_form(billing_channel="apple_app_store"))
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Apple bills this subscription" in page
    assert "Subscriptions" in page  # Apple's own cancel steps, in words
    assert "Your refund" in page
    assert 'href="https://support.apple.com/118223"' in page
    assert count(committed, Letter) == 0


def test_without_a_refund_asked_the_page_sends_nobody_to_a_refund_page(client: FlaskClient) -> None:
    form = filing_form(billing_channel="google_play", requested_outcome="cancel")
    response = post_form(client, "/", form)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Google Play bills this subscription" in page
    assert "Your refund" not in page
