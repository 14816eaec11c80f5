"""In a real browser (Debian's chromium through Playwright), against the served app and a real
worker: file, receive the e-mail, confirm from its link, record the web-form delivery."""

from __future__ import annotations

import email
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from casework.cases.models import Case
from casework.cases.states import CaseStatus
from casework.runtime import Runtime
from casework.web import limiter
from tests.cases.test_consumer_answers import answer, new_case, post
from tests.support.browser import launch, served_app, skip_without_chromium
from tests.support.jobs import run_pending_jobs
from tests.support.today import days_ahead, iso_days_ago, iso_days_ahead, long_date
from tests.support.waiting import wait_for
from tests.support.web import filing_form, post_form, token_from_location

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.http]

skip_without_chromium()


@pytest.fixture
def served(app: Flask, committed: Runtime) -> Iterator[str]:
    with served_app(app) as url:
        yield url


@pytest.fixture
def page(var_dir: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context()
        yield context.new_page()
        context.close()
        browser.close()


def consumer_email(runtime: Runtime) -> email.message.Message | None:
    for path in runtime.settings.outbox.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes())
        if "confirm" in str(message["Subject"]).lower():
            return message
    return None


def test_file_confirm_and_submit_in_a_browser(served: str, page: Any, committed: Runtime,
                                              start_worker: Any, var_dir: Path) -> None:
    start_worker()
    shots = var_dir / "screenshots"
    shots.mkdir(exist_ok=True)

    page.goto(served + "/")
    page.select_option("#plan", "coursera:coursera-plus-annual")
    page.check("#billing_channel-direct")
    page.select_option("#country", "AU")
    page.fill("#payment_date", iso_days_ago(7))
    page.fill("#amount-value", "599.00")
    page.fill("#amount-currency", "AUD")
    page.check("#requested_outcome-cancel_and_refund")
    page.fill("#consumer-name", "Zoë Ångström")
    page.fill("#consumer-email", "zoe@example.com")
    page.fill("#account_identifier", "zoe@example.com")
    page.click("button[type=submit]")
    # Forgot the consent: the error summary links to the field, and what was typed is kept.
    assert page.locator(".error-summary").is_visible()
    assert page.input_value("#consumer-name") == "Zoë Ångström"
    page.screenshot(path=str(shots / "1-error.png"), full_page=True)
    page.check("#consent-send_in_my_name")
    started = time.monotonic()
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/c/[A-Za-z0-9_-]+$"))
    assert "Waiting for your confirmation" in page.content()

    # How long it took is printed, not asserted: speed belongs to the benchmarks (bench/filing_to_outbox.py).
    message = wait_for(lambda: consumer_email(committed), 60, "the consumer's e-mail in the outbox")
    seconds = time.monotonic() - started
    print(f"\nfiling in the browser → consumer's e-mail in the outbox: {seconds:.2f} s")
    text = next(p for p in message.walk() if p.get_content_type() == "text/plain").get_payload(decode=True)
    link = re.search(r"http://casework\.test(/c/\S+/confirm\?code=\S+)", text.decode())
    assert link is not None
    assert any(p.get_content_type() == "application/pdf" for p in message.walk())

    page.goto(served + link.group(1))
    assert page.locator("button:has-text('Confirm the letter')").is_visible()  # Coursera: the consumer submits it
    page.screenshot(path=str(shots / "2-confirm.png"), full_page=True)
    page.click("button:has-text('Confirm the letter')")
    page.wait_for_url(re.compile(r"/c/[A-Za-z0-9_-]+$"))
    assert "Confirmed: waiting for delivery" in page.content()
    assert "learner.coursera.help" in page.content()
    page.screenshot(path=str(shots / "3-ready.png"), full_page=True)
    page.fill("#confirmation", "Ticket 4711")
    page.click("button:has-text('I have submitted it')")
    page.wait_for_url(re.compile(r"/c/[A-Za-z0-9_-]+$"))
    assert "Delivered: waiting for the company" in page.content()
    assert "Ticket 4711" in page.content()
    page.screenshot(path=str(shots / "4-sent.png"), full_page=True)


