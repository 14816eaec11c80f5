"""Each consumer journey, walked in Debian's chromium at phone widths (320 and 375 px) and a desktop's (1280 px).

On every page the journey reaches: nothing runs off the screen sideways (WCAG 1.4.10) and axe finds no
violation. Each journey also asserts the sentences a worried consumer relies on at that moment. Screenshots of
every page land in the test's var directory (``screenshots/``) to be looked at.
"""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from casework.cases.models import Case
from casework.cases.review import REVIEW_WORKING_DAYS, add_working_days
from casework.cases.states import CaseStatus
from casework.letters.models import Letter
from casework.runtime import Runtime
from tests.cases.test_consumer_answers import new_case
from tests.support.browser import launch, served_app, skip_without_chromium
from tests.support.jobs import run_pending_jobs
from tests.support.today import TODAY, days_ahead, iso_days_ago, long_date

pytestmark = [pytest.mark.browser, pytest.mark.http]

skip_without_chromium()

WIDTHS = [320, 375, 1280]  # the narrowest phone WCAG 1.4.10 names, a common phone, a desktop
SCROLLS_SIDEWAYS = "document.documentElement.scrollWidth > window.innerWidth"
# The innermost elements that end beyond the window's right edge, to say what pushes a page wide.
OVERFLOWING = """[...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
  .filter(e => ![...e.children].some(c => c.getBoundingClientRect().right > window.innerWidth + 0.5))
  .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '') + ': '
    + (e.textContent || '').trim().slice(0, 60))"""
STATUS_URL = re.compile(r"/c/[A-Za-z0-9_-]+$")


@dataclass
class Journey:
    """A browser page walking one journey, checking each page it reaches."""

    page: Any
    width: int
    shots: Path
    name: str
    seen: list[str] = field(default_factory=list)

    def look(self, label: str) -> None:
        """The page as it stands: no sideways scroll, no axe violation, and a screenshot."""
        self.page.wait_for_load_state("load")
        where = f"{self.name} at {self.width} px, {label} ({self.page.url})"
        assert not self.page.evaluate(SCROLLS_SIDEWAYS), (
            f"{where}: {self.page.evaluate('document.documentElement.scrollWidth')} px wide, beyond the right edge:"
            f" {self.page.evaluate(OVERFLOWING)}")
        from axe_playwright_python.sync_playwright import Axe

        results = Axe().run(self.page)
        assert results.violations_count == 0, f"{where}:\n{results.generate_report()}"
        self.seen.append(label)
        self.page.screenshot(path=str(self.shots / f"{self.name}-{len(self.seen)}-{label}-{self.width}.png"),
                             full_page=True)

    def text(self) -> str:
        """The page's visible text, with white space collapsed."""
        return " ".join(self.page.locator("body").inner_text().split())

    def cont(self) -> None:
        self.page.click("button:has-text('Continue')")


@pytest.fixture
def served(app: Flask, committed: Runtime) -> Iterator[str]:
    with served_app(app) as url:
        yield url


@pytest.fixture
def browser_page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context()
        yield context.new_page()
        context.close()
        browser.close()


@pytest.fixture(params=WIDTHS, ids=[f"{width}px" for width in WIDTHS])
def journey(request: pytest.FixtureRequest, browser_page: Any, var_dir: Path) -> Journey:
    width = int(request.param)
    browser_page.set_viewport_size({"width": width, "height": 812})
    shots = var_dir / "screenshots"
    shots.mkdir(exist_ok=True)
    name = request.node.originalname.removeprefix("test_")
    return Journey(browser_page, width, shots, name)


def outbox_link(runtime: Runtime, to: str, pattern: str) -> str:
    """The path of the first link matching ``pattern`` in an e-mail to ``to`` (from the outbox)."""
    for path in sorted(runtime.settings.outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes())
        if to not in str(message["To"]):
            continue
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                found = re.search(r"https?://[^/\s]+(" + pattern + r")", part.get_payload(decode=True).decode())
                if found:
                    return found.group(1)
    raise AssertionError(f"no e-mail to {to} with a link like {pattern}")


