"""The wizard's app-store path on a 320 px phone, in a real browser: every page reflows without a horizontal scroll,
and the case is filed without a letter or a consent box."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from casework.runtime import Runtime
from tests.support.browser import launch, served_app, skip_without_chromium
from tests.support.today import iso_days_ago, iso_days_ahead

pytestmark = [pytest.mark.browser, pytest.mark.http]

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
        context = browser.new_context(viewport={"width": 320, "height": 640})
        yield context.new_page()
        context.close()
        browser.close()


def fits(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_the_app_store_path_on_a_small_phone(served: str, page: Any, var_dir: Path) -> None:
    shots = var_dir / "screenshots"
    shots.mkdir(exist_ok=True)
    page.goto(served + "/start/company")
    page.check("#provider-coursera")
    page.click("button:has-text('Continue')")
    page.check("#plan-coursera-plus-annual")
    page.check("#billing_channel-google_play")
    page.click("button:has-text('Continue')")
    page.wait_for_url(re.compile(r"/start/app-store$"))
    assert fits(page)
    page.screenshot(path=str(shots / "wizard-app-store-320.png"), full_page=True)
    page.click("a:has-text('Continue')")
    page.wait_for_url(re.compile(r"/start/dates$"))
    assert fits(page)
    page.select_option("#country", "AU")
    page.fill("#payment_date", iso_days_ago(3))
    page.fill("#next_renewal_date", iso_days_ahead(27))
    page.click("button:has-text('Continue')")
    page.check("#requested_outcome-cancel_and_refund")
    page.click("button:has-text('Continue')")
    assert fits(page)
    assert page.locator("input[type=checkbox]").count() == 0
    page.fill("#consumer-name", "Jane Q. Consumer")
    page.fill("#consumer-email", "jane@example.com")
    page.click("button:has-text('Continue')")
    page.wait_for_url(re.compile(r"/start/check$"))
    assert fits(page)
    page.screenshot(path=str(shots / "wizard-check-google-play-320.png"), full_page=True)
    page.click("button:has-text('Track my case')")
    page.wait_for_url(re.compile(r"/c/[A-Za-z0-9_-]+$"))
    assert "We are e-mailing a link to this case to jane@example.com" in " ".join(page.inner_text("body").split())
    assert fits(page)
    page.screenshot(path=str(shots / "case-google-play-320.png"), full_page=True)