def test_the_wizard_in_a_browser(served: str, page: Any, committed: Runtime, var_dir: Path) -> None:
    shots = var_dir / "screenshots"
    shots.mkdir(exist_ok=True)
    page.goto(served + "/start/company")
    page.check("#provider-coursera")
    page.click("button:has-text('Continue')")
    page.check("#plan-coursera-plus-annual")
    page.check("#billing_channel-direct")
    page.click("button:has-text('Continue')")
    page.select_option("#country", "AU")
    page.fill("#payment_date", iso_days_ahead(1))  # an error, corrected on the way
    page.click("button:has-text('Continue')")
    assert page.locator(".error-summary").is_visible()
    assert "Date of your last payment must be today or in the past" in page.content()
    page.fill("#payment_date", iso_days_ago(7))
    page.fill("#amount-value", "599.00")
    page.fill("#amount-currency", "AUD")
    page.click("button:has-text('Continue')")
    page.check("#requested_outcome-cancel_and_refund")
    page.click("button:has-text('Continue')")
    page.fill("#consumer-name", "王小明")
    page.fill("#consumer-email", "xiaoming@example.com")
    page.check("#consent-send_in_my_name")
    page.click("button:has-text('Continue')")
    page.wait_for_url(re.compile(r"/start/check$"))
    assert "You can get a refund" in page.content()
    page.screenshot(path=str(shots / "wizard-check-coursera.png"), full_page=True)
    page.click("button:has-text('Prepare my letter')")
    page.wait_for_url(re.compile(r"/c/[A-Za-z0-9_-]+$"))
    assert "Waiting for your confirmation" in page.content()

    # Another company, billed by Apple: steps instead of a letter.
    page.goto(served + "/start/company")
    page.check("#provider-other")
    page.fill("#company-name", "Acme Streaming")
    page.fill("#company-email", "cancel@acme.example")
    page.click("button:has-text('Continue')")
    page.check("#plan-other-monthly")
    page.check("#billing_channel-apple_app_store")
    page.click("button:has-text('Continue')")
    page.wait_for_url(re.compile(r"/start/app-store$"))  # told before anything else: no letter, Apple's steps
    assert "no letter can cancel it" in page.content()
    page.click("a:has-text('Continue')")
    page.wait_for_url(re.compile(r"/start/dates$"))
    page.select_option("#country", "GB")
    page.fill("#payment_date", iso_days_ago(17))
    page.click("button:has-text('Continue')")
    page.check("#requested_outcome-cancel")
    page.click("button:has-text('Continue')")
    page.fill("#consumer-name", "Zoë Ångström")
    page.fill("#consumer-email", "zoe@example.com")
    assert page.locator("#consent-send_in_my_name").count() == 0  # no letter, so no consent to one
    page.click("button:has-text('Continue')")
    page.wait_for_url(re.compile(r"/start/check$"))
    assert "Apple bills this subscription" in page.content()
    page.screenshot(path=str(shots / "wizard-check-app-store.png"), full_page=True)
    page.click("button:has-text('Track my case')")
    page.wait_for_url(re.compile(r"/c/[A-Za-z0-9_-]+$"))
    page.click("button:has-text('I have cancelled it')")
    assert "Resolved" in page.content()