def wizard_to_details(j: Journey, served: str, *, country: str = "AU", region: str = "") -> None:
    """From the start page through the Coursera questions up to "Your details"."""
    page = j.page
    page.goto(served + "/start")
    j.look("start")
    page.click("a:has-text('Start now')")
    j.look("company")
    page.check("#provider-coursera")
    j.cont()
    j.look("plan")
    page.check("#plan-coursera-plus-annual")
    page.check("#billing_channel-direct")
    j.cont()
    j.look("dates")
    page.select_option("#country", country)
    if region:
        page.select_option("#region", region)
    page.fill("#payment_date", iso_days_ago(7))
    page.fill("#amount-value", "399.00")
    page.fill("#amount-currency", "USD" if country == "US" else "AUD")
    j.cont()
    j.look("outcome")
    page.check("#requested_outcome-cancel_and_refund")
    j.cont()
    j.look("details")


def fill_details(j: Journey, name: str, address: str) -> None:
    j.page.fill("#consumer-name", name)
    j.page.fill("#consumer-email", address)
    j.page.check("#consent-send_in_my_name")
    j.cont()
    j.page.wait_for_url(re.compile(r"/start/check$"))


def test_coursera_web_form(journey: Journey, served: str, committed: Runtime) -> None:
    """Coursera takes no e-mail: from the check page on, the consumer is told they submit the letter themselves,
    and by when; the confirm button says what it does."""
    j, page = journey, journey.page
    wizard_to_details(j, served)
    fill_details(j, "Jane Q. Consumer", "jane@example.com")
    j.look("check")
    act_by = long_date(days_ahead(6))  # a day before the refund period's last day (payment + 14 days)
    assert "you submit the letter through their form yourself" in j.text()
    assert "we e-mail it to Coursera" not in j.text()
    assert page.locator(".urgent strong").inner_text() == act_by
    page.click("button:has-text('Prepare my letter')")
    page.wait_for_url(STATUS_URL)
    j.look("filed")
    run_pending_jobs(committed)
    page.goto(served + outbox_link(committed, "jane@example.com", r"/c/\S+/confirm\?code=\S+"))
    j.look("confirm")
    text = j.text()
    assert "You will submit this letter through Coursera's form (about five minutes)" in text
    assert act_by in text
    assert "We send this letter to Coursera" not in text
    assert page.locator("form button[type=submit]").last.inner_text() == "Confirm the letter"
    page.click("button:has-text('Confirm the letter')")
    page.wait_for_url(STATUS_URL)
    j.look("confirmed")
    assert act_by in j.text()
    page.fill("#confirmation", "Ticket 4711")
    page.click("button:has-text('I have submitted it')")
    page.wait_for_url(STATUS_URL)
    j.look("submitted")
    assert "Ticket 4711" in j.text()


def test_another_company_by_email(journey: Journey, served: str, committed: Runtime) -> None:
    """A company that takes e-mail: the confirm page says we e-mail it, and after confirming the letter goes."""
    j, page = journey, journey.page
    page.goto(served + "/start/company")
    j.look("company")
    page.check("#provider-other")
    page.fill("#company-name", "Streamy Ltd")
    page.fill("#company-email", "cancel@streamy.example")
    j.cont()
    j.look("plan")
    page.check("#plan-other-monthly")
    page.check("#billing_channel-direct")
    j.cont()
    page.select_option("#country", "GB")
    page.fill("#payment_date", iso_days_ago(3))
    page.fill("#amount-value", "12.99")
    page.fill("#amount-currency", "GBP")
    j.cont()
    page.check("#requested_outcome-cancel")
    j.cont()
    j.look("details")
    fill_details(j, "Sam Sample", "sam@example.com")
    j.look("check")
    assert "Once you confirm, we e-mail it to Streamy Ltd and track their answer." in j.text()
    page.click("button:has-text('Prepare my letter')")
    page.wait_for_url(STATUS_URL)
    run_pending_jobs(committed)
    page.goto(served + outbox_link(committed, "sam@example.com", r"/c/\S+/confirm\?code=\S+"))
    j.look("confirm")
    sentence = "We e-mail this letter to Streamy Ltd (cancel@streamy.example) in your name as soon as you confirm"
    assert sentence in j.text()
    page.click("form button[type=submit] >> nth=-1")
    page.wait_for_url(STATUS_URL)
    run_pending_jobs(committed)
    page.reload()
    j.look("sent")
    assert "Delivered" in j.text()
    with committed.sessions() as session:
        assert session.execute(select(Case.status)).scalar_one() is CaseStatus.SENT


