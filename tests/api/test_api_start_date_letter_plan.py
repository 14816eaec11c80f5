"""API 1.1 over HTTP: ``subscription_start_date`` (validated, stored, returned, corrected) and the case's
``letter_plan`` (no letter row, job or e-mail for a case that gets none; corrections follow the new plan)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from casework.cases.models import Case
from casework.letters.models import Letter
from casework.mail.models import OutboundEmail
from casework.runtime import Runtime
from casework.web import limiter
from tests.api.test_api_cases import bearer, case_body, cases_in, code_from_outbox
from tests.support.http import JsonClient, serve
from tests.support.jobs import run_pending_jobs
from tests.support.today import days_ago, iso_days_ago, iso_days_ahead

pytestmark = [pytest.mark.http, pytest.mark.dates]

NO_LETTER = {"plan": "course-one-time", "certificate_earned": True}  # the certificate voids the refund


@pytest.fixture
def api(app: Flask, committed: Runtime) -> Iterator[JsonClient]:
    limiter.reset()
    with serve(app) as base_url:
        yield JsonClient(base_url)


def rows(runtime: Runtime, model: Any) -> int:
    with runtime.sessions() as session:
        return int(session.execute(select(func.count(model.id))).scalar_one())


def stored_start(runtime: Runtime) -> Any:
    with runtime.sessions() as session:
        return session.execute(select(Case.subscription_start_date)).scalar_one()


@pytest.mark.parametrize(("changes", "why"), [
    ({"subscription_start_date": iso_days_ahead(1)}, "must not be in the future"),
    ({"subscription_start_date": iso_days_ago(6), "payment_date": iso_days_ago(7)}, "must not be after payment_date"),
    ({"subscription_start_date": "2026-02-30"}, "must be a real date as YYYY-MM-DD"),
])
def test_a_bad_start_date_is_a_422_naming_it_and_nothing_is_saved(api: JsonClient, committed: Runtime,
                                                                   changes: dict[str, Any], why: str) -> None:
    reply = api.post("/api/v1/cases", case_body(**changes))
    assert reply.status == 422, reply.body
    assert reply.json["error"] == "validation_failed"
    assert reply.json["fields"] == {"subscription_start_date": why}
    assert cases_in(committed) == 0
    assessed = api.post("/api/v1/assessments", assessment_body(**changes))
    assert (assessed.status, assessed.json["fields"]) == (422, {"subscription_start_date": why})


def assessment_body(**changes: Any) -> dict[str, Any]:
    return {k: v for k, v in case_body(**changes).items()
            if k not in ("consumer", "account_identifier", "details", "consent")}


def test_the_future_is_judged_in_the_consumers_calendar(api: JsonClient) -> None:
    """The tests' clock is 10:30 UTC: already tomorrow at UTC+14, still today in Melbourne."""
    tomorrow = {"payment_date": None, "trial_start_date": iso_days_ago(2), "subscription_start_date": iso_days_ahead(1)}
    ahead = api.post("/api/v1/assessments", assessment_body(timezone="Pacific/Kiritimati", **tomorrow))
    assert ahead.status == 200, ahead.body
    behind = api.post("/api/v1/assessments", assessment_body(timezone="Australia/Melbourne", **tomorrow))
    assert (behind.status, behind.json["fields"]) == (422, {"subscription_start_date": "must not be in the future"})


def test_the_start_date_is_stored_returned_and_corrected(api: JsonClient, committed: Runtime) -> None:
    filed = api.post("/api/v1/cases", case_body(subscription_start_date=iso_days_ago(400)))
    assert filed.status == 201, filed.body
    ref, auth = filed.json["reference"], bearer(filed.json["access_token"])
    assert stored_start(committed) == days_ago(400)
    document = api.get(f"/api/v1/cases/{ref}", headers=auth).json
    assert document["subscription_start_date"] == iso_days_ago(400)
    # A correction of something else keeps it; a correction of it changes it and renders a new letter.
    kept = api.request("PATCH", f"/api/v1/cases/{ref}", {"amount": {"value": "299.00"}}, headers=auth)
    assert kept.status == 200, kept.body
    assert kept.json["subscription_start_date"] == iso_days_ago(400)
    changed = api.request("PATCH", f"/api/v1/cases/{ref}", {"subscription_start_date": iso_days_ago(10)},
                          headers=auth)
    assert changed.json["subscription_start_date"] == iso_days_ago(10)
    assert [letter["version"] for letter in changed.json["letters"]] == [1, 2, 3]
    late = api.request("PATCH", f"/api/v1/cases/{ref}", {"subscription_start_date": iso_days_ago(1)}, headers=auth)
    assert (late.status, late.json["fields"]) == (422, {"subscription_start_date": "must not be after payment_date"})
    unknown = api.request("PATCH", f"/api/v1/cases/{ref}", {"subscription_start_date": None}, headers=auth)
    assert unknown.json["subscription_start_date"] is None
    assert stored_start(committed) is None


def test_absent_means_unknown(api: JsonClient, committed: Runtime) -> None:
    filed = api.post("/api/v1/cases", case_body()).json
    assert stored_start(committed) is None
    document = api.get(f"/api/v1/cases/{filed['reference']}", headers=bearer(filed["access_token"])).json
    assert document["subscription_start_date"] is None
    assert document["letter_plan"] == {"letter": True}


