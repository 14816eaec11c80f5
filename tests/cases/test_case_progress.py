"""While a letter is being written or e-mailed, the case page refreshes itself: its script asks
``/c/<token>/progress``, whose fingerprint changes when the worker is done; without the script, a link refreshes it."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from casework.cases.models import Case
from casework.cases.progress import waiting_on_worker
from casework.cases.states import CaseStatus
from casework.letters.services import latest_letter
from casework.runtime import Runtime
from casework.web import limiter
from tests.cases.test_status_pages import ACME, confirm_code, words
from tests.support.jobs import run_pending_jobs
from tests.support.web import filing_form, post_form, token_from_location

pytestmark = pytest.mark.http

SCRIPT = "/static/case-progress.js"


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


def filed(client: FlaskClient, **changes: str) -> str:
    response = post_form(client, "/", filing_form(**changes))
    assert response.status_code == 303
    return token_from_location(response)


def progress(client: FlaskClient, token: str) -> dict[str, Any]:
    response = client.get(f"/c/{token}/progress")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    answer = response.get_json()
    assert set(answer) == {"version", "pending"}  # nothing of the case itself
    return dict(answer)


def page_version(page: str) -> str | None:
    found = re.search(r'<div id="case-page" data-progress="[^"]+" data-version="([0-9a-f]+)">', page)
    return found.group(1) if found else None


def assert_waits_on_the_worker(page: str, token: str) -> None:
    assert f'<script src="{SCRIPT}" defer></script>' in page
    assert '<p class="page-updated" id="page-updated" role="status"></p>' in page
    assert f'data-progress="/c/{token}/progress"' in page
    assert f'<a href="/c/{token}">Refresh this page</a>' in page  # the same, by hand, without the script
    assert "reload" not in page.lower()


def assert_waits_on_nothing(page: str) -> None:
    assert SCRIPT not in page
    assert "data-progress" not in page
    assert "page-updated" not in page
    assert "Refresh this page" not in page


def test_while_the_letter_is_written_the_page_waits_and_its_fingerprint_changes_once_it_is(
        client: FlaskClient, committed: Runtime) -> None:
    token = filed(client)
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert "We are preparing your letter" in words(page)
    assert_waits_on_the_worker(page, token)
    before = progress(client, token)
    assert before == {"version": page_version(page), "pending": True}
    assert progress(client, token) == before  # nothing happened: the same answer

    run_pending_jobs(committed)  # the letter is rendered and e-mailed to the consumer
    after = progress(client, token)
    assert after["version"] != before["version"]
    assert after["pending"] is False
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert "We e-mailed your letter" in words(page)
    assert_waits_on_nothing(page)


def confirmed(client: FlaskClient, runtime: Runtime, **changes: str) -> str:
    """A filed case whose letter is written and confirmed by the consumer."""
    token = filed(client, **changes)
    run_pending_jobs(runtime)
    response = post_form(client, f"/c/{token}/confirm", {"code": confirm_code(runtime)}, page=f"/c/{token}/confirm")
    assert response.status_code == 303
    return token_from_location(response)  # the links made before confirming stop working


def test_while_the_letter_is_e_mailed_to_the_company_the_page_waits_until_it_is_delivered(
        client: FlaskClient, committed: Runtime) -> None:
    token = confirmed(client, committed, **ACME)
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert "Your letter is being e-mailed to cancel@acme.example" in words(page)
    assert_waits_on_the_worker(page, token)
    before = progress(client, token)
    assert before == {"version": page_version(page), "pending": True}

    run_pending_jobs(committed)  # the e-mail to the company goes, its server accepts it
    after = progress(client, token)
    assert after["version"] != before["version"]
    assert after["pending"] is False
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert "Your letter was delivered" in words(page)
    assert_waits_on_nothing(page)


def test_a_letter_the_consumer_submits_is_not_waited_on(client: FlaskClient, committed: Runtime) -> None:
    token = confirmed(client, committed)  # Coursera: the consumer submits the letter through its web form
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert "I have submitted it" in words(page)
    assert_waits_on_nothing(page)
    assert progress(client, token)["pending"] is False


def test_a_caseworkers_approval_or_a_failed_e_mail_is_not_waited_on(client: FlaskClient,
                                                                   committed: Runtime) -> None:
    """Nothing there changes by itself within minutes: the page does not keep asking."""
    confirmed(client, committed, **ACME)
    approving = dataclasses.replace(committed.settings, require_delivery_approval=True)
    with committed.sessions() as session:
        case = session.execute(select(Case)).scalar_one()
        assert case.status is CaseStatus.READY
        letter = latest_letter(session, case.id)
        assert waiting_on_worker(committed.settings, case, letter, any_failed_email=False)
        assert not waiting_on_worker(approving, case, letter, any_failed_email=False)
        assert not waiting_on_worker(committed.settings, case, letter, any_failed_email=True)
