"""A caseworker's day in a real browser (Debian's chromium through Playwright), against the served app:
sign in, take the most urgent case from the queue, record the company's answer, resolve it; two
caseworkers taking cases at the same moment get different ones; sign-in and role checks; the queue and the
case page on a desktop and on a phone."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from casework.cases.models import Case, CaseEvent, CompanyResponse
from casework.cases.states import CaseStatus, Outcome
from casework.db import utcnow
from casework.runtime import Runtime
from tests.staff.test_claiming import PASSWORD, new_case, new_staff
from tests.staff.test_staff_case_actions import delivered
from tests.support.browser import launch, served_app, skip_without_chromium
from tests.support.today import TODAY
from tests.support.writes import writing

pytestmark = [pytest.mark.browser, pytest.mark.http]
CASE_URL = re.compile(r"/staff/cases/(CW-[A-Z0-9-]+)$")
QUEUE_URL = re.compile(r"/staff$")
TAKE_NEXT = "form[action$='/staff/take-next']"

skip_without_chromium()


@pytest.fixture
def served(app: Flask, committed: Runtime) -> Iterator[str]:
    with served_app(app) as url:
        yield url


@pytest.fixture
def new_page() -> Iterator[Callable[[], Any]]:
    """Pages in separate browser contexts: each its own cookies, so each its own signed-in person."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        contexts: list[Any] = []

        def make() -> Any:
            context = browser.new_context()
            contexts.append(context)
            return context.new_page()

        yield make
        for context in contexts:
            context.close()
        browser.close()


@pytest.fixture
def shots(var_dir: Path) -> Path:
    folder = var_dir / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


def seed(runtime: Runtime, *people: tuple[str, str]) -> tuple[list[str], dict[str, int]]:
    """Waiting cases (most urgent first: references in queue order) and the named staff accounts."""
    today = TODAY
    with writing(runtime) as session:
        staff = {name: new_staff(session, name, role).id for name, role in people}
        cases = [
            new_case(session, CaseStatus.SENT, due=today - dt.timedelta(days=2)),  # the company is late
            new_case(session, CaseStatus.SENT, due=today + dt.timedelta(days=3)),
            new_case(session, CaseStatus.READY, deadlines=[{
                "kind": "refund_window_end", "date": (today + dt.timedelta(days=9)).isoformat(),
                "act_by": (today + dt.timedelta(days=8)).isoformat()}]),
            new_case(session, CaseStatus.FOLLOW_UP, due=today + dt.timedelta(days=12)),
            new_case(session, CaseStatus.SENT, due=today + dt.timedelta(days=20)),
            new_case(session, CaseStatus.READY),
        ]
        return [case.reference for case in cases], staff


