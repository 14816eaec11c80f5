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
from tests.support.browser import launch, served_app, skip_without_chromium
from tests.support.today import iso_days_ago

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
    """A page whose console errors (a script failing, a refused Content-Security-Policy) fail the test."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context()
        opened = context.new_page()
        errors: list[str] = []
        opened.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
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
