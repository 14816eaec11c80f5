"""Idempotency-Key is the client's own: another client cannot claim a key first (which made the owner's filing
a 409), a staff token's keys are its own, and keys are purged by the periodic sweep once their 24 hours pass."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from casework.cases.models import Case, IdempotencyKey
from casework.db import utcnow
from casework.runtime import Runtime
from casework.web import limiter
from tests.api.test_api_cases import case_body
from tests.api.test_staff_api import bearer, staff, token_for
from tests.support.waiting import wait_for
from tests.support.writes import writing

KEY = {"Idempotency-Key": "order-0001"}  # a predictable key, as many client programs make them


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


def cases_in(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.execute(select(func.count(Case.id))).scalar_one())


def consumer(name: str, email: str, **changes: Any) -> dict[str, Any]:
    body = case_body(**changes)
    body["consumer"] = {**body["consumer"], "name": name, "email": email}
    return body


def test_another_client_cannot_claim_a_key_before_its_owner(client: FlaskClient, committed: Runtime) -> None:
    squatter = client.post("/api/v1/cases", json=consumer("Mallory", "mallory@example.net"), headers=KEY)
    assert squatter.status_code == 201
    jane = consumer("Jane Q. Consumer", "jane@example.com")
    first = client.post("/api/v1/cases", json=jane, headers=KEY)
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["reference"] != squatter.get_json()["reference"]
    again = client.post("/api/v1/cases", json=jane, headers=KEY)  # the owner's retry still finds her case
    assert (again.status_code, again.get_json()["reference"]) == (200, first.get_json()["reference"])
    changed = client.post("/api/v1/cases", json={**jane, "details": "Something else"}, headers=KEY)
    assert (changed.status_code, changed.get_json()["error"]) == (409, "conflict")  # API.md: same key, other body
    squatter_again = client.post("/api/v1/cases", json=consumer("Mallory", "mallory@example.net"), headers=KEY)
    assert squatter_again.get_json()["reference"] == squatter.get_json()["reference"]
    assert cases_in(committed) == 2
    with committed.sessions() as session:
        scopes = list(session.scalars(select(IdempotencyKey.scope)))
    assert len(set(scopes)) == 2
    assert not any("jane" in scope or "mallory" in scope for scope in scopes)  # keyed digests, not addresses


def test_a_staff_tokens_keys_are_its_own(client: FlaskClient, committed: Runtime) -> None:
    casey = bearer(token_for(committed, staff(committed, "casey@casework.test")))
    robin = bearer(token_for(committed, staff(committed, "robin@casework.test")))
    body = case_body()
    by_casey = client.post("/api/v1/cases", json=body, headers={**casey, **KEY})
    by_robin = client.post("/api/v1/cases", json=body, headers={**robin, **KEY})
    anonymous = client.post("/api/v1/cases", json=body, headers=KEY)
    assert [r.status_code for r in (by_casey, by_robin, anonymous)] == [201, 201, 201]
    assert len({r.get_json()["reference"] for r in (by_casey, by_robin, anonymous)}) == 3
    replay = client.post("/api/v1/cases", json=body, headers={**casey, **KEY})
    assert (replay.status_code, replay.get_json()["reference"]) == (200, by_casey.get_json()["reference"])
    other = client.post("/api/v1/cases", json=case_body(details="Something else"), headers={**casey, **KEY})
    assert (other.status_code, other.get_json()["error"]) == (409, "conflict")
    assert cases_in(committed) == 3


@pytest.mark.worker
def test_the_sweep_purges_keys_after_24_hours(client: FlaskClient, committed: Runtime, start_worker: Any) -> None:
    now = utcnow()
    for key, age in (("stale", dt.timedelta(hours=24, minutes=1)), ("fresh", dt.timedelta(hours=23))):
        filed = client.post("/api/v1/cases", json=case_body(details=key), headers={"Idempotency-Key": key})
        assert filed.status_code == 201
        with writing(committed) as session:
            session.execute(update(IdempotencyKey).where(IdempotencyKey.key == key).values(created_at=now - age))
    start_worker()
    committed.dispatcher.send("deadlines.sweep", [])

    def keys() -> list[str]:
        with committed.sessions() as session:
            return sorted(session.scalars(select(IdempotencyKey.key)))

    assert wait_for(lambda: keys() == ["fresh"], 30, "the stale key to be purged")
