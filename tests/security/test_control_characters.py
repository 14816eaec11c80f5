"""Single-line fields (names, e-mail addresses, identifiers, phone, plan names) refuse line breaks, other control
characters and U+2028/U+2029, in the JSON API (422 naming the field) and on the forms (a field-level message in
plain words, with what was typed kept); multi-line fields keep their line breaks but refuse other controls."""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from casework.cases.models import Case
from casework.cases.states import CaseStatus
from casework.runtime import Runtime
from casework.staff.models import StaffApiToken
from casework.web import limiter
from tests.api.test_api_cases import case_body
from tests.api.test_staff_api import bearer, open_case, sign_in, staff, token_for
from tests.support.web import filing_form, post_form

pytestmark = pytest.mark.http

ONE_LINE = "must be a single line without control characters"
NO_CONTROLS = "must not contain control characters (line breaks are fine)"
# A line feed, a carriage return, NUL, ESC, DEL, NEL (C1), and the Unicode line and paragraph separators.
NOT_ONE_LINE = ["\n", "\r", "\x00", "\x1b", "\x7f", "\x85", "\u2028", "\u2029"]


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


def cases_in(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.execute(select(func.count(Case.id))).scalar_one())


def other_company(**company: Any) -> dict[str, Any]:
    return case_body(provider="other", plan="other-monthly",
                     company={"name": "Acme", "email": "cancel@acme.example", **company})


def with_consumer(**consumer: Any) -> dict[str, Any]:
    body = case_body()
    body["consumer"] = {**body["consumer"], **consumer}
    return body


SINGLE_LINE_FIELDS = {
    "consumer.name": lambda bad: with_consumer(name=f"Jane{bad}Bcc: victim@example.net"),
    "consumer.email": lambda bad: with_consumer(email=f"jane{bad}@example.com"),
    "consumer.phone": lambda bad: with_consumer(phone=f"+61 3{bad}9000 0000"),
    "account_identifier": lambda bad: case_body(account_identifier=f"jane{bad}x"),
    "company.name": lambda bad: other_company(name=f"Acme{bad}Ltd"),
    "company.email": lambda bad: other_company(email=f"cancel{bad}@acme.example"),
    "company.plan_name": lambda bad: other_company(plan_name=f"Pro{bad}plan"),
    "company.web_form_url": lambda bad: other_company(web_form_url=f"https://acme.example/a{bad}b"),
}


@pytest.mark.parametrize("bad", NOT_ONE_LINE, ids=[f"U+{ord(c):04X}" for c in NOT_ONE_LINE])
@pytest.mark.parametrize("field", sorted(SINGLE_LINE_FIELDS))
def test_the_api_refuses_a_single_line_field_that_is_not_one_line(client: FlaskClient, committed: Runtime,
                                                                   field: str, bad: str) -> None:
    reply = client.post("/api/v1/cases", json=SINGLE_LINE_FIELDS[field](bad))
    assert reply.status_code == 422, reply.get_data(as_text=True)
    body = reply.get_json()
    assert (body["error"], body["fields"][field]) == ("validation_failed", ONE_LINE)
    assert body["message"]
    assert cases_in(committed) == 0


def test_multi_line_fields_keep_line_breaks_and_refuse_other_controls(client: FlaskClient,
                                                                      committed: Runtime) -> None:
    kept = with_consumer(postal_address="12 Example Street\r\nBrunswick VIC 3056\u2028Australia")
    kept["details"] = "Tried twice:\n\t1. online\n\t2. by phone"
    assert client.post("/api/v1/cases", json=kept).status_code == 201
    for body, field in ((with_consumer(postal_address="12 Example Street\x1b[2J"), "consumer.postal_address"),
                        (case_body(details="Tried twice\x00"), "details"),
                        (other_company(postal_address="1 Acme Way\x0bSpringfield"), "company.postal_address")):
        reply = client.post("/api/v1/cases", json=body)
        assert reply.status_code == 422, reply.get_data(as_text=True)
        assert reply.get_json()["fields"] == {field: NO_CONTROLS}
    assert cases_in(committed) == 1


