"""The consumer pages' scripts in a real browser (Debian's chromium through Playwright), against the served app:
the case page refreshes itself once a real worker has written the letter; the single-page form shows the
questions that apply to the chosen company and plan."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from casework.runtime import Runtime
from casework.web import limiter
from tests.cases.test_status_pages import ACME, confirm_code
from tests.support.browser import launch, served_app, skip_without_chromium
from tests.support.jobs import run_pending_jobs
from tests.support.today import iso_days_ago
from tests.support.web import filing_form, post_form, token_from_location

pytestmark = [pytest.mark.browser, pytest.mark.http]

skip_without_chromium()

# The page asks every few seconds, less often as time goes on; the worker starts and renders meanwhile.
UPDATE_TIMEOUT_MS = 120_000


@pytest.fixture
def served(app: Flask, committed: Runtime) -> Iterator[str]:
    with served_app(app) as url:
        yield url


@pytest.fixture
def page(var_dir: Path) -> Iterator[Any]:
    """A page whose script errors and console errors (a refused Content-Security-Policy, say) fail the test; a form
    answered 422 is logged as a failed load, and is no error of a script."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context()
        opened = context.new_page()
        errors: list[str] = []
        opened.on("console", lambda message: errors.append(message.text) if message.type == "error"
                  and not message.text.startswith("Failed to load resource") else None)
        opened.on("pageerror", lambda error: errors.append(str(error)))
        yield opened
        context.close()
        browser.close()
        assert errors == [], errors


def screenshots(var_dir: Path) -> Path:
    shots = var_dir / "screenshots"
    shots.mkdir(exist_ok=True)
    return shots


@pytest.mark.worker
def test_the_case_page_updates_itself_when_the_worker_has_written_the_letter(
        served: str, page: Any, committed: Runtime, start_worker: Any, var_dir: Path) -> None:
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(served + "/")
    page.select_option("#plan", "coursera:coursera-plus-annual")
    page.check("#billing_channel-direct")
    page.select_option("#country", "AU")
    page.fill("#payment_date", iso_days_ago(7))
    page.check("#requested_outcome-cancel_and_refund")
    page.fill("#consumer-name", "Zoë Ångström")
    page.fill("#consumer-email", "zoe@example.com")
    page.check("#consent-send_in_my_name")
    page.click("button:has-text('File my case')")
    page.wait_for_url(re.compile(r"/c/[A-Za-z0-9_-]+$"))
    assert page.locator("#case-page >> text=We are preparing your letter").is_visible()  # no worker: no change
    assert page.locator("#case-page a:has-text('Refresh this page')").is_visible()
    assert page.get_attribute("#page-updated", "role") == "status"
    assert page.locator("#page-updated").inner_text() == ""
    page.screenshot(path=str(screenshots(var_dir) / "case-page-waiting-375.png"), full_page=True)
    page.evaluate("window.sameDocument = true")  # gone if the browser loaded the page anew

    start_worker()
    page.wait_for_selector("#case-page >> text=We e-mailed your letter", timeout=UPDATE_TIMEOUT_MS)
    assert page.evaluate("window.sameDocument === true")  # updated in place, not reloaded by hand
    assert page.locator("#page-updated").inner_text() == "This page was updated: We e-mailed your letter to " \
        "zoe@example.com."
    assert page.locator("a:has-text('Review and confirm my letter')").is_visible()
    assert page.get_attribute("#case-page", "data-progress") is None  # nothing pending: it stopped asking
    assert page.locator("text=Refresh this page").count() == 0
    assert page.locator(".notice").count() == 0  # "we are preparing your letter", said on filing, is gone
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(screenshots(var_dir) / "case-page-updated-375.png"), full_page=True)


