"""Subscriptions billed by Apple or Google: asked who bills first, told the platform's steps and links before any
details, asked only what the dates and the refund's routing need, e-mailed a way back to the case, and the refund
routed to the platform. The e-mail itself: tests/cases/test_no_letter_email.py."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from casework.cases.models import Case
from casework.letters.models import Letter
from casework.mail.models import OutboundEmail
from casework.runtime import Runtime
from casework.web import limiter
from tests.support.today import days_ago, days_ahead, iso_days_ago, iso_days_ahead, long_date
from tests.support.web import csrf_token, filing_form, post_form

pytestmark = [pytest.mark.http, pytest.mark.dates]

APPLE_REFUND = "https://support.apple.com/118223"
GOOGLE_CANCEL = "https://support.google.com/googleplay/answer/7018481"
LETTER_CONSENT = "write and send a cancellation letter"
# The wizard's answers on the app-store path: only what its dates, the refund's routing and the e-mail need.
APPLE = {
    "company": {"provider": "coursera"},
    "plan": {"plan": "coursera-plus-annual", "billing_channel": "apple_app_store"},
    "dates": {"country": "AU", "payment_date": iso_days_ago(7), "next_renewal_date": iso_days_ahead(20)},
    "outcome": {"requested_outcome": "cancel_and_refund"},
    "details": {"consumer.name": "Jane Q. Consumer", "consumer.email": "jane@example.com"},
}


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


def count(runtime: Runtime, model: type[Case] | type[Letter] | type[OutboundEmail]) -> int:
    with runtime.sessions() as session:
        return int(session.execute(select(func.count(model.id))).scalar_one())


def answer(client: FlaskClient, step: str, fields: dict[str, str], query: str = "") -> tuple[int, str]:
    """Post one step; the redirect's target, or the page when it stays."""
    response = client.post(f"/start/{step}{query}",
                           data={"csrf_token": csrf_token(client, f"/start/{step}{query}"), **fields})
    return response.status_code, response.headers.get("Location", "") or response.get_data(as_text=True)


def walk(client: FlaskClient, answers: dict[str, dict[str, str]]) -> None:
    for step, fields in answers.items():
        status, where = answer(client, step, fields)
        assert status == 303, (step, where[:2000])