def test_billed_by_apple(journey: Journey, served: str, committed: Runtime) -> None:
    """Apple bills it: the consumer learns before giving any details that no letter can cancel it, gets Apple's
    steps, is asked no consent to a letter, and is e-mailed the case's link with Apple's refund page."""
    j, page = journey, journey.page
    page.goto(served + "/start/company")
    page.check("#provider-coursera")
    j.cont()
    page.check("#plan-coursera-plus-monthly")
    page.check("#billing_channel-apple_app_store")
    j.cont()
    page.wait_for_url(re.compile(r"/start/app-store$"))
    j.look("app-store")
    text = j.text()
    assert "no letter" in text.lower()
    assert page.locator("#consumer-name").count() == 0  # nothing personal asked yet
    page.click("a:has-text('Continue')")
    page.wait_for_url(re.compile(r"/start/dates$"))
    j.look("dates")
    page.select_option("#country", "GB")
    page.fill("#payment_date", iso_days_ago(3))
    j.cont()
    j.look("outcome")
    page.check("#requested_outcome-cancel_and_refund")
    j.cont()
    j.look("details")
    assert page.locator("input[type=checkbox]").count() == 0  # no consent to a letter that will not exist
    page.fill("#consumer-name", "Alex Apple")
    page.fill("#consumer-email", "alex@example.com")
    j.cont()
    page.wait_for_url(re.compile(r"/start/check$"))
    j.look("check")
    assert "We e-mail this case's link to alex@example.com, with a code to confirm the address" in j.text()
    assert page.locator("a[href='https://support.apple.com/118223']").count() >= 1
    page.click("button:has-text('Track my case')")
    page.wait_for_url(STATUS_URL)
    j.look("filed")
    assert "Apple bills this subscription" in j.text()
    assert "confirm it from the e-mail" not in j.text()
    assert "Until you confirm that this address is yours, we send it no reminders" in j.text()
    run_pending_jobs(committed)
    assert outbox_link(committed, "alex@example.com", r"/c/[A-Za-z0-9_-]+")
    page.reload()
    j.look("e-mailed")
    with committed.sessions() as session:
        assert session.execute(select(func.count(Letter.id))).scalar_one() == 0


def test_a_californian(journey: Journey, served: str, committed: Runtime) -> None:
    """The state is asked after the country; the check page names it; the case counts in Pacific time."""
    j, page = journey, journey.page
    wizard_to_details(j, served, country="US", region="US-CA")
    fill_details(j, "Carla Consumer", "carla@example.com")
    j.look("check")
    assert "California, United States" in j.text()
    page.click("button:has-text('Prepare my letter')")
    page.wait_for_url(STATUS_URL)
    j.look("filed")
    with committed.sessions() as session:
        assert tuple(session.execute(select(Case.region, Case.timezone)).one()) == ("US-CA", "America/Los_Angeles")


def test_the_company_refused(journey: Journey, served: str, committed: Runtime) -> None:
    """The consumer records a refusal: the page stops saying it waits for the company, and says what comes next."""
    j, page = journey, journey.page
    _, token = new_case(committed, CaseStatus.SENT, consumer_email="sam@example.com")
    page.goto(served + f"/c/{token}")
    j.look("waiting")
    page.select_option("#answer-type", "refused")
    page.fill("#answer-received_on", iso_days_ago(1))
    page.fill("#answer-summary", "They said the refund period had passed.")
    page.click("button:has-text('Record their answer')")
    page.wait_for_url(STATUS_URL)
    j.look("refused")
    assert page.locator("#answer-panel").is_visible()
    text = j.text()
    assert "waiting for the company" not in text.lower()
    assert f"A caseworker will look at your case by {long_date(add_working_days(TODAY, REVIEW_WORKING_DAYS))}." in text
    assert "card" in page.locator("#answer-panel").inner_text().lower()


