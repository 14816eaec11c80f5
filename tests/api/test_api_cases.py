"""The cases API, called over HTTP as an outside client would: filing with Idempotency-Key, the case
document, the letter download and the consumer's actions."""

from __future__ import annotations

import email
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from casework.cases.models import Case
from casework.runtime import Runtime
from casework.web import limiter
from tests.support.http import JsonClient, serve
from tests.support.jobs import run_pending_jobs
from tests.support.today import TODAY_ISO, iso_days_ago, iso_days_ahead
from tests.support.writes import writing

pytestmark = [pytest.mark.http, pytest.mark.dates]


@pytest.fixture
def api(app: Flask, committed: Runtime) -> Iterator[JsonClient]:
    limiter.reset()
    with serve(app) as base_url:
        yield JsonClient(base_url)


def case_body(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "provider": "coursera", "plan": "coursera-plus-annual", "billing_channel": "direct", "country": "AU",
        "timezone": "Australia/Melbourne", "payment_date": iso_days_ago(7),
        "amount": {"value": "599.00", "currency": "AUD"}, "requested_outcome": "cancel_and_refund",
        "consumer": {"name": "Jane Q. Consumer", "email": "jane@example.com",
                     "postal_address": "12 Example Street\nBrunswick VIC 3056", "phone": None},
        "account_identifier": "jane@example.com", "details": "Tried twice to cancel online.",
        "company": None, "consent": {"send_in_my_name": True},
    }
    data.update(changes)
    return data


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def cases_in(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.execute(select(func.count(Case.id))).scalar_one())


def code_from_outbox(runtime: Runtime) -> str:
    """The code of the newest confirmation e-mail (a newer code replaces the ones before it)."""
    for path in sorted(runtime.settings.outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns, reverse=True):
        message = email.message_from_bytes(path.read_bytes())
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                found = re.search(r"Your confirmation code is ([0-9A-Z-]+)", part.get_payload(decode=True).decode())
                if found:
                    return found.group(1)
    raise AssertionError("no confirmation e-mail")


def test_filing_answers_201_with_a_secret_and_the_assessment(api: JsonClient, committed: Runtime) -> None:
    reply = api.post("/api/v1/cases", case_body())
    assert reply.status == 201, reply.body
    filed = reply.json
    assert re.match(r"^CW-\d{4}-[0-9A-HJKMNP-TV-Z]{8}$", filed["reference"])
    assert filed["status"] == "new"
    assert filed["status_url"].endswith("/c/" + filed["access_token"])
    assert filed["assessment"]["refund"]["window_ends"] == iso_days_ahead(7)
    document = api.get(f"/api/v1/cases/{filed['reference']}", headers=bearer(filed["access_token"])).json
    assert set(document) == {"reference", "status", "outcome", "refund_received", "provider", "plan", "created_at",
                             "version", "email_confirmed", "personal_data_deleted_at", "subscription_start_date",
                             "language", "assessment", "delivery", "letters", "letter_plan", "reminders", "events"}
    assert document["provider"] == {"slug": "coursera", "name": "Coursera"}
    assert document["email_confirmed"] is False
    assert document["events"][0] == {**document["events"][0], "action": "filed", "actor": "consumer"}


def test_a_wrong_or_missing_token_never_reveals_the_case(api: JsonClient, committed: Runtime) -> None:
    filed = api.post("/api/v1/cases", case_body()).json
    other = api.post("/api/v1/cases", case_body(consumer={"name": "B", "email": "b@example.com"})).json
    path = f"/api/v1/cases/{filed['reference']}"
    for headers in ({}, bearer("nonsense"), bearer(other["access_token"]), {"Authorization": filed["access_token"]}):
        reply = api.get(path, headers=headers)
        assert reply.status == 404
        assert reply.json["error"] == "not_found"
    assert api.get("/api/v1/cases/CW-2026-AAAAAAAA", headers=bearer(filed["access_token"])).status == 404


def test_idempotent_replay_same_case_new_token(api: JsonClient, committed: Runtime) -> None:
    key = {"Idempotency-Key": "order-7f3a-0001"}
    first = api.post("/api/v1/cases", case_body(), headers=key)
    reordered = json.dumps(dict(reversed(list(case_body().items()))), indent=2).encode()
    again = api.post("/api/v1/cases", raw=reordered, headers=key)
    assert (first.status, again.status) == (201, 200)
    assert again.json["reference"] == first.json["reference"]
    assert again.json["access_token"] != first.json["access_token"]
    for token in (first.json["access_token"], again.json["access_token"]):  # earlier tokens stay valid
        assert api.get(f"/api/v1/cases/{first.json['reference']}", headers=bearer(token)).status == 200
    changed = api.post("/api/v1/cases", case_body(details="Something else"), headers=key)
    assert (changed.status, changed.json["error"]) == (409, "conflict")
    assert cases_in(committed) == 1