def test_the_form_shows_the_questions_that_apply_to_the_chosen_plan(served: str, page: Any, var_dir: Path) -> None:
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(served + "/")
    company, certificate = page.locator("#another-company"), page.locator("#certificate-field")
    assert not company.is_visible()  # nothing chosen yet
    assert not certificate.is_visible()

    page.select_option("#plan", "coursera:coursera-plus-annual")  # a certificate ends its refund
    assert certificate.is_visible()
    assert not company.is_visible()
    page.select_option("#plan", "coursera:guided-project")
    assert not certificate.is_visible()
    page.select_option("#plan", "other:other-monthly")
    assert company.is_visible()
    assert not certificate.is_visible()
    page.screenshot(path=str(screenshots(var_dir) / "form-another-company-375.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # What was typed or ticked stays in view whatever is chosen next.
    page.fill("#company-name", "Acme Streaming")
    page.select_option("#plan", "coursera:guided-project")
    assert company.is_visible()
    page.fill("#company-name", "")
    page.select_option("#plan", "coursera:coursera-plus-annual")
    assert not company.is_visible()
    page.check("#certificate_earned")
    page.select_option("#plan", "coursera:guided-project")
    assert certificate.is_visible()
    page.uncheck("#certificate_earned")
    page.select_option("#plan", "coursera:specialization-monthly")
    assert not certificate.is_visible()

    # A question sent back with an error stays in view, even emptied.
    page.select_option("#plan", "other:other-monthly")
    page.fill("#company-email", "cancel@acme.example")
    page.click("button:has-text('File my case')")
    page.wait_for_selector(".error-summary")
    assert page.locator("#company-name-error").is_visible()
    page.fill("#company-email", "")
    page.select_option("#plan", "coursera:coursera-plus-annual")
    assert company.is_visible()


def test_the_wizard_asks_about_another_company_only_once_it_is_chosen(served: str, page: Any) -> None:
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(served + "/start/company")
    company = page.locator("#another-company")
    assert not company.is_visible()
    page.check("#provider-other")
    assert company.is_visible()
    page.check("#provider-coursera")
    assert not company.is_visible()
    page.check("#provider-other")
    page.fill("#company-name", "Acme Streaming")
    page.click("button:has-text('Continue')")  # no way to reach the company: sent back with the error
    page.wait_for_selector(".error-summary")
    assert company.is_visible()
    assert page.input_value("#company-name") == "Acme Streaming"
    page.check("#provider-coursera")
    assert company.is_visible()  # what was typed, and the error, stay in view


def test_without_javascript_the_form_shows_every_question_with_when_it_applies(served: str, var_dir: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context(java_script_enabled=False)
        page = context.new_page()
        page.set_viewport_size({"width": 320, "height": 640})
        page.goto(served + "/")
        assert page.locator("#another-company").is_visible()
        assert page.locator("#another-company-hint").is_visible()
        assert page.locator("#certificate-field").is_visible()
        assert page.locator("#certificate_earned-hint").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.goto(served + "/start/company")
        assert page.locator("#another-company").is_visible()
        assert page.locator("#another-company-hint").is_visible()
        page.screenshot(path=str(screenshots(var_dir) / "form-without-javascript-320.png"), full_page=True)
        context.close()
        browser.close()


@pytest.mark.worker
def test_what_someone_is_typing_is_not_thrown_away_by_an_update(
        served: str, page: Any, app: Flask, committed: Runtime, start_worker: Any) -> None:
    """The letter is being e-mailed to the company while the consumer writes on the page: the update is offered,
    not made, and the link brings it."""
    limiter.reset()
    with app.test_client() as client:
        response = post_form(client, "/", filing_form(**ACME))
        token = token_from_location(response)
        run_pending_jobs(committed)
        confirmed = post_form(client, f"/c/{token}/confirm", {"code": confirm_code(committed)},
                              page=f"/c/{token}/confirm")
        assert confirmed.status_code == 303
        token = token_from_location(confirmed)  # the links made before confirming stop working
    page.goto(served + f"/c/{token}")
    assert page.locator("#case-page >> text=Your letter is being e-mailed").is_visible()
    page.fill("#answer-summary", "They wrote back already.")
    page.evaluate("window.sameDocument = true")

    start_worker()
    page.wait_for_selector("#page-updated a:has-text('Refresh this page')", timeout=UPDATE_TIMEOUT_MS)
    assert page.evaluate("window.sameDocument === true")
    assert page.input_value("#answer-summary") == "They wrote back already."
    assert page.locator("#case-page >> text=Your letter is being e-mailed").is_visible()
    page.click("#page-updated a")
    page.wait_for_selector("#case-page >> text=Your letter was delivered")
