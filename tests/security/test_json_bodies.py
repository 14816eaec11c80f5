"""Every JSON endpoint, consumer and staff, answers a deeply nested body and a NUL in any string with a 4xx in the
API.md error shape, never a 500 (run it on PostgreSQL too: there a NUL that reached the database was a DataError)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from casework.cases.models import Case, CaseEvent
from casework.cases.states import CaseStatus
from casework.db import utcnow
from casework.runtime import Runtime
from casework.web import limiter
from tests.api.test_api_cases import case_body
from tests.api.test_staff_api import bearer, open_case, staff, token_for
from tests.support.today import iso_days_ago
from tests.support.writes import writing

pytestmark = pytest.mark.http

DEEP = 20_000  # far past any parser's recursion limit, well inside the 64 KiB body limit


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # {ref} is the case's reference
    body: dict[str, Any]
    staff: bool = False


ENDPOINTS = [
    Endpoint("POST", "/api/v1/assessments", {k: v for k, v in case_body().items() if k not in (
        "consumer", "account_identifier", "details", "consent")}),
    Endpoint("POST", "/api/v1/cases", case_body()),
    Endpoint("PATCH", "/api/v1/cases/{ref}", {"consumer": {"name": "Jane Consumer", "phone": "+61 3 9000 0000"},
                                              "details": "Corrected."}),
    Endpoint("POST", "/api/v1/cases/{ref}/confirm", {"code": "ABCD-EFGH"}),
    Endpoint("POST", "/api/v1/cases/{ref}/resend-confirmation", {"email": "jane@example.com"}),
    Endpoint("POST", "/api/v1/cases/{ref}/delivery", {"channel": "web_form", "confirmation": "Request #4471"}),
    Endpoint("POST", "/api/v1/cases/{ref}/responses", {"type": "refused", "received_on": iso_days_ago(1),
                                                       "summary": "They said no."}),
    Endpoint("POST", "/api/v1/cases/{ref}/erasure", {"code": "ABCD-EFGH"}),
    Endpoint("POST", "/api/v1/cases/{ref}/responses", {"type": "refused", "received_on": iso_days_ago(1),
                                                       "summary": "They said no."}, staff=True),
    Endpoint("POST", "/api/v1/cases/{ref}/assign", {"assignee": "me"}, staff=True),
    Endpoint("POST", "/api/v1/cases/{ref}/notes", {"body": "Called them."}, staff=True),
    Endpoint("POST", "/api/v1/cases/{ref}/status", {"status": "escalated", "escalation": {
        "kind": "regulator", "name": "ACCC", "reference": "R-1"}, "final_notice": False}, staff=True),
]
IDS = [f"{e.method} {e.path}{' (staff)' if e.staff else ''}" for e in ENDPOINTS]


@dataclass
class World:
    client: FlaskClient
    runtime: Runtime
    reference: str
    consumer: dict[str, str]
    staff: dict[str, str]

    def send(self, endpoint: Endpoint, raw: bytes) -> TestResponse:
        limiter.reset()  # hundreds of requests: the limits are another test's subject
        with self.runtime.sessions() as session:
            version = session.execute(select(Case.version)).scalar_one()
        headers = {**(self.staff if endpoint.staff else self.consumer), "If-Match": f'"{version}"'}
        return self.client.open(endpoint.path.format(ref=self.reference), method=endpoint.method, data=raw,
                                content_type="application/json", headers=headers)


@pytest.fixture
def world(app: Flask, committed: Runtime) -> Iterator[World]:
    limiter.reset()
    with app.test_client() as client:
        filed = client.post("/api/v1/cases", json=case_body()).get_json()
        with writing(committed) as session:  # delivered: answers, notes and escalation are all allowed
            case = session.execute(select(Case)).scalar_one()
            case.status, case.confirmed_at, case.email_confirmed_at = CaseStatus.SENT, utcnow(), utcnow()
        token = token_for(committed, staff(committed, "casey@casework.test"))
        yield World(client, committed, filed["reference"], bearer(filed["access_token"]), bearer(token))


def assert_refused(response: TestResponse) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    body = response.get_json()
    assert isinstance(body, dict), response.get_data(as_text=True)[:300]
    assert isinstance(body["error"], str)
    assert isinstance(body["message"], str)
    assert set(body) <= {"error", "message", "fields", "known"}


def strings_of(body: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every string value in ``body``."""
    if isinstance(body, str):
        yield path
    elif isinstance(body, dict):
        for key, value in body.items():
            yield from strings_of(value, (*path, key))
    elif isinstance(body, list):
        for index, value in enumerate(body):
            yield from strings_of(value, (*path, index))


def with_nul(body: dict[str, Any], path: tuple[Any, ...]) -> bytes:
    changed = copy.deepcopy(body)
    target: Any = changed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = target[path[-1]][:3] + "\x00" + target[path[-1]][3:]
    return json.dumps(changed).encode()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_a_deeply_nested_body_is_a_4xx(world: World, endpoint: Endpoint) -> None:
    for raw in (b"[" * DEEP + b"]" * DEEP,
                b'{"consumer": ' + b'{"a": ' * (DEEP // 6) + b"1" + b"}" * (DEEP // 6 + 1),
                b'{"details": ' + b"[" * DEEP + b"]" * DEEP + b"}"):
        assert_refused(world.send(endpoint, raw))


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_a_nul_in_any_string_or_key_is_a_4xx_and_nothing_is_stored(world: World, committed: Runtime,
                                                                    endpoint: Endpoint) -> None:
    with committed.sessions() as session:
        before = session.execute(select(func.count(CaseEvent.id))).scalar_one()
    paths = list(strings_of(endpoint.body))
    assert paths
    for path in paths:
        assert_refused(world.send(endpoint, with_nul(endpoint.body, path)))
    keyed = {**endpoint.body, "no\x00te": "x"}
    assert_refused(world.send(endpoint, json.dumps(keyed).encode()))
    with committed.sessions() as session:
        assert session.execute(select(func.count(Case.id))).scalar_one() == 1
        assert session.execute(select(Case.status)).scalar_one() is CaseStatus.SENT
        events = session.execute(select(func.count(CaseEvent.id))).scalar_one()
    assert events == before  # nothing was recorded by a refused request


def test_a_nul_in_a_reference_in_the_path_is_a_4xx(world: World, committed: Runtime) -> None:
    reference, _ = open_case(committed, CaseStatus.SENT)
    for path in (f"/api/v1/cases/{reference[:10]}%00{reference[11:]}", f"/api/v1/cases/{reference}%00/letters/1.pdf",
                 "/api/v1/cases/CW-2026-%00AAAAAA/notes"):
        assert_refused(world.client.get(path, headers=world.staff))
        assert_refused(world.client.get(path, headers=world.consumer))