def sign_in(page: Any, served: str, name: str, password: str = PASSWORD) -> Any:
    page.goto(served + "/staff/login")
    page.fill("#email", f"{name}@casework.test")
    page.fill("#password", password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    return page


def submit(page: Any, button: str) -> None:
    """Press a form's button and wait for the page the server answers with."""
    with page.expect_navigation():
        page.get_by_role("button", name=button).click()
    assert "Internal Server Error" not in page.content()


def stored(runtime: Runtime, reference: str) -> Case:
    with runtime.sessions() as session:
        return session.execute(select(Case).where(Case.reference == reference)).scalar_one()


def test_a_caseworker_takes_the_most_urgent_case_and_resolves_it(served: str, new_page: Callable[[], Any],
                                                                  committed: Runtime, shots: Path) -> None:
    references, staff = seed(committed, ("casey", "caseworker"))
    page = sign_in(new_page(), served, "casey")
    assert QUEUE_URL.search(page.url)
    rows = page.locator("tr[data-reference]")
    assert [rows.nth(i).get_attribute("data-reference") for i in range(rows.count())] == references
    page.screenshot(path=str(shots / "staff-queue.png"), full_page=True)

    submit(page, "Take next case")
    match = CASE_URL.search(page.url)
    assert match is not None
    assert match.group(1) == references[0]
    assert f"Case {references[0]} is yours now." in page.content()
    assert "Casey" in page.locator(".case-assign, main").first.inner_text()

    yesterday = (utcnow().date() - dt.timedelta(days=1)).isoformat()
    page.select_option("#response-type", "confirmed_cancellation")
    page.fill("#response-received_on", yesterday)
    page.fill("#response-summary", "They confirmed the cancellation by e-mail; no refund yet.")
    submit(page, "Record answer")
    assert page.locator(".error-summary").count() == 0
    assert "answer is recorded" in page.content()

    page.select_option("#outcome", "cancelled")
    submit(page, "Resolve case")
    assert page.locator(".error-summary").count() == 0
    assert page.locator("span.tag[data-status='resolved']").first.is_visible()
    page.screenshot(path=str(shots / "staff-case.png"), full_page=True)

    case = stored(committed, references[0])
    assert (case.status, case.outcome) == (CaseStatus.RESOLVED, Outcome.CANCELLED)
    with committed.sessions() as session:
        answers = list(session.scalars(select(CompanyResponse).where(CompanyResponse.case_id == case.id)))
        takers = list(session.scalars(select(CaseEvent.actor_staff_id)
                                      .where(CaseEvent.case_id == case.id, CaseEvent.action == "assigned")))
    assert takers == [staff["casey"]]
    assert [(a.received_on.isoformat(), "no refund yet" in (a.summary or "")) for a in answers] == [(yesterday, True)]
    assert all(stored(committed, ref).assignee_id is None for ref in references[1:])

    # The open queue moves on without it.
    page.goto(served + "/staff")
    rows = page.locator("tr[data-reference]")
    assert [rows.nth(i).get_attribute("data-reference") for i in range(rows.count())] == references[1:]


def test_two_caseworkers_taking_at_the_same_moment_get_different_cases(served: str, new_page: Callable[[], Any],
                                                                        committed: Runtime) -> None:
    references, staff = seed(committed, ("ann", "caseworker"), ("ben", "caseworker"))
    pages = {name: sign_in(new_page(), served, name) for name in ("ann", "ben")}
    taken: dict[str, list[str]] = {"ann": [], "ben": []}
    for _ in range(3):
        for page in pages.values():
            page.goto(served + "/staff")
            page.wait_for_selector(TAKE_NEXT)
        # Both forms go off before either answer is waited for.
        with contextlib.ExitStack() as stack:
            landed = {name: stack.enter_context(page.expect_navigation()) for name, page in pages.items()}
            for page in pages.values():
                page.evaluate(f"document.querySelector(\"{TAKE_NEXT}\").submit()")
        for name, page in pages.items():
            response = landed[name].value
            assert (response.status, response.url) == (200, page.url), page.locator("main").inner_text()[:300]
            match = CASE_URL.search(page.url)
            assert match is not None
            taken[name].append(match.group(1))

    everything = taken["ann"] + taken["ben"]
    assert sorted(everything) == sorted(references)  # six different cases, all of them
    for name, refs in taken.items():
        assert all(stored(committed, ref).assignee_id == staff[name] for ref in refs)

    # Nothing is left: both are told so on the queue.
    for page in pages.values():
        page.goto(served + "/staff")
        submit(page, "Take next case")
        assert QUEUE_URL.search(page.url)
        assert "No unassigned case is waiting." in page.content()


def test_a_wrong_password_is_refused_and_a_caseworker_cannot_manage_staff(served: str,
                                                                          new_page: Callable[[], Any],
                                                                          committed: Runtime) -> None:
    seed(committed, ("casey", "caseworker"), ("sue", "supervisor"))
    page = sign_in(new_page(), served, "casey", password="not the password at all")
    assert "/staff/login" in page.url
    assert page.locator(".error-summary").is_visible()
    assert "The e-mail address or password is not right." in page.content()
    assert page.input_value("#email") == "casey@casework.test"

    sign_in(page, served, "casey")
    assert QUEUE_URL.search(page.url)
    assert page.locator("nav.staff-nav a", has_text="Staff accounts").count() == 0
    refused = page.goto(served + "/staff/users")
    assert refused is not None
    assert refused.status == 403

    supervisor = sign_in(new_page(), served, "sue")
    allowed = supervisor.goto(served + "/staff/users")
    assert allowed is not None
    assert allowed.status == 200


def box(page: Any, selector: str) -> dict[str, float]:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, selector
    return dict(found)


def page_scrolls_sideways(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth > window.innerWidth"))


def test_the_queue_and_the_case_page_fit_a_desktop_and_a_phone(served: str, new_page: Callable[[], Any],
                                                              committed: Runtime, shots: Path) -> None:
    seed(committed, ("sue", "supervisor"))
    reference = delivered(committed).reference
    page = sign_in(new_page(), served, "sue")

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(served + "/staff")
    # Each urgency (its date with it) and each reference on one line.
    lines = page.eval_on_selector_all(".queue-table__urgency time, .queue-table__ref a",
                                      "els => els.map(e => e.getClientRects().length)")
    assert lines
    assert set(lines) == {1}
    assert box(page, "main")["width"] > 1200  # the whole window, not a 960 px column
    assert not page_scrolls_sideways(page)

    page.goto(f"{served}/staff/cases/{reference}")
    facts, side, history = (box(page, f".case-layout__{part}") for part in ("facts", "side", "history"))
    assert side["x"] >= facts["x"] + facts["width"]  # the actions beside the case
    assert side["y"] < facts["y"] + facts["height"]
    assert history["y"] >= facts["y"] + facts["height"]
    assert page.locator("details.case-action[open]").count() == 1
    # A closed action opens with a click (a native disclosure: no script needed).
    note = page.locator("details[data-panel='note']")
    assert not page.locator("#note").is_visible()
    note.locator("summary").click()
    assert page.locator("#note").is_visible()
    assert page.locator("footer").inner_text().startswith("Times on staff pages are in UTC")
    page.screenshot(path=str(shots / "staff-case-1280.png"), full_page=True)

    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"{served}/staff/cases/{reference}")
    assert not page_scrolls_sideways(page)
    facts, side, history = (box(page, f".case-layout__{part}") for part in ("facts", "side", "history"))
    assert facts["y"] + facts["height"] <= side["y"] < history["y"]  # stacked: the case, its actions, its history
    page.screenshot(path=str(shots / "staff-case-375.png"), full_page=True)

    page.goto(served + "/staff")
    assert not page_scrolls_sideways(page)
    region = page.get_by_role("region", name="Cases, most urgent first")
    assert region.evaluate("e => e.scrollWidth > e.clientWidth")  # the table scrolls inside its region
    region.focus()
    assert page.evaluate("document.activeElement.classList.contains('table-scroll')")
    page.screenshot(path=str(shots / "staff-queue-375.png"), full_page=True)
    for path in ("/staff/users", "/staff/stats", "/staff/catalog", "/staff/tokens"):
        page.goto(served + path)
        assert not page_scrolls_sideways(page), path
