"""Staff: sign in with an argon2 hash, the case list, a case's timeline."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from casework.catalog import default_catalog
from casework.catalog.loader import Source
from casework.runtime import Runtime
from casework.staff.accounts import create_staff
from casework.staff.models import StaffUser
from casework.web import limiter
from tests.support.jobs import run_pending_jobs
from tests.support.today import clock_on
from tests.support.web import filing_form, post_form
from tests.support.writes import writing

pytestmark = pytest.mark.http
PASSWORD = "correct horse battery staple"


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with writing(committed) as session:
        create_staff(session, "casey@casework.test", "Casey Worker", PASSWORD)
    with app.test_client() as test_client:
        yield test_client


def sign_in(client: FlaskClient, password: str = PASSWORD) -> int:
    response = post_form(client, "/staff/login", {"email": "Casey@casework.test", "password": password},
                         page="/staff/login")
    return response.status_code


def test_passwords_are_argon2_hashes(committed: Runtime, client: FlaskClient) -> None:
    with committed.sessions() as session:
        user = session.query(StaffUser).one()
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_the_list_needs_a_signed_in_caseworker(client: FlaskClient) -> None:
    response = client.get("/staff")
    assert response.status_code == 302
    assert "/staff/login" in response.headers["Location"]
    assert sign_in(client, "wrong password!") == 401
    assert client.get("/staff").status_code == 302
    assert sign_in(client) == 303
    assert client.get("/staff").status_code == 200


def test_cases_are_listed_with_their_timeline(client: FlaskClient, committed: Runtime) -> None:
    post_form(client, "/", filing_form(**{"consumer.name": "First Filer"}))
    post_form(client, "/", filing_form(**{"consumer.name": "Second Filer", "plan": "other:other-annual",
                                          "company.name": "Acme", "company.email": "c@acme.example"}))
    run_pending_jobs(committed)
    sign_in(client)
    page = client.get("/staff").get_data(as_text=True)
    assert "First Filer" in page  # the order is the queue's (tests/staff/test_staff_queue.py)
    assert "Second Filer" in page
    assert "Acme" in page
    assert "coursera" in page
    reference = page.split('href="/staff/cases/')[1].split('"')[0]
    case_page = client.get(f"/staff/cases/{reference}").get_data(as_text=True)
    for text in ("filed", "letter rendered", "email sent", "confirm_letter", "Message-ID"):
        assert text in case_page
    assert client.get("/staff/cases/CW-2026-NOPE0000").status_code == 404


def test_signing_out_ends_the_session(client: FlaskClient) -> None:
    sign_in(client)
    assert client.get("/staff").status_code == 200
    response = post_form(client, "/staff/logout", {}, page="/staff")
    assert response.status_code == 303
    assert client.get("/staff").status_code == 302


def test_login_is_rate_limited(client: FlaskClient) -> None:
    codes = [sign_in(client, "wrong password!") for _ in range(6)]
    assert codes == [401] * 5 + [429]


def coursera_sources() -> tuple[Source, ...]:
    provider = default_catalog().get("coursera")
    assert provider is not None
    return provider.sources


@pytest.mark.dates
def test_the_catalog_page_lists_sources_and_flags_old_checks(client: FlaskClient) -> None:
    assert client.get("/staff/catalog").status_code == 302
    sources = coursera_sources()
    newest = max(source.checked_on for source in sources)
    with clock_on(newest + dt.timedelta(days=180)):  # the newest check is exactly 180 days old: not flagged yet
        sign_in(client)  # on that day: a session from another day would have ended
        page = client.get("/staff/catalog").get_data(as_text=True)
    assert "Coursera" in page
    for url in ("https://learner.coursera.help/hc/en-us/articles/209819043-Request-a-refund-for-a-course-payment",
                "https://www.ajust.com.au/cancellations/coursera"):
        assert url in page
    assert newest.isoformat() in page
    older = sum(source.checked_on < newest for source in sources)
    assert page.count("check again") == older


@pytest.mark.dates
def test_the_catalog_page_flags_sources_older_than_180_days(client: FlaskClient) -> None:
    sources = coursera_sources()
    newest = max(source.checked_on for source in sources)
    with clock_on(newest + dt.timedelta(days=181)):
        sign_in(client)
        page = client.get("/staff/catalog").get_data(as_text=True)
    assert page.count("check again") == len(sources)
    assert "not checked in the last 180 days" in page
