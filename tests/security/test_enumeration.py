"""No answer tells a stranger whether a reference, a letter code, an e-mail address or a staff account exists:
the known and the unknown get the same status, headers that matter, and bytes (the CSRF token and the echoed
input aside), and only a known address is e-mailed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from casework.cases.models import Case
from casework.cases.states import CaseStatus
from casework.cases.tokens import issue_token
from casework.letters.models import Letter
from casework.mail.models import OutboundEmail
from casework.runtime import Runtime
from casework.staff.accounts import create_staff
from casework.staff.throttle import CLIENT_FAILURES
from casework.web import limiter
from tests.support.jobs import run_pending_jobs
from tests.support.mailbox import as_sent_text
from tests.support.staff import PASSWORD, case_in_status
from tests.support.today import iso_days_ago
from tests.support.web import filing_form, post_form, token_from_location
from tests.support.writes import writing

pytestmark = [pytest.mark.http, pytest.mark.storage]


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


def _page(response: TestResponse, *echoed: str) -> bytes:
    """The body without the per-session CSRF token and with what the caller typed blanked out."""
    body = re.sub(rb'name="csrf_token" value="[^"]+"', b"", response.get_data())
    for text in echoed:
        body = body.replace(text.encode(), b"[typed]")
    return body


def _same(a: TestResponse, b: TestResponse, *echoed: str) -> None:
    assert a.status_code == b.status_code
    assert a.headers.get("Content-Type") == b.headers.get("Content-Type")
    assert a.headers.get("Location") == b.headers.get("Location")
    assert _page(a, *echoed) == _page(b, *echoed)


def _mail_to(runtime: Runtime, address: str) -> list[OutboundEmail]:
    with runtime.sessions() as session:
        return [m for m in session.scalars(select(OutboundEmail).where(OutboundEmail.kind == "lost_link"))
                if address in m.recipients]


def test_lost_link_answers_a_known_and_an_unknown_address_alike(client: FlaskClient, committed: Runtime) -> None:
    known, unknown, finished = "known-1@example.com", "other-1@example.com", "ended-1@example.com"
    case_in_status(committed, CaseStatus.SENT, consumer_email=known)
    case_in_status(committed, CaseStatus.RESOLVED, consumer_email=finished)  # no open case: nothing to send
    answers = {email: post_form(client, "/lost-link", {"email": email}, page="/lost-link")
               for email in (known, unknown, finished)}
    assert answers[known].status_code == 200
    _same(answers[known], answers[unknown], known, unknown)
    _same(answers[known], answers[finished], known, finished)
    assert len(_mail_to(committed, known)) == 1
    assert _mail_to(committed, unknown) == []
    assert _mail_to(committed, finished) == []


def test_staff_sign_in_says_the_same_for_unknown_wrong_throttled_and_disabled(
        client: FlaskClient, committed: Runtime) -> None:
    with writing(committed) as session:
        create_staff(session, "known@casework.test", "Known", PASSWORD)
        create_staff(session, "held@casework.test", "Held", PASSWORD)
        create_staff(session, "gone@casework.test", "Gone", PASSWORD).active = False

    def sign_in(email: str, password: str) -> TestResponse:
        return post_form(client, "/staff/login", {"email": email, "password": password}, page="/staff/login")

    limiter.reset()
    unknown = sign_in("nobody@casework.test", PASSWORD)
    assert unknown.status_code == 401
    _same(unknown, sign_in("known@casework.test", "not the password"), "nobody@casework.test", "known@casework.test")
    _same(unknown, sign_in("gone@casework.test", PASSWORD), "nobody@casework.test", "gone@casework.test")
    held = {}
    for email in ("held@casework.test", "nobody-2@casework.test"):  # wrong passwords slow either down alike
        limiter.reset()
        for _ in range(CLIENT_FAILURES.amount):
            assert sign_in(email, "wrong password, wrong").status_code == 401
        held[email] = sign_in(email, PASSWORD)
    assert held["held@casework.test"].status_code == 429
    _same(held["held@casework.test"], held["nobody-2@casework.test"], "held@casework.test", "nobody-2@casework.test")


def _letter_codes(runtime: Runtime) -> tuple[str, str]:
    """A rendered letter's code, and the code of a letter that exists but is not rendered (not verifiable)."""
    reference = case_in_status(runtime, CaseStatus.NEW)
    run_pending_jobs(runtime)
    pending = case_in_status(runtime, CaseStatus.NEW)
    with writing(runtime) as session:
        rendered = session.scalars(select(Letter).join(Case).where(Case.reference == reference)).one()
        waiting = session.scalars(select(Letter).join(Case).where(Case.reference == pending)).one()
        waiting.verification_code = "7K2QF-M9XZA"
        assert rendered.verification_code is not None
        return rendered.verification_code, waiting.verification_code


