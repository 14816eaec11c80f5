"""The catalog and assessment API, called over HTTP as an outside client would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from tests.support.http import JsonClient, serve
from tests.support.today import TODAY_ISO, iso_days_ago, iso_days_ahead

pytestmark = [pytest.mark.http, pytest.mark.dates]


@pytest.fixture(scope="module")
def api(app: Flask) -> Iterator[JsonClient]:
    with serve(app) as base_url:
        yield JsonClient(base_url)


def body(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "provider": "coursera", "plan": "coursera-plus-annual", "billing_channel": "direct", "country": "AU",
        "region": None, "timezone": "Australia/Melbourne", "payment_date": iso_days_ago(7),
        "trial_start_date": None, "next_renewal_date": None, "certificate_earned": False,
        "amount": {"value": "599.00", "currency": "AUD"}, "requested_outcome": "cancel_and_refund",
    }
    data.update(changes)
    return data


def test_providers_list_the_catalog(api: JsonClient) -> None:
    reply = api.get("/api/v1/providers")
    assert reply.status == 200
    providers = {p["slug"]: p for p in reply.json["providers"]}
    assert set(providers) >= {"coursera", "other"}
    coursera = providers["coursera"]
    assert coursera["policy_version"] == "coursera@2026-02-06"
    assert {"slug": "coursera-plus-annual", "name": "Coursera Plus (annual)", "billing": "annual",
            "trial_days": 7} in coursera["plans"]
    assert all(set(s) == {"title", "url", "checked_on"} for s in coursera["sources"])
    other = providers["other"]
    assert other["sources"] == []
    assert other["policy_version"] == "general@1"
    assert [p["slug"] for p in other["plans"]] == ["other-monthly", "other-annual", "other-one-time"]


def test_one_provider_has_channels_and_steps(api: JsonClient) -> None:
    reply = api.get("/api/v1/providers/coursera")
    assert reply.status == 200
    channels = reply.json["cancel_channels"]
    assert {c["kind"] for c in channels} == {"web_form", "post"}  # no invented e-mail address
    assert all(c["source"]["checked_on"] for c in channels)
    assert reply.json["self_serve_steps"]


def test_unknown_provider_is_404_with_the_known_slugs(api: JsonClient) -> None:
    reply = api.get("/api/v1/providers/netflux")
    assert reply.status == 404
    assert reply.json["error"] == "unknown_provider"
    assert "coursera" in reply.json["known"]


def test_the_assessment_of_the_contract_example(api: JsonClient) -> None:
    reply = api.post("/api/v1/assessments", body())
    assert reply.status == 200, reply.body
    result = reply.json
    assert list(result) == ["provider", "plan", "today", "cancel_via", "refund", "deadlines", "access_until",
                            "warnings", "steps", "policy_version"]
    assert result["provider"] == {"slug": "coursera", "name": "Coursera"}
    assert result["cancel_via"] == "formal_letter"
    assert result["refund"]["window_ends"] == iso_days_ahead(7)
    assert result["deadlines"][0] == {**result["deadlines"][0], "kind": "refund_window_end",
                                      "date": iso_days_ahead(7), "act_by": iso_days_ahead(6)}
    assert result["policy_version"] == "coursera@2026-02-06"


def test_on_the_day_the_refund_window_closes_a_refund_can_still_be_asked_for(api: JsonClient) -> None:
    closing = api.post("/api/v1/assessments", body(payment_date=iso_days_ago(14))).json
    assert closing["today"] == TODAY_ISO
    assert closing["refund"]["window_ends"] == TODAY_ISO
    assert closing["refund"]["eligibility"] == "eligible"
    closed = api.post("/api/v1/assessments", body(payment_date=iso_days_ago(15))).json
    assert closed["refund"]["window_ends"] == iso_days_ago(1)
    assert closed["refund"]["eligibility"] == "not_eligible"


@pytest.mark.parametrize(("changes", "field"), [
    ({"payment_date": "2099-01-01"}, "payment_date"),
    ({"payment_date": "2026-02-30"}, "payment_date"),
    ({"trial_start_date": "2099-01-01", "payment_date": None}, "trial_start_date"),
    ({"timezone": "Europe/Atlantis"}, "timezone"),
    ({"amount": {"value": "-5.00", "currency": "AUD"}}, "amount.value"),
    ({"amount": {"value": "5.001", "currency": "AUD"}}, "amount.value"),
    ({"amount": {"value": 5, "currency": "AUD"}}, "amount.value"),
    ({"amount": {"value": "5.00", "currency": "ZZZ"}}, "amount.currency"),
    ({"certificate_earned": "yes"}, "certificate_earned"),
    ({"country": 61}, "country"),
    ({"plan": "x" * 10_000}, "plan"),
    ({"requested_outcome": "refund_only"}, "requested_outcome"),
    ({"billing_channel": "paypal"}, "billing_channel"),
    ({"colour": "red"}, "colour"),
    ({"amount": {"value": "5.00", "currency": "AUD", "tip": 1}}, "amount.tip"),
])
def test_bad_fields_are_422_in_the_contract_shape(api: JsonClient, changes: dict[str, Any], field: str) -> None:
    reply = api.post("/api/v1/assessments", body(**changes))
    assert reply.status == 422, reply.body
    assert reply.json["error"] == "validation_failed"
    assert field in reply.json["fields"]
    assert reply.json["message"]


def test_unknown_field_says_so(api: JsonClient) -> None:
    reply = api.post("/api/v1/assessments", body(colour="red"))
    assert reply.json["fields"] == {"colour": "unknown field"}


def test_a_trial_on_a_plan_without_one_is_422(api: JsonClient) -> None:
    reply = api.post("/api/v1/assessments", body(plan="course-one-time", payment_date=None,
                                                 trial_start_date=iso_days_ago(2)))
    assert reply.status == 422
    assert "trial_start_date" in reply.json["fields"]


def test_field_problems_come_before_unknown_slugs(api: JsonClient) -> None:
    reply = api.post("/api/v1/assessments", body(provider="netflux", payment_date="2099-01-01"))
    assert reply.status == 422
    reply = api.post("/api/v1/assessments", body(provider="netflux"))
    assert (reply.status, reply.json["error"]) == (404, "unknown_provider")
    assert "coursera" in reply.json["known"]
    reply = api.post("/api/v1/assessments", body(plan="coursera-forever"))
    assert (reply.status, reply.json["error"]) == (404, "unknown_plan")
    assert "coursera-plus-annual" in reply.json["known"]


@pytest.mark.parametrize(("raw", "content_type"), [
    (b"{not json", "application/json"),
    (b"[1, 2, 3]", "application/json"),
    (b'"a string"', "application/json"),
    (b"", "application/json"),
    (b'{"provider": "coursera"}', "text/plain"),
])
def test_malformed_bodies_are_400(api: JsonClient, raw: bytes, content_type: str) -> None:
    reply = api.post("/api/v1/assessments", raw=raw, headers={"Content-Type": content_type})
    assert reply.status == 400
    assert reply.json["error"] == "bad_request"


def test_bodies_over_64_kib_are_413(api: JsonClient) -> None:
    reply = api.post("/api/v1/assessments", raw=b'{"x": "' + b"a" * 70_000 + b'"}')
    assert reply.status == 413
    assert reply.json["error"] == "too_large"


def test_api_errors_are_never_html(api: JsonClient) -> None:
    for method, path in (("GET", "/api/v1/nothing"), ("DELETE", "/api/v1/providers"), ("GET", "/api/v1/assessments")):
        reply = api.request(method, path)
        assert reply.headers["content-type"].startswith("application/json"), path
        assert set(reply.json) >= {"error", "message"}


def test_openapi_is_generated_from_the_validating_models(api: JsonClient) -> None:
    spec = api.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.1")
    assert {"/api/v1/providers", "/api/v1/providers/{slug}", "/api/v1/assessments"} <= set(spec["paths"])
    request_schema = spec["components"]["schemas"]["AssessmentRequest"]
    assert request_schema["additionalProperties"] is False
    assert set(request_schema["required"]) == {"provider", "plan", "billing_channel", "country", "requested_outcome"}
    amount = spec["components"]["schemas"]["Amount"]
    assert set(amount["properties"]) == {"value", "currency"}
    assert "AssessmentOut" in spec["components"]["schemas"]
