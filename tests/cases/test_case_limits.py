"""A case holds at most ANSWERS_PER_CASE answers from the company, FILES_PER_CASE files and FILE_BYTES_PER_CASE bytes
of files, whoever adds them (the consumer's form or API, a caseworker's form or API): past a limit the answer is
refused on the field it is about (forms) or as a 409 ``conflict`` (API), and nothing of it is saved."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from casework.cases.answers import ATTACHMENT_MAX
from casework.cases.filing import file_case
from casework.cases.limits import ANSWERS_PER_CASE, FILE_BYTES_PER_CASE, FILES_PER_CASE
from casework.cases.models import Case, CaseAttachment, CaseEvent, CompanyResponse
from casework.cases.states import Actor, CaseStatus, Outcome
from casework.db import utcnow
from casework.runtime import Runtime
from casework.staff.accounts import create_staff
from casework.staff.api_tokens import issue_token
from casework.staff.models import StaffUser
from casework.web import limiter
from tests.support.factories import case_facts
from tests.support.staff import PASSWORD, signed_in
from tests.support.today import days_ago, iso_days_ago
from tests.support.web import csrf_token
from tests.support.writes import writing

pytestmark = [pytest.mark.http, pytest.mark.dates]
PDF = b"%PDF-1.4\n% a short reply\n"
SUMMARY = "They wrote again: still no refund."


@dataclass(frozen=True)
class Filed:
    case_id: int
    reference: str
    token: str


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


@pytest.fixture
def caseworker(app: Flask, committed: Runtime) -> FlaskClient:
    with writing(committed) as session:
        create_staff(session, "casey@casework.test", "Casey Worker", PASSWORD)
    return signed_in(app, "casey@casework.test")


def sent_case(runtime: Runtime, answers: int = 0, files: int = 0, file_size: int = len(PDF), *,
              status: CaseStatus = CaseStatus.SENT, outcome: Outcome | None = None) -> Filed:
    """A case delivered to the company that already holds ``answers`` answers and ``files`` files."""
    with writing(runtime) as session:
        filed = file_case(session, case_facts(), runtime.settings.secret_key)
        case = session.get_one(Case, filed.case_id)
        case.status, case.outcome = status, outcome
        case.confirmed_at = case.email_confirmed_at = utcnow()
        for number in range(answers):
            session.add(CompanyResponse(case_id=case.id, type="refused", received_on=days_ago(1),
                                        summary=f"Answer {number}", recorded_by=Actor.CONSUMER))
        data = PDF + b"\0" * (file_size - len(PDF))
        for number in range(files):
            session.add(CaseAttachment(case_id=case.id, filename=f"reply-{number}.pdf", content_type="application/pdf",
                                       size=len(data), sha256="0" * 64, data=data, uploaded_by=Actor.CONSUMER))
        return Filed(case.id, case.reference, filed.access_token)


def held(runtime: Runtime, filed: Filed) -> list[int]:
    """What the case holds: answers, files, events (a refused answer changes none of them)."""
    with runtime.sessions() as session:
        return [int(session.execute(select(func.count()).select_from(model).where(model.case_id == filed.case_id))
                    .scalar_one()) for model in (CompanyResponse, CaseAttachment, CaseEvent)]


def consumer_form(client: FlaskClient, filed: Filed, with_file: bool) -> TestResponse:
    page = f"/c/{filed.token}"
    data: dict[str, Any] = {"csrf_token": csrf_token(client, page), "answer.type": "refused",
                            "answer.received_on": iso_days_ago(1), "answer.summary": SUMMARY}
    if with_file:
        data["answer.file"] = (io.BytesIO(PDF), "reply.pdf")
    return client.post(f"{page}/answer", data=data, content_type="multipart/form-data")


def staff_form(client: FlaskClient, runtime: Runtime, filed: Filed, with_file: bool) -> TestResponse:
    page = f"/staff/cases/{filed.reference}"
    with runtime.sessions() as session:
        version = session.get_one(Case, filed.case_id).version
    data: dict[str, Any] = {"csrf_token": csrf_token(client, page), "version": str(version),
                            "response.type": "refused", "response.received_on": iso_days_ago(1),
                            "response.summary": SUMMARY}
    if with_file:
        data["response.file"] = (io.BytesIO(PDF), "reply.pdf")
    return client.post(f"{page}/responses", data=data, content_type="multipart/form-data")


def api_answer(client: FlaskClient, filed: Filed, token: str) -> TestResponse:
    return client.post(f"/api/v1/cases/{filed.reference}/responses", headers={"Authorization": f"Bearer {token}"},
                       json={"type": "refused", "received_on": iso_days_ago(1), "summary": SUMMARY})


def staff_api_token(runtime: Runtime) -> str:
    with writing(runtime) as session:
        user = session.execute(select(StaffUser)).scalar_one()
        token, _ = issue_token(session, user, "script", runtime.settings.secret_key, utcnow())
    return token


def assert_field_error(response: TestResponse, field_id: str, words: str) -> None:
    assert response.status_code == 422, response.status_code
    page = response.get_data(as_text=True)
    assert f'href="#{field_id}"' in page  # in the error summary, linked to its field
    assert words in page
    assert SUMMARY in page  # what was typed is kept


def test_the_limits_are_sensible() -> None:
    assert (ANSWERS_PER_CASE, FILES_PER_CASE, FILE_BYTES_PER_CASE) == (50, 20, 25 * 1024 * 1024)
    assert FILE_BYTES_PER_CASE >= 5 * ATTACHMENT_MAX  # five files at the largest one may be


# --- answers ---------------------------------------------------------------------------------------------------


def test_the_consumer_form_takes_the_last_answer_then_says_the_case_is_full(client: FlaskClient,
                                                                           committed: Runtime) -> None:
    filed = sent_case(committed, answers=ANSWERS_PER_CASE - 1)
    assert consumer_form(client, filed, with_file=False).status_code == 303
    before = held(committed, filed)
    assert before[0] == ANSWERS_PER_CASE
    refused = consumer_form(client, filed, with_file=False)
    assert_field_error(refused, "answer-summary", f"already holds {ANSWERS_PER_CASE} answers")
    assert held(committed, filed) == before


def test_the_consumer_api_refuses_an_answer_past_the_limit(client: FlaskClient, committed: Runtime) -> None:
    filed = sent_case(committed, answers=ANSWERS_PER_CASE)
    before = held(committed, filed)
    refused = api_answer(client, filed, filed.token)
    assert refused.status_code == 409
    body = refused.get_json()
    assert body["error"] == "conflict"
    assert f"already holds {ANSWERS_PER_CASE} answers" in body["message"]
    assert held(committed, filed) == before


def test_a_caseworkers_form_refuses_an_answer_past_the_limit(caseworker: FlaskClient, committed: Runtime) -> None:
    filed = sent_case(committed, answers=ANSWERS_PER_CASE)
    before = held(committed, filed)
    refused = staff_form(caseworker, committed, filed, with_file=False)
    assert_field_error(refused, "response-summary", f"already holds {ANSWERS_PER_CASE} answers")
    assert held(committed, filed) == before


def test_the_staff_api_refuses_an_answer_past_the_limit(caseworker: FlaskClient, client: FlaskClient,
                                                        committed: Runtime) -> None:
    filed = sent_case(committed, answers=ANSWERS_PER_CASE)
    before = held(committed, filed)
    refused = api_answer(client, filed, staff_api_token(committed))
    assert refused.status_code == 409
    assert refused.get_json()["error"] == "conflict"
    assert held(committed, filed) == before


def test_charged_again_on_a_full_finished_case_reopens_nothing(client: FlaskClient, committed: Runtime) -> None:
    filed = sent_case(committed, answers=ANSWERS_PER_CASE, status=CaseStatus.RESOLVED, outcome=Outcome.REFUSED)
    before = held(committed, filed)
    refused = client.post(f"/api/v1/cases/{filed.reference}/responses",
                          headers={"Authorization": f"Bearer {filed.token}"},
                          json={"type": "charged_again", "received_on": iso_days_ago(0), "summary": SUMMARY})
    assert refused.status_code == 409
    with committed.sessions() as session:
        assert session.get_one(Case, filed.case_id).status is CaseStatus.RESOLVED
    assert held(committed, filed) == before


# --- files -----------------------------------------------------------------------------------------------------

FULL_OF_FILES: dict[str, Callable[[Runtime], Filed]] = {
    "count": lambda runtime: sent_case(runtime, files=FILES_PER_CASE),
    "size": lambda runtime: sent_case(runtime, files=FILE_BYTES_PER_CASE // ATTACHMENT_MAX, file_size=ATTACHMENT_MAX),
}
FULL_WORDS = {"count": f"already holds {FILES_PER_CASE} files", "size": "over 25 MB in all"}


@pytest.mark.parametrize("full", list(FULL_OF_FILES))
def test_the_consumer_form_refuses_a_file_past_the_limits_and_saves_no_half_answer(
        client: FlaskClient, committed: Runtime, full: str) -> None:
    filed = FULL_OF_FILES[full](committed)
    before = held(committed, filed)
    refused = consumer_form(client, filed, with_file=True)
    assert_field_error(refused, "answer-file", FULL_WORDS[full])
    assert held(committed, filed) == before  # not the answer without its file either
    assert consumer_form(client, filed, with_file=False).status_code == 303  # the answer alone still fits


@pytest.mark.parametrize("full", list(FULL_OF_FILES))
def test_a_caseworkers_form_refuses_a_file_past_the_limits_and_saves_no_half_answer(
        caseworker: FlaskClient, committed: Runtime, full: str) -> None:
    filed = FULL_OF_FILES[full](committed)
    before = held(committed, filed)
    refused = staff_form(caseworker, committed, filed, with_file=True)
    assert_field_error(refused, "response-file", FULL_WORDS[full])
    assert held(committed, filed) == before
    assert staff_form(caseworker, committed, filed, with_file=False).status_code == 303


def test_a_file_that_just_fits_is_taken(client: FlaskClient, committed: Runtime) -> None:
    filed = sent_case(committed, files=FILES_PER_CASE - 1, file_size=(FILE_BYTES_PER_CASE - len(PDF))
                      // (FILES_PER_CASE - 1))
    assert consumer_form(client, filed, with_file=True).status_code == 303
    assert held(committed, filed)[1] == FILES_PER_CASE