def test_the_start_date_question_on_a_phone(served: str, page: Any, committed: Runtime, var_dir: Path) -> None:
    """At 375 px: a start after the payment is refused on the field and what was typed stays; "I don't know"
    files without one; a start inside the 14 days is on the check page and its letter cites the withdrawal right."""
    shots = var_dir / "screenshots"
    shots.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(served + "/start/company")
    page.check("#provider-coursera")
    page.click("button:has-text('Continue')")
    page.check("#plan-coursera-plus-monthly")
    page.check("#billing_channel-direct")
    page.click("button:has-text('Continue')")
    page.select_option("#country", "DE")
    page.fill("#payment_date", iso_days_ago(5))
    page.fill("#subscription_start_date", iso_days_ago(2))  # after the payment: an error on the field
    page.click("button:has-text('Continue')")
    assert page.locator(".error-summary").is_visible()
    assert "The day you first subscribed must be on or before the date of your last payment" in page.content()
    assert page.input_value("#payment_date") == iso_days_ago(5)
    assert page.input_value("#subscription_start_date") == iso_days_ago(2)
    page.screenshot(path=str(shots / "wizard-start-date-error-375.png"), full_page=True)
    page.fill("#subscription_start_date", iso_days_ago(5))
    page.click("button:has-text('Continue')")
    page.check("#requested_outcome-cancel")
    page.click("button:has-text('Continue')")
    page.fill("#consumer-name", "Jana Beispiel")
    page.fill("#consumer-email", "jana@example.com")
    page.check("#consent-send_in_my_name")
    page.click("button:has-text('Continue')")
    page.wait_for_url(re.compile(r"/start/check$"))
    assert "First subscribed" in page.content()
    page.screenshot(path=str(shots / "wizard-check-start-date-375.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # nothing runs off a phone

    page.goto(served + "/start/dates")
    page.check("#subscription_start_unknown")
    page.click("button:has-text('Continue')")
    page.goto(served + "/start/check")
    assert "First subscribed Not known" in " ".join(page.locator(".summary-list").inner_text().split())


def test_a_refused_form_puts_focus_on_its_error_summary_on_a_phone(served: str, page: Any, committed: Runtime,
                                                                   var_dir: Path) -> None:
    """At 375 px: every problem in one pass, focus on the summary, its links lead to the fields."""
    shots = var_dir / "screenshots"
    shots.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(served + "/")
    page.select_option("#plan", "other:other-monthly")
    page.check("#billing_channel-direct")
    page.fill("#company-name", "Streamy Ltd")
    page.select_option("#country", "AU")
    page.fill("#payment_date", iso_days_ago(7))
    page.click("button:has-text('File my case')")
    page.wait_for_selector(".error-summary")
    assert "error-summary" in page.evaluate("document.activeElement.className")
    summary = page.locator(".error-summary").inner_text()
    assert "Give at least one way to reach the company" in summary
    assert "Enter your full name" in summary
    page.screenshot(path=str(shots / "form-errors-375.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # nothing runs off a phone
    page.click(".error-summary a[href='#consumer-name']")
    assert page.evaluate("location.hash") == "#consumer-name"

    page.goto(served + "/start/company")
    page.click("button:has-text('Continue')")  # no company chosen
    page.wait_for_selector(".error-summary")
    assert "error-summary" in page.evaluate("document.activeElement.className")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("width", [375, 1280])
def test_a_californian_walks_the_wizard(served: str, page: Any, committed: Runtime, var_dir: Path,
                                        width: int) -> None:
    """The state question appears for the United States (not for Germany), the check page names the place, the
    filed case counts days in Pacific time, and nothing runs off the screen on a phone or a desktop."""
    shots = var_dir / "screenshots"
    shots.mkdir(exist_ok=True)
    page.set_viewport_size({"width": width, "height": 812})
    page.goto(served + "/start/company")
    page.check("#provider-coursera")
    page.click("button:has-text('Continue')")
    page.check("#plan-coursera-plus-annual")
    page.check("#billing_channel-direct")
    page.click("button:has-text('Continue')")
    page.select_option("#country", "DE")
    page.wait_for_selector("#region", state="hidden")  # not asked where it decides nothing
    page.select_option("#country", "US")
    page.wait_for_selector("#region", state="visible")
    page.select_option("#region", "US-CA")
    page.fill("#payment_date", iso_days_ago(7))
    page.fill("#amount-value", "399.00")
    page.fill("#amount-currency", "USD")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(shots / f"wizard-region-{width}.png"), full_page=True)
    page.click("button:has-text('Continue')")
    page.check("#requested_outcome-cancel_and_refund")
    page.click("button:has-text('Continue')")
    page.fill("#consumer-name", "Carla Consumer")
    page.fill("#consumer-email", "carla@example.com")
    page.check("#consent-send_in_my_name")
    page.click("button:has-text('Continue')")
    page.wait_for_url(re.compile(r"/start/check$"))
    assert "California, United States" in page.content()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(shots / f"wizard-check-region-{width}.png"), full_page=True)
    page.click("button:has-text('Prepare my letter')")
    page.wait_for_url(re.compile(r"/c/[A-Za-z0-9_-]+$"))
    with committed.sessions() as session:
        stored = session.execute(select(Case.region, Case.timezone)).one()
    assert tuple(stored) == ("US-CA", "America/Los_Angeles")


@pytest.mark.parametrize("width", [375, 1280])
def test_from_the_start_page_to_checking_the_answers(served: str, page: Any, committed: Runtime, var_dir: Path,
                                                     width: int) -> None:
    """The start page leads to the first question; check your answers fits the screen with its sources open, and a
    "Change" link comes straight back to it."""
    shots = var_dir / "screenshots"
    shots.mkdir(exist_ok=True)
    page.set_viewport_size({"width": width, "height": 812})
    page.goto(served + "/start")
    assert page.locator("h1").inner_text() == "Stop a subscription with a formal letter"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(shots / f"start-page-{width}.png"), full_page=True)
    page.click("a:has-text('Start now')")
    page.wait_for_url(re.compile(r"/start/company$"))
    page.check("#provider-coursera")
    page.click("button:has-text('Continue')")
    page.check("#plan-coursera-plus-annual")
    page.check("#billing_channel-direct")
    page.click("button:has-text('Continue')")
    page.select_option("#country", "AU")
    page.fill("#payment_date", iso_days_ago(7))
    page.fill("#amount-value", "599.00")
    page.fill("#amount-currency", "AUD")
    page.click("button:has-text('Continue')")
    page.check("#requested_outcome-cancel_and_refund")
    page.click("button:has-text('Continue')")
    page.fill("#consumer-name", "Jane Q. Consumer")
    page.fill("#consumer-email", "jane@example.com")
    page.fill("#consumer-postal_address", "12 Example Street\nBrunswick VIC 3056")
    page.fill("#account_identifier", "jane.learner")
    page.check("#consent-send_in_my_name")
    page.click("button:has-text('Continue')")
    page.wait_for_url(re.compile(r"/start/check$"))
    assert page.locator(".urgent strong").inner_text() == long_date(days_ahead(6))
    assert not page.locator("details .details__text").is_visible()
    page.click("details > summary")
    assert page.locator("details .details__text").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(shots / f"check-answers-{width}.png"), full_page=True)

    page.click("a:has-text('Change your postal address')")
    page.wait_for_url(re.compile(r"/start/details\?return=check$"))
    page.fill("#consumer-postal_address", "3 New Road\nFitzroy VIC 3065")
    page.click("button:has-text('Continue')")
    page.wait_for_url(re.compile(r"/start/check$"))
    assert "3 New Road" in page.locator(".summary-list").inner_text()