def test_empty_details(journey: Journey, served: str, committed: Runtime) -> None:
    """Consent ticked, name and e-mail empty: the step names each missing field; the wizard never loops."""
    j, page = journey, journey.page
    wizard_to_details(j, served)
    page.check("#consent-send_in_my_name")
    j.cont()
    page.wait_for_selector(".error-summary")
    j.look("details-errors")
    summary = page.locator(".error-summary").inner_text()
    assert "Enter your full name" in summary
    assert "consumer" not in summary.lower().replace("consumer.", "")
    assert "error-summary" in page.evaluate("document.activeElement.className")
    for path in ("/start", "/start/check"):
        page.goto(served + path)
        j.look(path.strip("/").replace("/", "-"))
    assert re.search(r"/start/details", page.url)  # check sends the consumer to what is missing
    fill_details(j, "Jane Q. Consumer", "jane@example.com")
    j.look("check")


def test_five_corrections_in_a_row(journey: Journey, served: str, committed: Runtime) -> None:
    """The single-page form refused five times, each time with every problem, what was typed, and no lock-out."""
    j, page = journey, journey.page
    page.goto(served + "/")
    j.look("form")
    page.select_option("#plan", "coursera:coursera-plus-annual")
    page.check("#billing_channel-direct")
    corrections = [
        ("#country", "AU"),
        ("#payment_date", iso_days_ago(7)),
        ("#amount-value", "599.00"),
        ("#amount-currency", "AUD"),
        ("#consumer-name", "Jane Q. Consumer"),
    ]
    for number, (selector, value) in enumerate(corrections, start=1):
        page.click("button:has-text('File my case')")
        page.wait_for_selector(".error-summary")
        assert "Too many attempts" not in j.text()
        assert "error-summary" in page.evaluate("document.activeElement.className")
        if number in (1, len(corrections)):
            j.look(f"errors-{number}")
        for earlier, typed in corrections[:number - 1]:
            assert page.input_value(earlier) == typed
        if selector == "#country":
            page.select_option(selector, value)
        else:
            page.fill(selector, value)
    page.check("#requested_outcome-cancel_and_refund")
    page.fill("#consumer-email", "jane@example.com")
    page.check("#consent-send_in_my_name")
    page.click("button:has-text('File my case')")
    page.wait_for_url(STATUS_URL)
    j.look("filed")


def test_the_first_questions_with_the_keyboard_only(journey: Journey, served: str, committed: Runtime) -> None:
    """Skip link, "Start now", a radio and "Continue" are all reached and used with Tab, arrows, Space and Enter,
    and the focused element is always visible on the screen."""
    j, page = journey, journey.page
    page.goto(served + "/start")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to main content"
    page.keyboard.press("Enter")
    for _ in range(10):  # from the main content to "Start now"
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Start now":
            break
    else:
        raise AssertionError("Start now is not reachable with Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/start/company$"))
    j.look("company")
    page.keyboard.press("Tab")
    while page.evaluate("document.activeElement.name") != "provider":
        page.keyboard.press("Tab")
    page.keyboard.press("Space")
    assert page.evaluate("document.activeElement.checked")
    chosen = page.evaluate("document.activeElement.value")
    page.keyboard.press("Tab")
    while page.evaluate("document.activeElement.tagName") != "BUTTON":
        page.keyboard.press("Tab")
    box = page.evaluate("(() => { const r = document.activeElement.getBoundingClientRect();"
                        " return [r.width, r.height, r.right <= window.innerWidth]; })()")
    assert box[0] > 0
    assert box[1] > 0
    assert box[2]
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/start/plan$"))
    j.look("plan")
    assert chosen == "coursera"  # the listed companies come first, "another company" last