def test_letter_verification_answers_unknown_and_unverifiable_codes_alike(
        client: FlaskClient, committed: Runtime) -> None:
    good, unrendered = _letter_codes(committed)
    unknown = "ZZZZZ-ZZZZZ" if good != "ZZZZZ-ZZZZZ" else "YYYYY-YYYYY"
    assert client.get(f"/verify/{good}").status_code == 200
    for accept in ("text/html", "application/json"):
        headers = {"Accept": accept}
        answers = [client.get(f"/verify/{code}", headers=headers) for code in (unknown, unrendered, "not-a-code!")]
        assert answers[0].status_code == 404
        _same(answers[0], answers[1], unknown, unrendered)
        _same(answers[0], answers[2], unknown, "not-a-code!")


def test_the_api_answers_a_wrong_token_as_it_answers_a_reference_that_does_not_exist(
        client: FlaskClient, committed: Runtime) -> None:
    reference = case_in_status(committed, CaseStatus.SENT)
    for token in ("wrong-" + "x" * 40, "cwst_" + "y" * 43):
        headers = {"Authorization": f"Bearer {token}"}
        real = client.get(f"/api/v1/cases/{reference}", headers=headers)
        ghost = client.get("/api/v1/cases/CW-2026-ZZZZZZZZ", headers=headers)
        assert real.status_code == 404
        assert (real.headers["Content-Type"], real.get_data()) == (ghost.headers["Content-Type"], ghost.get_data())
    bare = client.post(f"/api/v1/cases/{reference}/withdraw")
    ghost = client.post("/api/v1/cases/CW-2026-ZZZZZZZZ/withdraw")
    assert (bare.status_code, bare.get_data()) == (ghost.status_code, ghost.get_data()) == (404, ghost.get_data())


def _filing_body(email: str) -> dict[str, Any]:
    return {"provider": "coursera", "plan": "coursera-plus-annual", "billing_channel": "direct", "country": "AU",
            "payment_date": iso_days_ago(7), "requested_outcome": "cancel_and_refund",
            "consumer": {"name": "Jane Q. Consumer", "email": email}, "consent": {"send_in_my_name": True}}


def test_filing_does_not_reveal_other_cases_of_the_same_address(client: FlaskClient, committed: Runtime) -> None:
    earlier = case_in_status(committed, CaseStatus.SENT, consumer_email="same-1@example.com")
    repeat = client.post("/api/v1/cases", json=_filing_body("same-1@example.com"))
    first = client.post("/api/v1/cases", json=_filing_body("anew-1@example.com"))
    assert repeat.status_code == first.status_code == 201
    assert set(repeat.get_json()) == set(first.get_json())
    assert repeat.get_json()["status"] == first.get_json()["status"] == "new"
    assert earlier not in repeat.get_data(as_text=True)
    mine = client.get(f"/api/v1/cases/{repeat.get_json()['reference']}",
                      headers={"Authorization": f"Bearer {repeat.get_json()['access_token']}"})
    assert mine.status_code == 200
    assert earlier not in mine.get_data(as_text=True)
    limiter.reset()
    page = post_form(client, "/", filing_form(**{"consumer.email": "same-1@example.com"}))
    assert page.status_code == 303
    status_page = client.get(f"/c/{token_from_location(page)}")
    assert status_page.status_code == 200
    assert earlier not in status_page.get_data(as_text=True)


def test_lost_link_over_an_address_s_allowance_answers_as_always(client: FlaskClient, committed: Runtime) -> None:
    """Three e-mails an hour to one address, whoever asks; past that the answer is the usual one, for an address with
    cases and one without alike, and only the e-mail is held back: nobody learns anything, nobody is refused."""
    known, unknown = "known-2@example.com", "other-2@example.com"
    reference = case_in_status(committed, CaseStatus.SENT, consumer_email=known)
    with committed.sessions() as session:
        case = session.execute(select(Case).where(Case.reference == reference)).scalar_one()
        held = issue_token(session, case, committed.settings.secret_key)  # the link the owner already has
        session.commit()
    usual = post_form(client, "/lost-link", {"email": known}, page="/lost-link")
    for attempt in range(4):
        for email in (known, unknown):
            answer = post_form(client, "/lost-link", {"email": email}, page="/lost-link")
            assert answer.status_code == 200, (attempt, email)
            _same(usual, answer, known, email)
    mailed = _mail_to(committed, known)
    assert len(mailed) == 3
    assert _mail_to(committed, unknown) == []
    # Each e-mail replaces the links sent before; past the allowance nothing is sent and nothing is revoked, so
    # the newest links mailed keep working however often a stranger asks.
    assert client.get(f"/c/{held}").status_code == 410
    newest = max(mailed, key=lambda m: m.id)
    found = re.search(r"/c/[A-Za-z0-9_-]+", as_sent_text(committed, newest))
    assert found is not None
    assert client.get(found.group(0)).status_code == 200