def test_a_case_without_a_letter_has_no_letter_row_or_job_and_one_email(api: JsonClient, committed: Runtime) -> None:
    reply = api.post("/api/v1/cases", case_body(**NO_LETTER))
    assert reply.status == 201, reply.body
    filed = reply.json
    assert set(filed) == {"reference", "status", "access_token", "status_url", "assessment"}  # as before
    assert filed["assessment"]["refund"]["eligibility"] == "not_eligible"
    run_pending_jobs(committed)
    assert rows(committed, Letter) == 0
    with committed.sessions() as session:  # only the consumer's e-mail with the case's link
        assert [(e.kind, e.recipients) for e in session.scalars(select(OutboundEmail))] == [
            ("case_without_letter", ["jane@example.com"])]
    ref, auth = filed["reference"], bearer(filed["access_token"])
    document = api.get(f"/api/v1/cases/{ref}", headers=auth).json
    assert document["letters"] == []
    plan = document["letter_plan"]
    assert plan["letter"] is False
    assert set(plan) == {"letter", "reason"}
    assert "one-time purchase has nothing to renew" in plan["reason"]
    assert "certificate" in plan["reason"]
    # No letter, but the address is confirmed with the e-mail's code; nothing to deliver; it can be withdrawn.
    assert api.post(f"/api/v1/cases/{ref}/confirm", {"code": "AAAA-AAAA"}, headers=auth).status == 422
    confirmed = api.post(f"/api/v1/cases/{ref}/confirm", {"code": code_from_outbox(committed)}, headers=auth)
    assert (confirmed.status, confirmed.json["email_confirmed"], confirmed.json["status"]) == (200, True, "new")
    assert api.post(f"/api/v1/cases/{ref}/resend-confirmation", headers=auth).status == 409
    assert api.post(f"/api/v1/cases/{ref}/delivery", {"channel": "web_form"}, headers=auth).status == 409
    withdrawn = api.post(f"/api/v1/cases/{ref}/withdraw", headers=auth)
    assert (withdrawn.status, withdrawn.json["outcome"]) == (200, "withdrawn")


def test_a_correction_that_makes_a_refund_possible_requests_the_letter(api: JsonClient,
                                                                       committed: Runtime) -> None:
    filed = api.post("/api/v1/cases", case_body(**NO_LETTER)).json
    ref, auth = filed["reference"], bearer(filed["access_token"])
    corrected = api.request("PATCH", f"/api/v1/cases/{ref}", {"certificate_earned": False}, headers=auth)
    assert corrected.status == 200, corrected.body
    assert corrected.json["letter_plan"] == {"letter": True}
    assert [(item["version"], item["status"]) for item in corrected.json["letters"]] == [(1, "pending")]
    run_pending_jobs(committed)
    confirmed = api.post(f"/api/v1/cases/{ref}/confirm", {"code": code_from_outbox(committed)}, headers=auth)
    assert (confirmed.status, confirmed.json["status"]) == (200, "ready")


def test_a_correction_that_rules_the_refund_out_sets_the_letter_aside(api: JsonClient, committed: Runtime) -> None:
    filed = api.post("/api/v1/cases", case_body(plan="course-one-time")).json
    ref, auth = filed["reference"], bearer(filed["access_token"])
    run_pending_jobs(committed)
    code = code_from_outbox(committed)
    corrected = api.request("PATCH", f"/api/v1/cases/{ref}", {"certificate_earned": True}, headers=auth)
    assert corrected.status == 200, corrected.body
    assert corrected.json["letter_plan"]["letter"] is False
    assert [(item["version"], item["status"]) for item in corrected.json["letters"]] == [(1, "superseded")]
    run_pending_jobs(committed)
    assert rows(committed, Letter) == 1  # none rendered anew
    refused = api.post(f"/api/v1/cases/{ref}/confirm", {"code": code}, headers=auth)
    assert refused.status == 409
    assert "no letter to confirm" in refused.json["message"]


def test_a_confirmed_letter_is_not_taken_away_by_a_correction(api: JsonClient, committed: Runtime) -> None:
    filed = api.post("/api/v1/cases", case_body(plan="course-one-time")).json
    ref, auth = filed["reference"], bearer(filed["access_token"])
    run_pending_jobs(committed)
    api.post(f"/api/v1/cases/{ref}/confirm", {"code": code_from_outbox(committed)}, headers=auth)
    refused = api.request("PATCH", f"/api/v1/cases/{ref}", {"certificate_earned": True}, headers=auth)
    assert (refused.status, refused.json["error"]) == (409, "conflict")
    document = api.get(f"/api/v1/cases/{ref}", headers=auth).json
    assert [(item["version"], item["status"]) for item in document["letters"]] == [(1, "rendered")]
    assert document["letter_plan"] == {"letter": True}


def test_the_openapi_describes_the_new_fields(api: JsonClient) -> None:
    schemas = api.get("/api/openapi.json").json["components"]["schemas"]
    assert "subscription_start_date" in schemas["CaseRequest"]["properties"]
    assert "subscription_start_date" in schemas["AssessmentRequest"]["properties"]
    assert "letter_plan" in schemas["CaseOut"]["properties"]
