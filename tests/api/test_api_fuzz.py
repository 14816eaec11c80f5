"""The JSON API fuzzed from its own description (``GET /api/openapi.json``) with Schemathesis.

Valid and invalid requests, a bounded number per operation and derandomized, so CI sees the same run every
time. Whatever is sent, the API never answers 5xx, every error is the contract's JSON shape with one of its
codes, and answers match the described schemas. Routes on a case run against a freshly filed case in a
drawn status, with the consumer's token, a staff API token, someone else's token or none.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Iterator

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import BaseSchema, Case, Response

import casework.api.catalog
import casework.api.consumer_cases
import casework.api.staff
import casework.privacy.api  # noqa: F401
from casework.api.openapi import build_spec
from casework.cases.filing import file_case
from casework.cases.models import Case as CaseRow
from casework.cases.states import BillingChannel, CaseStatus, Outcome
from casework.db import utcnow
from casework.runtime import Runtime
from casework.staff.accounts import create_staff
from casework.staff.api_tokens import issue_token
from casework.staff.models import StaffUser
from casework.web import limiter
from tests.support.factories import case_facts
from tests.support.writes import writing

pytestmark = [pytest.mark.http, pytest.mark.storage]

# API.md "Conventions": every code an error may carry, by status. 405 is not in the contract's list; the app
# answers it in the same shape, and it is accepted here so the check stays about the shape.
ERROR_CODES: dict[int, set[str]] = {
    400: {"bad_request"},
    401: {"unauthorized"},
    403: {"forbidden"},
    404: {"not_found", "unknown_provider", "unknown_plan"},
    405: {"method_not_allowed"},
    409: {"conflict", "stale"},
    413: {"too_large"},
    422: {"validation_failed"},
    429: {"rate_limited"},
    503: {"unavailable"},
}
CONFIG = {
    "seed": 20261127,
    # Tokens are the test's to choose (below), never random strings in place of one.
    "generation": {"mode": "all", "max-examples": 25, "deterministic": True, "database": "none",
                   "with-security-parameters": False},
    "checks": {
        # A valid body may still be refused by a rule the schema cannot state (a date in the future, a case in
        # another status); and a consumer's route answers 404 without a token, by design (never 401).
        "positive_data_acceptance": {"enabled": False},
        "ignored_auth": {"enabled": False},
        "use_after_free": {"enabled": False},
        "ensure_resource_availability": {"enabled": False},
    },
    # The queue ignores filter values it does not know, with a notice, as the staff page does: never an error.
    "operations": [{"include-path": "/api/v1/queue", "checks": {"negative_data_rejection": {"enabled": False}}}],
}
STAFF_ONLY = ("/api/v1/queue", "/api/v1/cases/{reference}/assign", "/api/v1/cases/{reference}/notes",
              "/api/v1/cases/{reference}/status")
WHO = ("own", "own", "own", "other", "nobody")


@dataclasses.dataclass(frozen=True)
class Actors:
    staff_token: str
    other_consumer_token: str


def _file(runtime: Runtime, status: CaseStatus, channel: BillingChannel) -> tuple[str, str, int]:
    """A filed case put straight into ``status``: its reference, the consumer's token, its version."""
    with writing(runtime) as session:
        filed = file_case(session, case_facts(billing_channel=channel), runtime.settings.secret_key)
        case = session.get_one(CaseRow, filed.case_id)
        case.status = status
        case.outcome = Outcome.CANCELLED if status in (CaseStatus.RESOLVED, CaseStatus.CLOSED) else None
        if status is CaseStatus.NEEDS_INFO:
            case.status_before_needs_info = CaseStatus.SENT
        if status is not CaseStatus.NEW:
            case.confirmed_at = case.email_confirmed_at = utcnow()
        session.flush()
        return filed.reference, filed.access_token, case.version


@pytest.fixture
def actors(committed: Runtime) -> Actors:
    with writing(committed) as session:
        user = create_staff(session, "fuzz@casework.test", "Fuzz", "correct horse battery staple", "supervisor")
        staff_token, _ = issue_token(session, session.get_one(StaffUser, user.id), "fuzz",
                                     committed.settings.secret_key, utcnow())
    _, other_token, _ = _file(committed, CaseStatus.SENT, BillingChannel.DIRECT)
    return Actors(staff_token, other_token)


@pytest.fixture
def statuses() -> Iterator[CaseStatus]:
    return itertools.cycle(list(CaseStatus))


def _schema(phase: str) -> BaseSchema:
    """The description GET /api/openapi.json serves (test_the_served_description_is_the_one_fuzzed keeps them
    equal), built at import so that pytest collects one test per operation; only ``phase`` runs."""
    phases = {name: {"enabled": name == phase} for name in ("examples", "coverage", "fuzzing", "stateful")}
    return schemathesis.openapi.from_dict(build_spec(), config=schemathesis.Config.from_dict({**CONFIG,
                                                                                              "phases": phases}))