@pytest.mark.parametrize("bad_key", ["", "x" * 129, "with space", "naïve"])
def test_a_malformed_idempotency_key_is_400(api: JsonClient, committed: Runtime, bad_key: str) -> None:
    header = bad_key.encode("utf-8").decode("latin-1")  # as raw bytes on the wire
    reply = api.post("/api/v1/cases", case_body(), headers={"Idempotency-Key": header})
    assert reply.status == 400
    assert cases_in(committed) == 0


def test_concurrent_duplicates_never_make_a_second_case(api: JsonClient, committed: Runtime) -> None:
    replies: list[int] = []
    references: set[str] = set()
    barrier = threading.Barrier(6)

    def file_once() -> None:
        barrier.wait()
        reply = api.post("/api/v1/cases", case_body(), headers={"Idempotency-Key": "same-key-everywhere"})
        replies.append(reply.status)
        if reply.status in (200, 201):
            references.add(reply.json["reference"])

    threads = [threading.Thread(target=file_once) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cases_in(committed) == 1
    assert len(references) == 1
    assert replies.count(201) == 1
    assert set(replies) <= {200, 201, 409}


@pytest.mark.parametrize(("changes", "field"), [
    ({"details": "x" * 5001}, "details"),
    ({"consent": {"send_in_my_name": False}}, "consent.send_in_my_name"),
    ({"consumer": {"name": "J", "email": "nope"}}, "consumer.email"),
    ({"consumer": {"name": "J", "email": "j@example.com", "phone": "1" * 41}}, "consumer.phone"),
    ({"account_identifier": "a" * 201}, "account_identifier"),
    ({"provider": "other", "plan": "other-monthly", "company": {"name": "Acme"}}, "company.email"),
    ({"country": "US", "region": "CA-BC", "timezone": None}, "region"),
])
def test_bad_cases_are_422_with_dotted_fields(api: JsonClient, committed: Runtime, changes: dict[str, Any],
                                              field: str) -> None:
    reply = api.post("/api/v1/cases", case_body(**changes))
    assert reply.status == 422
    assert field in reply.json["fields"]
    assert cases_in(committed) == 0


def test_a_region_without_a_zone_keeps_the_contracts_country_zone(api: JsonClient, committed: Runtime) -> None:
    """API.md: with no timezone the zone comes from the country's row of its table; the region picks the law."""
    body = case_body(country="US", region="us-ca", timezone=None, amount={"value": "399.00", "currency": "USD"})
    reply = api.post("/api/v1/cases", body)
    assert reply.status == 201, reply.json
    with committed.sessions() as session:
        stored = session.execute(select(Case.region, Case.timezone)).one()
    assert tuple(stored) == ("US-CA", "America/New_York")


def test_script_and_sql_looking_text_is_kept_as_text(api: JsonClient, committed: Runtime) -> None:
    name = "<script>alert(1)</script>'; DROP TABLE cases; --"
    filed = api.post("/api/v1/cases", case_body(consumer={"name": name, "email": "x@example.com"})).json
    with committed.sessions() as session:
        assert session.execute(select(Case.consumer_name)).scalar_one() == name
    html = api.get(f"/c/{filed['access_token']}").body.decode()
    assert "<script>alert" not in html


def test_the_consumer_actions_follow_the_transitions(api: JsonClient, committed: Runtime) -> None:
    filed = api.post("/api/v1/cases", case_body()).json
    ref, auth = filed["reference"], bearer(filed["access_token"])
    run_pending_jobs(committed)
    document = api.get(f"/api/v1/cases/{ref}", headers=auth).json
    [letter] = document["letters"]
    pdf = api.get(letter["download_url"], headers=auth)
    assert pdf.status == 200
    assert pdf.headers["etag"] == f'"{letter["sha256"]}"'
    assert pdf.body.startswith(b"%PDF")
    assert api.get(letter["download_url"], headers={**auth, "If-None-Match": f'"{letter["sha256"]}"'}).status == 304

    wrong = api.post(f"/api/v1/cases/{ref}/confirm", {"code": "AAAA-AAAA"}, headers=auth)
    assert (wrong.status, list(wrong.json["fields"])) == (422, ["code"])
    assert api.post(f"/api/v1/cases/{ref}/delivery", {"channel": "web_form"}, headers=auth).status == 409
    confirmed = api.post(f"/api/v1/cases/{ref}/confirm", {"code": code_from_outbox(committed)}, headers=auth)
    assert confirmed.status == 200
    assert (confirmed.json["status"], confirmed.json["email_confirmed"]) == ("ready", True)
    assert api.post(f"/api/v1/cases/{ref}/confirm", {"code": "AAAA-AAAA"}, headers=auth).status == 409
    assert api.post(f"/api/v1/cases/{ref}/resend-confirmation", headers=auth).status == 409

    bad = api.post(f"/api/v1/cases/{ref}/delivery", {"channel": "web_form", "at": f"{TODAY_ISO}T10:30:00"},
                   headers=auth)
    assert bad.status == 422
    sent = api.post(f"/api/v1/cases/{ref}/delivery", {"channel": "web_form", "confirmation": "Ticket 9"},
                    headers=auth)
    assert sent.status == 200
    assert sent.json["status"] == "sent"
    assert sent.json["delivery"][0]["by"] == "consumer"
    assert sent.json["delivery"][0]["address"] == "https://learner.coursera.help/hc/en-us/requests/new"
    withdrawn = api.post(f"/api/v1/cases/{ref}/withdraw", headers=auth)
    assert (withdrawn.json["status"], withdrawn.json["outcome"]) == ("resolved", "withdrawn")
    again = api.post(f"/api/v1/cases/{ref}/withdraw", headers=auth)
    assert (again.status, again.json["error"]) == (409, "conflict")
    assert api.post(f"/api/v1/cases/{ref}/withdraw", headers=bearer("stranger")).status == 404


def test_action_bodies_are_checked(api: JsonClient, committed: Runtime) -> None:
    filed = api.post("/api/v1/cases", case_body()).json
    ref, auth = filed["reference"], bearer(filed["access_token"])
    assert api.post(f"/api/v1/cases/{ref}/confirm", {"code": 1234}, headers=auth).status == 422
    assert api.post(f"/api/v1/cases/{ref}/confirm", {"code": "x", "extra": 1}, headers=auth).status == 422
    assert api.post(f"/api/v1/cases/{ref}/confirm", raw=b"{oops", headers=auth).status == 400
    assert api.post(f"/api/v1/cases/{ref}/resend-confirmation", {"email": "not-an-address"},
                    headers=auth).status == 422


def test_the_openapi_describes_the_cases_api(api: JsonClient) -> None:
    spec = api.get("/api/openapi.json").json
    for path in ("/api/v1/cases", "/api/v1/cases/{reference}", "/api/v1/cases/{reference}/confirm",
                 "/api/v1/cases/{reference}/delivery", "/api/v1/cases/{reference}/withdraw"):
        assert path in spec["paths"], path
    assert "CaseRequest" in spec["components"]["schemas"]
    assert spec["components"]["schemas"]["CaseRequest"]["additionalProperties"] is False


def test_correcting_facts_renders_a_new_letter_version(api: JsonClient, committed: Runtime) -> None:
    filed = api.post("/api/v1/cases", case_body()).json
    ref, auth = filed["reference"], bearer(filed["access_token"])
    run_pending_jobs(committed)
    old_code = code_from_outbox(committed)
    reply = api.request("PATCH", f"/api/v1/cases/{ref}", {"amount": {"value": "299.00"},
                                                         "consumer": {"name": "Jane Consumer"}}, headers=auth)
    assert reply.status == 200, reply.body
    run_pending_jobs(committed)
    letters = api.get(f"/api/v1/cases/{ref}", headers=auth).json["letters"]
    assert [(item["version"], item["status"]) for item in letters] == [(1, "superseded"), (2, "rendered")]
    # The code sent with the old letter no longer confirms anything.
    stale = api.post(f"/api/v1/cases/{ref}/confirm", {"code": old_code}, headers=auth)
    assert stale.status == 422
    with committed.sessions() as session:
        case = session.execute(select(Case)).scalar_one()
    assert (str(case.amount_value), case.consumer_name) == ("299.00", "Jane Consumer")
    assert api.request("PATCH", f"/api/v1/cases/{ref}", {"payment_date": "2099-01-01"},
                       headers=auth).json["fields"] == {"payment_date": "must not be in the future"}
    assert api.request("PATCH", f"/api/v1/cases/{ref}", {"colour": "red"}, headers=auth).status == 422
    assert api.request("PATCH", f"/api/v1/cases/{ref}", {"plan": "nope"}, headers=auth).status == 404


def test_responses_and_reopening(api: JsonClient, committed: Runtime) -> None:
    filed = api.post("/api/v1/cases", case_body()).json
    ref, auth = filed["reference"], bearer(filed["access_token"])
    answer = {"type": "confirmed_cancellation", "received_on": TODAY_ISO, "summary": "They confirmed."}
    assert api.post(f"/api/v1/cases/{ref}/responses", answer, headers=auth).status == 409  # not confirmed yet
    run_pending_jobs(committed)
    api.post(f"/api/v1/cases/{ref}/confirm", {"code": code_from_outbox(committed)}, headers=auth)
    api.post(f"/api/v1/cases/{ref}/delivery", {"channel": "web_form"}, headers=auth)
    assert api.post(f"/api/v1/cases/{ref}/responses", answer, headers=auth).status == 200
    assert api.post(f"/api/v1/cases/{ref}/responses", {**answer, "received_on": "2099-01-01"},
                    headers=auth).status == 422
    assert api.post(f"/api/v1/cases/{ref}/responses", {**answer, "type": "ignored"}, headers=auth).status == 422
    with writing(committed) as session:  # a caseworker resolves it (their own action comes later)
        case = session.execute(select(Case)).scalar_one()
        from casework.cases.states import CaseStatus, Outcome
        case.status, case.outcome = CaseStatus.RESOLVED, Outcome.CANCELLED
    again = api.post(f"/api/v1/cases/{ref}/responses", {**answer, "type": "charged_again",
                                                        "summary": "Charged 599 AUD on renewal."}, headers=auth)
    assert again.status == 200
    assert (again.json["status"], again.json["outcome"]) == ("sent", None)
    assert api.post(f"/api/v1/cases/{ref}/withdraw", headers=auth).status == 200
    assert api.post(f"/api/v1/cases/{ref}/responses", {**answer, "type": "charged_again"},
                    headers=auth).status == 409  # never reopened once withdrawn


def test_a_consumers_answer_date_is_checked_against_their_today_and_the_filing(api: JsonClient,
                                                                              committed: Runtime) -> None:
    filed = api.post("/api/v1/cases", case_body()).json
    ref, auth = filed["reference"], bearer(filed["access_token"])
    run_pending_jobs(committed)
    api.post(f"/api/v1/cases/{ref}/confirm", {"code": code_from_outbox(committed)}, headers=auth)
    assert api.post(f"/api/v1/cases/{ref}/delivery", {"channel": "web_form"}, headers=auth).status == 200
    answer = {"type": "refused", "summary": "They said no."}
    for received_on, why in ((iso_days_ahead(1), "must not be in the future"),
                             (iso_days_ago(400), "must not be more than a year before the case was filed")):
        refused = api.post(f"/api/v1/cases/{ref}/responses", {**answer, "received_on": received_on}, headers=auth)
        assert (refused.status, refused.json["error"], refused.json["fields"]) == (
            422, "validation_failed", {"received_on": why})
    document = api.get(f"/api/v1/cases/{ref}", headers=auth).json
    assert "response_recorded" not in {e["action"] for e in document["events"]}
    assert api.post(f"/api/v1/cases/{ref}/responses", {**answer, "received_on": TODAY_ISO},
                    headers=auth).status == 200


def test_app_store_cases_get_no_letter_and_are_confirmed_cancelled(api: JsonClient, committed: Runtime) -> None:
    filed = api.post("/api/v1/cases", case_body(billing_channel="apple_app_store")).json
    assert filed["assessment"]["cancel_via"] == "apple"
    ref, auth = filed["reference"], bearer(filed["access_token"])
    run_pending_jobs(committed)
    assert api.get(f"/api/v1/cases/{ref}", headers=auth).json["letters"] == []
    # Nothing goes to the company, nor a letter: the one e-mail gives the consumer the case's link.
    sent = [email.message_from_bytes(path.read_bytes()) for path in committed.settings.outbox.glob("*.eml")]
    assert [(str(m["To"]), m.get_content_type()) for m in sent] == [("jane@example.com", "multipart/alternative")]
    done = api.post(f"/api/v1/cases/{ref}/confirm-cancelled", headers=auth)
    assert (done.status, done.json["status"], done.json["outcome"]) == (200, "resolved", "redirected_app_store")
    direct = api.post("/api/v1/cases", case_body()).json
    assert api.post(f"/api/v1/cases/{direct['reference']}/confirm-cancelled",
                    headers=bearer(direct["access_token"])).status == 409
