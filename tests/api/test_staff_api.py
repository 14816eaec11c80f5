"""Staff API tokens (made, shown once, revoked on the tokens page) and the staff side of the JSON API: every
case readable with notes, the queue, take-next, assignment and status changes with If-Match."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from casework.cases.filing import file_case
from casework.cases.models import Case, CompanyResponse
from casework.cases.states import Actor, CaseStatus
from casework.cases.tokens import token_hmac
from casework.db import utcnow
from casework.runtime import Runtime
from casework.staff.accounts import create_staff, disable_staff
from casework.staff.api_tokens import issue_token
from casework.staff.models import CaseRead, StaffApiToken, StaffUser
from casework.web import limiter
from tests.support.factories import case_facts
from tests.support.http import JsonClient, serve
from tests.support.jobs import run_pending_jobs
from tests.support.today import TODAY, clock_at, iso_days_ago, iso_days_ahead
from tests.support.web import post_form
from tests.support.writes import writing

pytestmark = pytest.mark.http
PASSWORD = "correct horse battery staple"
TOKEN_RE = re.compile(r"<code class=\"token\" data-token>(cwst_[A-Za-z0-9_-]+)</code>")


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


def staff(runtime: Runtime, email: str, role: str = "caseworker") -> int:
    with writing(runtime) as session:
        return create_staff(session, email, email.split("@")[0].title(), PASSWORD, role).id


def token_for(runtime: Runtime, staff_id: int, name: str = "script") -> str:
    with writing(runtime) as session:
        user = session.get_one(StaffUser, staff_id)
        token, _ = issue_token(session, user, name, runtime.settings.secret_key, utcnow())
    return token


def sign_in(client: FlaskClient, email: str) -> None:
    response = post_form(client, "/staff/login", {"email": email, "password": PASSWORD}, page="/staff/login")
    assert response.status_code == 303


def open_case(runtime: Runtime, status: CaseStatus = CaseStatus.SENT, **changes: Any) -> tuple[str, int]:
    """A filed case put straight into ``status`` (its letter is not rendered): reference and id."""
    with writing(runtime) as session:
        filed = file_case(session, case_facts(**changes), runtime.settings.secret_key)
        case = session.get_one(Case, filed.case_id)
        case.status = status
        case.confirmed_at = case.email_confirmed_at = utcnow()
        return case.reference, case.id


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def error_of(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    assert body["error"] == code
    assert body["message"]
    return body


def version_of(client: FlaskClient, reference: str, token: str) -> int:
    response = client.get(f"/api/v1/cases/{reference}", headers=bearer(token))
    assert response.status_code == 200
    return int(response.get_json()["version"])


# --- tokens ----------------------------------------------------------------------------------------------------


def test_a_token_is_made_shown_once_used_and_revoked(client: FlaskClient, committed: Runtime) -> None:
    staff(committed, "casey@casework.test")
    assert client.get("/staff/tokens").status_code == 302
    sign_in(client, "casey@casework.test")
    assert "API tokens" in client.get("/staff").get_data(as_text=True)

    empty = post_form(client, "/staff/tokens", {"name": "  ", "password": PASSWORD}, page="/staff/tokens")
    assert empty.status_code == 422
    assert "Give the token a name" in empty.get_data(as_text=True)
    too_long = post_form(client, "/staff/tokens", {"name": "n" * 101, "password": PASSWORD}, page="/staff/tokens")
    assert too_long.status_code == 422
    assert "At most 100 characters" in too_long.get_data(as_text=True)

    made = post_form(client, "/staff/tokens", {"name": "Nightly export", "password": PASSWORD},
                     page="/staff/tokens")
    assert made.status_code == 201
    shown = TOKEN_RE.search(made.get_data(as_text=True))
    assert shown is not None
    token = shown.group(1)
    assert len(token) > 40
    listing = client.get("/staff/tokens").get_data(as_text=True)
    assert token not in listing  # shown once: not on the next page, not in a flash
    assert "Nightly export" in listing
    assert f"<code>{token[:10]}…</code>" in listing
    with committed.sessions() as session:
        row = session.execute(select(StaffApiToken)).scalar_one()
    assert row.prefix == token[:10]
    assert row.token_hmac == token_hmac(committed.settings.secret_key, token)  # only a keyed digest is kept
    assert row.last_used_at is None

    assert client.get("/api/v1/queue", headers=bearer(token)).status_code == 200
    with committed.sessions() as session:
        assert session.get_one(StaffApiToken, row.id).last_used_at is not None
    assert "never" not in client.get("/staff/tokens").get_data(as_text=True).split("Nightly export")[1][:300]

    revoked = post_form(client, f"/staff/tokens/{row.id}/revoke", {}, page="/staff/tokens")
    assert revoked.status_code == 303
    assert "revoked" in client.get("/staff/tokens").get_data(as_text=True)
    body = error_of(client.get("/api/v1/queue", headers=bearer(token)), 401, "unauthorized")
    assert set(body) == {"error", "message"}
    error_of(client.post("/api/v1/queue/take-next", headers=bearer(token)), 401, "unauthorized")
    error_of(client.get("/api/v1/queue"), 401, "unauthorized")
    error_of(client.get("/api/v1/queue", headers=bearer("cwst_" + "x" * 43)), 401, "unauthorized")


def test_only_the_owner_or_a_supervisor_revokes_and_supervisors_see_every_token(
    client: FlaskClient, committed: Runtime
) -> None:
    casey, robin = staff(committed, "casey@casework.test"), staff(committed, "robin@casework.test")
    staff(committed, "sam@casework.test", role="supervisor")
    token_for(committed, casey, "casey's script")
    robins = token_for(committed, robin, "robin's script")
    with committed.sessions() as session:
        robins_id = session.execute(select(StaffApiToken.id).where(StaffApiToken.staff_id == robin)).scalar_one()

    sign_in(client, "casey@casework.test")
    page = client.get("/staff/tokens").get_data(as_text=True)
    assert "casey&#39;s script" in page
    assert "robin&#39;s script" not in page
    assert post_form(client, f"/staff/tokens/{robins_id}/revoke", {}, page="/staff/tokens").status_code == 403
    assert post_form(client, "/staff/tokens/999999/revoke", {}, page="/staff/tokens").status_code == 404
    assert client.get("/api/v1/queue", headers=bearer(robins)).status_code == 200

    post_form(client, "/staff/logout", {}, page="/staff/tokens")
    sign_in(client, "sam@casework.test")
    page = client.get("/staff/tokens").get_data(as_text=True)
    assert "casey&#39;s script" in page
    assert "robin&#39;s script" in page
    assert "robin@casework.test" in page
    assert post_form(client, f"/staff/tokens/{robins_id}/revoke", {}, page="/staff/tokens").status_code == 303
    error_of(client.get("/api/v1/queue", headers=bearer(robins)), 401, "unauthorized")


def test_a_disabled_account_s_tokens_stop_working(client: FlaskClient, committed: Runtime) -> None:
    casey = staff(committed, "casey@casework.test")
    staff(committed, "sam@casework.test", role="supervisor")
    token = token_for(committed, casey)
    reference, _ = open_case(committed)
    assert client.get("/api/v1/queue", headers=bearer(token)).status_code == 200
    with writing(committed) as session:
        disable_staff(session, session.get_one(StaffUser, casey))
    error_of(client.get("/api/v1/queue", headers=bearer(token)), 401, "unauthorized")
    error_of(client.get(f"/api/v1/cases/{reference}", headers=bearer(token)), 404, "not_found")


# --- reading cases -------------------------------------------------------------------------------------------


def test_staff_read_every_case_with_notes_consumers_never_see_them(client: FlaskClient, committed: Runtime) -> None:
    token = token_for(committed, staff(committed, "casey@casework.test"))
    filed = client.post("/api/v1/cases", json={
        "provider": "coursera", "plan": "coursera-plus-annual", "billing_channel": "direct", "country": "AU",
        "timezone": "Australia/Melbourne", "payment_date": iso_days_ago(7), "requested_outcome": "cancel",
        "consumer": {"name": "Jane Q. Consumer", "email": "jane@example.com",
                     "postal_address": "12 Example Street\nBrunswick VIC 3056"},
        "account_identifier": "jane@example.com", "consent": {"send_in_my_name": True}}).get_json()
    reference, consumer = filed["reference"], filed["access_token"]
    run_pending_jobs(committed)

    noted = client.post(f"/api/v1/cases/{reference}/notes", json={"body": "Called the company: ticket 42."},
                        headers=bearer(token))
    assert noted.status_code == 200, noted.get_data(as_text=True)
    assert client.post(f"/api/v1/cases/{reference}/assign", json={"assignee": "me"},
                       headers=bearer(token, **{"If-Match": f'"{noted.get_json()["version"]}"'})).status_code == 200

    seen = client.get(f"/api/v1/cases/{reference}", headers=bearer(token)).get_json()
    assert [(n["by"], n["body"]) for n in seen["notes"]] == [("Casey", "Called the company: ticket 42.")]
    assert seen["assignee"]["name"] == "Casey"
    assert {"note_added", "assigned"} <= {e["action"] for e in seen["events"]}
    assert set(seen["urgency"]) == {"on", "kind"}
    assert isinstance(seen["needs_review"], bool)

    mine = client.get(f"/api/v1/cases/{reference}", headers=bearer(consumer))
    assert mine.status_code == 200
    text = mine.get_data(as_text=True)
    assert "ticket 42" not in text
    assert "Casey" not in text
    assert not {"notes", "assignee", "urgency", "needs_review"} & set(mine.get_json())
    assert not {"note_added", "assigned"} & {e["action"] for e in mine.get_json()["events"]}

    [letter] = [item for item in seen["letters"] if item["download_url"]]
    pdf = client.get(letter["download_url"], headers=bearer(token))
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    with committed.sessions() as session:
        reads = list(session.scalars(select(CaseRead.via).order_by(CaseRead.id)))
    assert reads == ["api", "letter"]

    error_of(client.get(f"/api/v1/cases/{reference}", headers=bearer("cwst_" + "y" * 43)), 404, "not_found")
    error_of(client.get(letter["download_url"], headers=bearer("cwst_" + "y" * 43)), 404, "not_found")
    error_of(client.get("/api/v1/cases/CW-2026-AAAAAAAA", headers=bearer(token)), 404, "not_found")


def test_staff_tokens_never_work_on_the_consumer_s_own_actions(client: FlaskClient, committed: Runtime) -> None:
    token = token_for(committed, staff(committed, "casey@casework.test"))
    reference, _ = open_case(committed, CaseStatus.NEW)
    for path, body in (("confirm", {"code": "AAAA-BBBB"}), ("resend-confirmation", {}), ("withdraw", None),
                       ("delivery", {"channel": "post"}), ("confirm-cancelled", None)):
        error_of(client.post(f"/api/v1/cases/{reference}/{path}", json=body, headers=bearer(token)), 404, "not_found")
    error_of(client.patch(f"/api/v1/cases/{reference}", json={"details": "x"}, headers=bearer(token)),
             404, "not_found")
    with committed.sessions() as session:
        assert session.execute(select(Case.status).where(Case.reference == reference)).scalar_one() is CaseStatus.NEW


@pytest.mark.dates
def test_a_caseworker_records_the_company_s_answer_as_staff(client: FlaskClient, committed: Runtime) -> None:
    token = token_for(committed, staff(committed, "casey@casework.test"))
    reference, case_id = open_case(committed)
    answer = {"type": "refused", "received_on": iso_days_ago(2), "summary": "They say no."}
    recorded = client.post(f"/api/v1/cases/{reference}/responses", json=answer, headers=bearer(token))
    assert recorded.status_code == 200, recorded.get_data(as_text=True)
    assert "response_recorded" in {e["action"] for e in recorded.get_json()["events"]}
    with committed.sessions() as session:
        [response] = session.scalars(select(CompanyResponse).where(CompanyResponse.case_id == case_id))
    assert response.recorded_by is Actor.STAFF
    bad = client.post(f"/api/v1/cases/{reference}/responses", json={**answer, "mood": "sad"}, headers=bearer(token))
    assert error_of(bad, 422, "validation_failed")["fields"] == {"mood": "unknown field"}


@pytest.mark.parametrize(("received_on", "why"), [
    (iso_days_ahead(2), "must not be in the future"),  # not yet today anywhere on Earth
    (iso_days_ago(400), "must not be more than a year before the case was filed"),
])
def test_a_staff_answer_dated_in_the_future_or_long_before_the_case_is_refused(
        client: FlaskClient, committed: Runtime, received_on: str, why: str) -> None:
    token = token_for(committed, staff(committed, "casey@casework.test"))
    reference, case_id = open_case(committed, country="US", timezone="America/New_York", amount_currency="USD")
    answer = {"type": "refused", "received_on": received_on, "summary": "They say no."}
    refused = client.post(f"/api/v1/cases/{reference}/responses", json=answer, headers=bearer(token))
    assert error_of(refused, 422, "validation_failed")["fields"] == {"received_on": why}
    with committed.sessions() as session:
        assert session.scalars(select(CompanyResponse).where(CompanyResponse.case_id == case_id)).all() == []
    # Late in the UTC day it is still today for this consumer in New York, but already tomorrow in Sydney: a
    # caseworker there may date the answer so.
    with clock_at(dt.datetime.combine(TODAY, dt.time(23, 30), tzinfo=dt.UTC)):
        accepted = client.post(f"/api/v1/cases/{reference}/responses",
                               json={**answer, "received_on": iso_days_ahead(1)}, headers=bearer(token))
    assert accepted.status_code == 200, accepted.get_data(as_text=True)


def test_a_refund_dated_in_the_future_is_refused_and_nothing_changes(client: FlaskClient,
                                                                    committed: Runtime) -> None:
    token = token_for(committed, staff(committed, "casey@casework.test"))
    reference, _ = open_case(committed)
    version = version_of(client, reference, token)
    body = {"status": "resolved", "outcome": "cancelled_refunded",
            "refunded": {"amount": "599.00", "currency": "AUD", "on": iso_days_ahead(2)}}
    refused = client.post(f"/api/v1/cases/{reference}/status", json=body,
                          headers=bearer(token, **{"If-Match": f'"{version}"'}))
    assert error_of(refused, 422, "validation_failed")["fields"] == {"refunded.on": "must not be in the future"}
    document = client.get(f"/api/v1/cases/{reference}", headers=bearer(token)).get_json()
    assert (document["status"], document["version"], document["refund_received"]) == ("sent", version, None)


# --- the queue and taking cases --------------------------------------------------------------------------------


def test_take_next_gives_two_caseworkers_different_cases_then_null(client: FlaskClient, committed: Runtime) -> None:
    first = token_for(committed, staff(committed, "casey@casework.test"))
    second = token_for(committed, staff(committed, "robin@casework.test"))
    references = {open_case(committed, CaseStatus.SENT)[0], open_case(committed, CaseStatus.READY)[0]}
    open_case(committed, CaseStatus.NEW)  # waits for the consumer: never handed out

    taken_a = client.post("/api/v1/queue/take-next", headers=bearer(first)).get_json()["case"]
    taken_b = client.post("/api/v1/queue/take-next", headers=bearer(second)).get_json()["case"]
    assert {taken_a["reference"], taken_b["reference"]} == references
    assert taken_a["assignee"]["name"] == "Casey"
    assert taken_b["assignee"]["name"] == "Robin"
    nothing = client.post("/api/v1/queue/take-next", headers=bearer(first))
    assert nothing.status_code == 200
    assert nothing.get_json() == {"case": None}

    mine = client.get("/api/v1/queue?assignee=mine", headers=bearer(first)).get_json()
    assert [c["reference"] for c in mine["cases"]] == [taken_a["reference"]]


def test_take_next_at_the_same_moment_never_hands_one_case_out_twice(app: Flask, committed: Runtime) -> None:
    """Four programs on a real server ask at once for three waiting cases: three different cases, one null."""
    limiter.reset()
    tokens = [token_for(committed, staff(committed, f"worker{i}@casework.test")) for i in range(4)]
    references = {open_case(committed)[0] for _ in range(3)}
    barrier = threading.Barrier(len(tokens))
    taken: list[Any] = []

    def take(api: JsonClient, token: str) -> None:
        barrier.wait()
        reply = api.post("/api/v1/queue/take-next", headers=bearer(token))
        taken.append(reply.json["case"] if reply.status == 200 else reply.status)

    with serve(app) as base_url:
        api = JsonClient(base_url)
        threads = [threading.Thread(target=take, args=(api, token)) for token in tokens]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    got = [case["reference"] for case in taken if isinstance(case, dict)]
    assert sorted(got) == sorted(references)
    assert taken.count(None) == 1


def test_garbage_queue_arguments_are_ignored_with_notices(client: FlaskClient, committed: Runtime) -> None:
    token = token_for(committed, staff(committed, "casey@casework.test"))
    reference, _ = open_case(committed)
    reply = client.get("/api/v1/queue?status=bogus&within=soon&overdue=maybe&after=zzz&assignee=nobody",
                       headers=bearer(token))
    assert reply.status_code == 200, reply.get_data(as_text=True)
    page = reply.get_json()
    assert set(page) == {"cases", "next_cursor", "counts", "counts_capped", "notices"}
    assert page["counts_capped"] is False
    assert len(page["notices"]) >= 4
    assert any("status=bogus" in notice for notice in page["notices"])
    assert [c["reference"] for c in page["cases"]] == [reference]
    assert page["counts"]["sent"] == 1
    assert page["next_cursor"] is None


# --- changing cases --------------------------------------------------------------------------------------------


def test_assigning_needs_the_case_s_version(client: FlaskClient, committed: Runtime) -> None:
    casey = staff(committed, "casey@casework.test")
    robin = staff(committed, "robin@casework.test")
    token, robins = token_for(committed, casey), token_for(committed, robin)
    reference, _ = open_case(committed)
    url = f"/api/v1/cases/{reference}/assign"
    version = version_of(client, reference, token)

    error_of(client.post(url, json={"assignee": "me"}, headers=bearer(token)), 400, "bad_request")
    error_of(client.post(url, json={"assignee": "me"}, headers=bearer(token, **{"If-Match": "three"})),
             400, "bad_request")
    error_of(client.post(url, json={"assignee": "me"}, headers=bearer(token, **{"If-Match": f'"{version + 1}"'})),
             409, "stale")
    bad = client.post(url, json={"assignee": "you", "why": 1}, headers=bearer(token, **{"If-Match": f'"{version}"'}))
    assert error_of(bad, 422, "validation_failed")["fields"] == {"assignee": 'a staff id, "me", or null',
                                                                  "why": "unknown field"}
    unknown = client.post(url, json={"assignee": 999999}, headers=bearer(token, **{"If-Match": f'"{version}"'}))
    assert error_of(unknown, 422, "validation_failed")["fields"] == {"assignee": "no staff account with this id"}
    error_of(client.post(url, json={"assignee": "me"}, headers=bearer("cwst_nope", **{"If-Match": f'"{version}"'})),
             401, "unauthorized")

    taken = client.post(url, json={"assignee": "me"}, headers=bearer(token, **{"If-Match": f'"{version}"'}))
    assert taken.status_code == 200, taken.get_data(as_text=True)
    assert taken.get_json()["assignee"] == {"id": casey, "name": "Casey"}
    assert taken.get_json()["version"] > version
    again = client.post(url, json={"assignee": "me"}, headers=bearer(token, **{"If-Match": f'"{version}"'}))
    error_of(again, 409, "stale")  # the same request twice: the first one moved the version on

    current = taken.get_json()["version"]
    refused = client.post(url, json={"assignee": "me"}, headers=bearer(robins, **{"If-Match": f'"{current}"'}))
    error_of(refused, 403, "forbidden")
    released = client.post(url, json={"assignee": None}, headers=bearer(token, **{"If-Match": f'"{current}"'}))
    assert released.status_code == 200
    assert released.get_json()["assignee"] is None


def test_status_changes_follow_the_rules(client: FlaskClient, committed: Runtime) -> None:
    token = token_for(committed, staff(committed, "casey@casework.test"))
    reference, _ = open_case(committed)
    url = f"/api/v1/cases/{reference}/status"

    def move(body: dict[str, Any], version: int | None = None) -> TestResponse:
        current = version_of(client, reference, token) if version is None else version
        return client.post(url, json=body, headers=bearer(token, **{"If-Match": f'"{current}"'}))

    error_of(client.post(url, json={"status": "closed"}, headers=bearer(token)), 400, "bad_request")
    conflict = error_of(move({"status": "closed"}), 409, "conflict")
    assert "sent" in conflict["message"]
    assert "closed" in conflict["message"]
    error_of(move({"status": "ready"}), 409, "conflict")
    missing = error_of(move({"status": "resolved"}), 422, "validation_failed")
    assert missing["fields"] == {"outcome": "required to resolve a case"}
    wrong = error_of(move({"status": "resolved", "outcome": "cancelled", "question": "Why?"}), 422,
                     "validation_failed")
    assert set(wrong["fields"]) == {"question"}
    error_of(move({"status": "resolved", "outcome": "happy"}), 422, "validation_failed")
    error_of(move({"status": "resolved", "outcome": "cancelled"}, version=1), 409, "stale")

    resolved = move({"status": "resolved", "outcome": "cancelled"})
    assert resolved.status_code == 200, resolved.get_data(as_text=True)
    assert (resolved.get_json()["status"], resolved.get_json()["outcome"]) == ("resolved", "cancelled")
    error_of(move({"status": "new", "reason": "Charged again."}), 409, "conflict")  # a letter case reopens to sent
    error_of(move({"status": "sent"}), 422, "validation_failed")
    reopened = move({"status": "sent", "reason": "The company charged again."})
    assert reopened.status_code == 200, reopened.get_data(as_text=True)
    assert (reopened.get_json()["status"], reopened.get_json()["outcome"]) == ("sent", None)


def test_bodies_over_64_kib_are_refused(client: FlaskClient, committed: Runtime) -> None:
    token = token_for(committed, staff(committed, "casey@casework.test"))
    reference, _ = open_case(committed)
    huge = client.post(f"/api/v1/cases/{reference}/notes", data=b'{"body": "' + b"x" * 70_000 + b'"}',
                       content_type="application/json", headers=bearer(token))
    error_of(huge, 413, "too_large")
    long_note = client.post(f"/api/v1/cases/{reference}/notes", json={"body": "x" * 5001}, headers=bearer(token))
    assert set(error_of(long_note, 422, "validation_failed")["fields"]) == {"body"}
    error_of(client.post(f"/api/v1/cases/{reference}/notes", data="body=x", headers=bearer(token)),
             400, "bad_request")


def test_the_openapi_document_lists_the_staff_operations(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").get_json()
    paths = spec["paths"]
    assert {"get"} <= set(paths["/api/v1/queue"])
    for path in ("/api/v1/queue/take-next", "/api/v1/cases/{reference}/assign", "/api/v1/cases/{reference}/notes",
                 "/api/v1/cases/{reference}/status"):
        assert "post" in paths[path], path
        assert paths[path]["post"]["security"] == [{"bearer": []}]
        assert "401" in paths[path]["post"]["responses"]
    assert "If-Match" in {p["name"] for p in paths["/api/v1/cases/{reference}/status"]["post"]["parameters"]}
    assert {"StatusBody", "AssignBody", "StaffCaseOut", "QueueOut"} <= set(spec["components"]["schemas"])


def test_rate_limits_count_per_token(client: FlaskClient, committed: Runtime) -> None:
    busy = token_for(committed, staff(committed, "casey@casework.test"))
    other = token_for(committed, staff(committed, "robin@casework.test"))
    codes = [client.post("/api/v1/queue/take-next", headers=bearer(busy)).status_code for _ in range(61)]
    assert codes == [200] * 60 + [429]
    limited = error_of(client.post("/api/v1/queue/take-next", headers=bearer(busy)), 429, "rate_limited")
    assert set(limited) == {"error", "message"}
    assert client.post("/api/v1/queue/take-next", headers=bearer(other)).status_code == 200  # same address