def text(html: str) -> str:
    """What a reader sees: no tags, spaces folded."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


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


# --- the wizard's short path ---------------------------------------------------------------------------------------

def test_after_the_plan_a_page_says_no_letter_and_gives_apples_steps(client: FlaskClient) -> None:
    walk(client, {"company": APPLE["company"]})
    status, where = answer(client, "plan", APPLE["plan"])
    assert (status, where) == (303, "/start/app-store")
    page = client.get(where).get_data(as_text=True)
    said = text(page)
    assert "Apple bills this subscription, so no letter can cancel it" in said
    assert "Coursera cannot cancel a subscription that Apple bills" in said
    assert "We write no letter, and send nothing to Coursera or to Apple in your name" in said
    assert "We cannot cancel the subscription or ask for a refund for you" in said
    assert "Tap the subscription, then Cancel Subscription, and confirm." in said  # Apple's own steps
    assert "Step 3 of 7" in said
    assert 'href="/start/dates"' in page  # Continue
    assert 'href="/start/plan" class="back-link"' in page
    assert LETTER_CONSENT not in page


def test_google_plays_page_links_its_help_page(client: FlaskClient) -> None:
    walk(client, {"company": APPLE["company"], "plan": {**APPLE["plan"], "billing_channel": "google_play"}})
    page = client.get("/start/app-store").get_data(as_text=True)
    assert "Google Play bills this subscription" in text(page)
    assert f'href="{GOOGLE_CANCEL}"' in page
    assert ("a code to confirm your e-mail address. If you never confirm it, your details are deleted after 7 days."
            in text(page))
    assert "once you have confirmed your address" in text(page)


def test_the_short_path_asks_only_what_dates_and_refund_need(client: FlaskClient) -> None:
    walk(client, {k: APPLE[k] for k in ("company", "plan")})
    dates = client.get("/start/dates").get_data(as_text=True)
    assert 'back-link' in dates
    assert 'href="/start/app-store"' in dates
    for asked in ("country", "payment_date", "trial_start_date", "next_renewal_date"):
        assert f'name="{asked}"' in dates, asked
    for not_asked in ("subscription_start_date", "amount.value", "certificate_earned"):
        assert f'name="{not_asked}"' not in dates, not_asked
    assert "your letter" not in dates
    walk(client, {"dates": APPLE["dates"]})
    outcome = text(client.get("/start/outcome").get_data(as_text=True))
    assert "Cancel, and ask Apple for my last payment back" in outcome
    assert "Refunds are Apple's decision" in outcome
    walk(client, {"outcome": APPLE["outcome"]})
    details = client.get("/start/details").get_data(as_text=True)
    assert "No letter is written: Apple bills this subscription" in text(details)
    assert 'type="checkbox"' not in details  # no consent box: nothing is written or sent in their name
    assert "consent" not in details.lower()
    for not_asked in ("consumer.postal_address", "account_identifier"):
        assert f'name="{not_asked}"' not in details, not_asked
    assert 'name="consumer.email"' in details


def test_check_says_no_letter_and_routes_the_refund_to_apple(client: FlaskClient, committed: Runtime) -> None:
    walk(client, APPLE)
    page = client.get("/start/check").get_data(as_text=True)
    said = text(page)
    assert ("No letter: Apple bills this subscription, so Coursera cannot cancel it. You cancel it in your Apple "
            "subscription settings, and we e-mail you this case's link.") in said
    assert "We e-mail this case's link to jane@example.com" in said
    assert ("with a code to confirm the address: we send it nothing else, reminders included, until you confirm, "
            "and if you never do, your details are deleted after 7 days.") in said
    assert f"For your refund, ask Apple for the payment of {long_date(days_ago(7))}" in said
    assert f'<a href="{APPLE_REFUND}">' in page
    assert f"Next charge by Apple {long_date(days_ahead(20))}" in said
    assert "Cancel, and ask Apple for my last payment back" in said
    for row in ("First subscribed", "Amount", "Your postal address", "Your account with the company"):
        assert row not in said, row
    assert "Preview your letter" not in page
    assert "Track my case" in said
    assert "Prepare my letter" not in said
    # Each "Change" comes straight back here.
    assert 'href="/start/dates?return=check"' in page
    status, where = answer(client, "dates", {**APPLE["dates"], "next_renewal_date": iso_days_ahead(25)},
                           "?return=check")
    assert (status, where) == (303, "/start/check")
    assert long_date(days_ahead(25)) in text(client.get("/start/check").get_data(as_text=True))


def test_filing_the_short_path_makes_a_case_and_no_letter(client: FlaskClient, committed: Runtime) -> None:
    walk(client, APPLE)
    response = client.post("/start/check", data={"csrf_token": csrf_token(client, "/start/check")})
    assert response.status_code == 303
    assert "/c/" in response.headers["Location"]
    with committed.sessions() as session:
        case = session.execute(select(Case)).scalar_one()
    assert (case.billing_channel.value, case.next_renewal_date, case.consumer_postal_address) == (
        "apple_app_store", days_ahead(20), None)
    assert count(committed, Letter) == 0
    with committed.sessions() as session:  # the consumer's e-mail with the link, and nothing else
        assert [(e.kind, e.recipients) for e in session.scalars(select(OutboundEmail))] == [
            ("case_without_letter", ["jane@example.com"])]
    page = text(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "Tracked without a letter" in page
    assert "We are e-mailing a link to this case to jane@example.com" in page


def test_changing_to_the_app_store_from_check_shows_the_page_first(client: FlaskClient, committed: Runtime) -> None:
    general = {**APPLE, "plan": {**APPLE["plan"], "billing_channel": "direct"},
               "dates": {"country": "AU", "payment_date": iso_days_ago(7), "amount.value": "599.00",
                         "amount.currency": "AUD"},
               "details": {**APPLE["details"], "consent.send_in_my_name": "yes"}}
    walk(client, general)
    assert "Prepare my letter" in client.get("/start/check").get_data(as_text=True)
    status, where = answer(client, "plan", APPLE["plan"], "?return=check")
    assert (status, where) == (303, "/start/app-store?return=check")
    page = client.get(where).get_data(as_text=True)
    assert "no letter can cancel it" in text(page)
    assert 'href="/start/check"' in page  # Continue goes back to check
    check = text(client.get("/start/check").get_data(as_text=True))
    assert "Track my case" in check
    assert "Amount" not in check
    # And back to the company billing it: the letter's questions and its consent are asked again.
    status, where = answer(client, "plan", general["plan"], "?return=check")
    assert (status, where) == (303, "/start/dates?return=check")
    response = client.get("/start/check")
    assert response.status_code == 200
    assert "Prepare my letter" in text(response.get_data(as_text=True))  # the consent they ticked themselves


def test_leaving_the_short_path_asks_the_letters_consent(client: FlaskClient, committed: Runtime) -> None:
    walk(client, APPLE)
    status, where = answer(client, "plan", {**APPLE["plan"], "billing_channel": "direct"}, "?return=check")
    assert (status, where) == (303, "/start/dates?return=check")
    status, where = answer(client, "dates", {"country": "AU", "payment_date": iso_days_ago(7)}, "?return=check")
    assert (status, where) == (303, "/start/check")
    response = client.get("/start/check")  # never filed without the consent a letter needs
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/start/details?")
    details = client.get(response.headers["Location"]).get_data(as_text=True)
    assert LETTER_CONSENT in details
    assert 'href="#consent-send_in_my_name"' in details
    assert count(committed, Case) == 0


def test_the_platform_page_is_only_for_app_store_billing(client: FlaskClient) -> None:
    walk(client, {"company": APPLE["company"], "plan": {**APPLE["plan"], "billing_channel": "direct"}})
    response = client.get("/start/app-store")
    assert (response.status_code, response.headers["Location"]) == (302, "/start/dates")
    status, where = answer(client, "plan", {**APPLE["plan"], "billing_channel": "direct"})
    assert (status, where) == (303, "/start/dates")  # the general path goes on as before