def test_the_language_question_with_the_keyboard(journey: Journey, served: str, committed: Runtime) -> None:
    """The single-page form and the wizard ask it. Living in Germany, no language is chosen for the consumer: the
    hint names German, check your answers shows it with "Change", and the arrows choose another language, which
    check your answers then shows and the case keeps."""
    j, page = journey, journey.page
    page.goto(served + "/")  # the single-page form asks it too, among its other questions
    assert page.locator("#language [lang=fr]").inner_text() == "Français"
    j.look("form")
    wizard_to_details(j, served, country="DE")
    assert "If you do not choose one, we use Deutsch, the language of your country." in j.text()
    assert page.locator("input[name=language]:checked").count() == 0
    fill_details(j, "Jana Verbraucherin", "jana@example.com")
    j.look("check")
    row = page.locator(".summary-list__row", has_text="Language of your letter and e-mails")
    assert row.locator(".summary-list__value").inner_text() == "Deutsch"
    assert row.locator("[lang=de]").count() == 1
    row.locator("a:has-text('Change')").click()
    page.wait_for_url(re.compile(r"/start/details\?return=check$"))
    page.focus("#language-en")
    page.keyboard.press("Space")
    page.keyboard.press("ArrowDown")  # the next radio of the group: Français
    assert page.evaluate("document.activeElement.id") == "language-fr"
    assert page.locator("#language-fr").is_checked()
    j.look("details-language")
    page.click("button:has-text('Continue')")
    page.wait_for_url(re.compile(r"/start/check$"))
    assert page.locator(".summary-list__row", has_text="Language of your letter and e-mails").locator(
        ".summary-list__value").inner_text() == "Français"
    page.click("button:has-text('Prepare my letter')")
    page.wait_for_url(STATUS_URL)
    with committed.sessions() as session:
        assert session.execute(select(Case.language)).scalar_one() == "fr"


def test_the_pages_around_the_journeys(journey: Journey, served: str, committed: Runtime) -> None:
    """The pages a consumer meets off the main path (a lost link, checking a letter's code, deleting their
    details, a page that does not exist) fit the screen and pass axe, with their errors shown."""
    j, page = journey, journey.page
    _, token = new_case(committed, CaseStatus.SENT, consumer_email="sam@example.com")
    visits = [
        ("lost-link", "/lost-link"),
        ("verify", "/verify"),
        ("verify-malformed", "/verify?code=not-a-code"),
        ("verify-unknown", "/verify/7K2QF-M9XZA"),
        ("erase", f"/c/{token}/erase"),
        ("not-found", "/no-such-page"),
        ("unknown-case", "/c/" + "x" * 43),
    ]
    for label, path in visits:
        page.goto(served + path)
        j.look(label)
    page.goto(served + "/lost-link")
    page.click("form button[type=submit] >> nth=-1")  # nothing typed
    page.wait_for_selector(".error-summary, .field--error")
    j.look("lost-link-error")
    assert page.locator(".error-summary").inner_text().splitlines()[-1] == "Enter the e-mail address you filed with"


def test_signing_out_of_all_devices_with_the_keyboard(journey: Journey, served: str, committed: Runtime) -> None:
    """"Sign out of all devices" is reached with Tab and pressed with Enter; the page that follows, and the page an
    old link then shows, fit the screen and pass axe; the new link comes by e-mail and opens the case."""
    j, page = journey, journey.page
    _, token = new_case(committed, CaseStatus.SENT, consumer_email="sam@example.com")
    page.goto(served + f"/c/{token}")
    for _ in range(200):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Sign out of all devices":
            break
    else:
        raise AssertionError("Sign out of all devices is not reachable with Tab")
    box = page.evaluate("(() => { const r = document.activeElement.getBoundingClientRect();"
                        " return [r.width, r.right <= window.innerWidth]; })()")
    assert box[0] > 0
    assert box[1]
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/sign-out$"))
    j.look("signed-out")
    assert "You are signed out of all devices" in j.text()
    page.goto(served + f"/c/{token}")
    j.look("link-gone")
    assert "This link no longer works" in j.text()
    run_pending_jobs(committed)
    page.goto(served + outbox_link(committed, "sam@example.com", r"/c/[A-Za-z0-9_-]+"))
    page.wait_for_url(STATUS_URL)
    j.look("new-link")