def test_who_sends_the_letter_and_the_refusal_panel_on_a_phone(served: str, page: Any, app: Flask,
                                                                committed: Runtime, var_dir: Path) -> None:
    """At 375 px: the confirm page of a web-form company says the consumer submits it and by when, its button
    does not say "send"; after a refusal the case page says what it means and what comes next."""
    shots = var_dir / "screenshots"
    shots.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 375, "height": 812})
    limiter.reset()
    with app.test_client() as client:
        response = post_form(client, "/", filing_form())
        assert response.status_code == 303
        token = token_from_location(response)
        run_pending_jobs(committed)
        _, refused = new_case(committed, CaseStatus.SENT, consumer_email="sam@example.com")
        assert post(client, refused, "answer", answer("refused")).status_code == 303

    page.goto(served + f"/c/{token}/confirm")
    assert page.locator("text=You will submit this letter through Coursera").is_visible()
    confirm = page.locator("button[type=submit]")
    assert confirm.inner_text() == "Confirm the letter"
    page.screenshot(path=str(shots / "confirm-web-form-375.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    page.goto(served + f"/c/{refused}")
    assert page.locator("#answer-panel").is_visible()
    assert "waiting for the company" not in page.content()
    assert page.locator("text=A caseworker will look at your case by").is_visible()
    assert not page.locator("#technical-details code").first.is_visible() if page.locator(
        "#technical-details code").count() else True
    page.screenshot(path=str(shots / "refusal-panel-375.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