def test_the_consumers_other_json_bodies_refuse_control_characters(client: FlaskClient,
                                                                   committed: Runtime) -> None:
    filed = client.post("/api/v1/cases", json=case_body()).get_json()
    path, auth = f"/api/v1/cases/{filed['reference']}", bearer(filed["access_token"])
    corrected = client.patch(path, json={"consumer": {"name": "Jane\r\nQ"}}, headers=auth)
    assert (corrected.status_code, corrected.get_json()["fields"]) == (422, {"consumer.name": ONE_LINE})
    resent = client.post(f"{path}/resend-confirmation", json={"email": "jane\u2028@example.com"}, headers=auth)
    assert (resent.status_code, resent.get_json()["fields"]) == (422, {"email": ONE_LINE})
    submitted = client.post(f"{path}/delivery", json={"channel": "web_form", "confirmation": "Request\n#44"},
                            headers=auth)
    assert (submitted.status_code, submitted.get_json()["fields"]) == (422, {"confirmation": ONE_LINE})
    answered = client.post(f"{path}/responses", json={"type": "refused", "received_on": "2020-01-01",
                                                      "summary": "No.\x07"}, headers=auth)
    assert (answered.status_code, answered.get_json()["fields"]) == (422, {"summary": NO_CONTROLS})
    with committed.sessions() as session:
        assert session.execute(select(Case.consumer_name)).scalar_one() == "Jane Q. Consumer"


def test_the_staff_api_refuses_control_characters(client: FlaskClient, committed: Runtime) -> None:
    token = token_for(committed, staff(committed, "casey@casework.test"))
    reference, _ = open_case(committed, CaseStatus.SENT)
    moved = client.post(f"/api/v1/cases/{reference}/status", headers=bearer(token, **{"If-Match": '"1"'}),
                        json={"status": "escalated", "escalation": {"kind": "regulator", "name": "ACCC\nBcc: x",
                                                                    "reference": "R-1\u2029"}})
    assert moved.status_code == 422, moved.get_data(as_text=True)
    assert moved.get_json()["fields"] == {"escalation.name": ONE_LINE, "escalation.reference": ONE_LINE}
    noted = client.post(f"/api/v1/cases/{reference}/notes", headers=bearer(token), json={"body": "ok\n\x1b[31m"})
    assert (noted.status_code, noted.get_json()["fields"]) == (422, {"body": NO_CONTROLS})


@pytest.mark.dates
def test_the_filing_form_names_the_field_in_plain_words_and_keeps_what_was_typed(client: FlaskClient,
                                                                                 committed: Runtime) -> None:
    typed = "Jane\r\nBcc: victim@example.net"
    response = post_form(client, "/", filing_form(**{"consumer.name": typed,
                                                     "consumer.postal_address": "12 Example St\x1b"}))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Your full name must be on one line: remove any line breaks or hidden characters" in page
    assert "Your postal address has a hidden character we cannot keep" in page
    assert ONE_LINE not in page
    assert html.escape(typed).replace("\r\n", "\n") in page.replace("\r\n", "\n")  # what was typed is kept
    assert cases_in(committed) == 0


def test_the_wizard_names_the_field_in_plain_words(client: FlaskClient, committed: Runtime) -> None:
    response = post_form(client, "/start/details", {"consumer.name": "Jane\u2028Q", "consumer.email": "j@example.com"},
                         page="/start/details")
    assert response.status_code == 422
    assert "Your full name must be on one line" in response.get_data(as_text=True)


def test_staff_forms_refuse_names_that_are_not_one_line(client: FlaskClient, committed: Runtime) -> None:
    staff(committed, "robin@casework.test", "supervisor")
    sign_in(client, "robin@casework.test")
    token = post_form(client, "/staff/tokens", {"name": "Nightly\nexport"}, page="/staff/tokens")
    assert token.status_code == 422
    assert "Write the name on one line" in token.get_data(as_text=True)
    person = post_form(client, "/staff/users", {"email": "sam@casework.test", "name": "Sam\x1bSmith",
                                                "role": "caseworker"}, page="/staff/users")
    assert person.status_code == 422
    assert "Write the name on one line" in person.get_data(as_text=True)
    with committed.sessions() as session:
        assert session.execute(select(func.count(StaffApiToken.id))).scalar_one() == 0