fuzzing = _schema("fuzzing")
boundaries = _schema("coverage")


def assert_contract_error(response: Response) -> None:
    """An error under /api/ is JSON in API.md's shape; ``fields`` comes with 422 and only then."""
    status = response.status_code
    assert status < 500, f"{status}: {response.text[:500]}"
    if status < 400:
        return
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), response.text[:300]
    body = json.loads(response.text)
    assert isinstance(body, dict)
    assert body.get("error") in ERROR_CODES.get(status, set()), (status, body)
    assert isinstance(body.get("message"), str), body
    assert body["message"].strip(), body
    assert set(body) <= {"error", "message", "fields", "known"}, body
    if status == 422:
        assert isinstance(body.get("fields"), dict), body
        assert body["fields"], body
        assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in body["fields"].items()), body
    else:
        assert "fields" not in body, body
    if "known" in body:
        assert body["error"] in ("unknown_provider", "unknown_plan"), body
        assert isinstance(body["known"], list), body


def send(case: Case, app: Flask, runtime: Runtime, actors: Actors, *, status: CaseStatus, channel: BillingChannel,
         real_reference: bool, current_version: bool, who: str) -> None:
    """Send ``case`` as ``who`` (the route's own kind of token, another one, or none), on a case just filed in
    ``status`` where the route names one, and hold the answer to the contract."""
    limiter.reset()  # the limits are tested elsewhere; here every request must reach its view
    headers: dict[str, str] = {}
    path = case.operation.path
    consumer_token = actors.other_consumer_token
    if "{reference}" in path:
        reference, consumer_token, version = _file(runtime, status, channel)
        if real_reference:
            case.path_parameters = {**(case.path_parameters or {}), "reference": reference}
        if current_version and "If-Match" in (case.headers or {}):
            headers["If-Match"] = f'"{version}"'
    staff_only = path in STAFF_ONLY or path.startswith("/api/v1/queue")
    own = actors.staff_token if staff_only else consumer_token
    if who == "own":
        headers["Authorization"] = f"Bearer {own}"
    elif who == "other":
        headers["Authorization"] = f"Bearer {actors.other_consumer_token if staff_only else actors.staff_token}"
    response = case.call(headers=headers, app=app)
    assert_contract_error(response)
    case.validate_response(response, headers=headers)


SLOW_OK = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
           HealthCheck.function_scoped_fixture]


@settings(max_examples=25, derandomize=True, deadline=None, database=None, suppress_health_check=SLOW_OK)
@fuzzing.parametrize()
@fuzzing.given(data=st.data())
def test_the_api_keeps_its_contract_for_any_request(case: Case, data: st.DataObject, app: Flask, committed: Runtime,
                                                    actors: Actors) -> None:
    """Random valid and invalid requests, on a case in any status, by anyone."""
    send(case, app, committed, actors,
         status=data.draw(st.sampled_from(list(CaseStatus)), label="status"),
         channel=data.draw(st.sampled_from(list(BillingChannel)), label="billing"),
         real_reference=data.draw(st.sampled_from((True, True, True, False)), label="real reference"),
         current_version=data.draw(st.booleans(), label="current version"),
         who=data.draw(st.sampled_from(WHO), label="who"))


@settings(derandomize=True, deadline=None, database=None, suppress_health_check=SLOW_OK)
@boundaries.parametrize()
def test_the_api_keeps_its_contract_at_the_boundaries(case: Case, app: Flask, committed: Runtime,
                                                      actors: Actors, statuses: Iterator[CaseStatus]) -> None:
    """Schemathesis' deterministic boundary requests (each field missing, of the wrong type, at and past its
    limits; methods the route does not take) with the route's own token, on cases in turn in every status."""
    send(case, app, committed, actors, status=next(statuses), channel=BillingChannel.DIRECT, real_reference=True,
         current_version=True, who="own")


def test_a_malformed_body_is_a_contract_error(app: Flask, committed: Runtime) -> None:
    """Bodies that are not a JSON object are a 400 or 422 in the contract's shape, never a 5xx."""
    limiter.reset()
    client = app.test_client()
    for body in (b"\xff\xfe", b"[1, 2]", b'{"provider": "\\ud800"}', b"1e999999", b'"x"'):
        response = client.post("/api/v1/assessments", data=body, content_type="application/json")
        assert_contract_error(Response.from_any(response))
        assert response.status_code in (400, 422)




def test_the_served_description_is_the_one_fuzzed(app: Flask) -> None:
    assert app.test_client().get("/api/openapi.json").get_json() == build_spec()


def test_a_method_a_route_does_not_take_names_those_it_does(app: Flask) -> None:
    """RFC 9110: a 405 carries ``Allow``; under /api/ it is still the contract's JSON."""
    response = app.test_client().delete("/api/v1/providers")
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "HEAD", "OPTIONS"}
    assert response.get_json()["error"] == "method_not_allowed"
