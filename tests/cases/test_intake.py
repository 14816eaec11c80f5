"""Validation of a submitted case: every problem against its dotted field, nothing guessed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from casework.cases.intake import IntakeErrors, UnknownSlug, parse_case

NOW = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)  # already the 27th in Australia
A_WEEK_AGO = (NOW.date() - dt.timedelta(days=7)).isoformat()


def body(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "provider": "coursera", "plan": "coursera-plus-annual", "billing_channel": "direct", "country": "AU",
        "payment_date": A_WEEK_AGO, "requested_outcome": "cancel_and_refund",
        "amount": {"value": "599.00", "currency": "AUD"},
        "consumer": {"name": "Jane Q. Consumer", "email": "jane@example.com"},
        "consent": {"send_in_my_name": True},
    }
    data.update(changes)
    return data


def errors_of(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(IntakeErrors) as raised:
        parse_case(data, NOW)
    return raised.value.fields


def test_a_valid_case_parses_with_the_country_zone() -> None:
    case = parse_case(body(), NOW)
    assert case.timezone == "Australia/Sydney"
    assert case.amount_value is not None
    assert str(case.amount_value) == "599.00"
    assert case.consent is True


@pytest.mark.parametrize(("changes", "field"), [
    ({"consent": {"send_in_my_name": False}}, "consent.send_in_my_name"),
    ({"consent": None}, "consent"),
    ({"consumer": {"name": "J", "email": "not-an-address"}}, "consumer.email"),
    ({"consumer": {"name": "", "email": "j@example.com"}}, "consumer.name"),
    ({"consumer": {"name": "x" * 201, "email": "j@example.com"}}, "consumer.name"),
    ({"details": "x" * 5001}, "details"),
    ({"payment_date": "2026-11-28"}, "payment_date"),
    ({"payment_date": "20/11/2026"}, "payment_date"),
    ({"payment_date": None}, "payment_date"),
    ({"country": "XX"}, "country"),
    ({"region": "US-CA"}, "region"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"amount": {"value": "5.999", "currency": "AUD"}}, "amount.value"),
    ({"amount": {"value": "0", "currency": "AUD"}}, "amount.value"),
    ({"amount": {"value": "5", "currency": "XYZ"}}, "amount.currency"),
    ({"requested_outcome": "everything"}, "requested_outcome"),
    ({"surprise": 1}, "surprise"),
    ({"consumer": {"name": "J", "email": "j@example.com", "age": 3}}, "consumer.age"),
    ({"company": {"name": "Acme", "email": "a@acme.example"}}, "company"),
    ({"provider": "other", "plan": "other-monthly"}, "company.name"),
    ({"provider": "other", "plan": "other-monthly", "company": {"name": "Acme"}}, "company.email"),
    ({"provider": "other", "plan": "other-monthly",
      "company": {"name": "Acme", "web_form_url": "javascript:alert(1)"}}, "company.web_form_url"),
])
def test_each_problem_names_its_field(changes: dict[str, Any], field: str) -> None:
    assert field in errors_of(body(**changes))


def test_all_problems_are_reported_at_once() -> None:
    fields = errors_of(body(consumer={"name": "", "email": "bad"}, consent={"send_in_my_name": False}, country="XX"))
    assert {"consumer.name", "consumer.email", "consent.send_in_my_name", "country"} <= set(fields)


def test_today_is_the_consumers_date() -> None:
    # 03:00 UTC on the 27th is still the 26th in New York: the 27th is in the future there.
    assert "payment_date" in errors_of(body(country="US", payment_date="2026-11-27"))
    assert parse_case(body(country="AU", payment_date="2026-11-27"), NOW).payment_date == dt.date(2026, 11, 27)


def test_trial_rules() -> None:
    assert "trial_start_date" in errors_of(body(plan="course-one-time", payment_date=None,
                                                trial_start_date="2026-11-25"))
    assert "payment_date" in errors_of(body(trial_start_date="2026-11-20", payment_date="2026-11-22"))
    over = parse_case(body(trial_start_date="2026-11-01", payment_date="2026-11-20"), NOW)
    assert over.trial_start_date is None  # the trial is over; the payment decides
    trial = parse_case(body(trial_start_date="2026-11-25", payment_date=None), NOW)
    assert trial.trial_start_date == dt.date(2026, 11, 25)


def test_unknown_slugs_are_told_apart_from_bad_fields() -> None:
    with pytest.raises(UnknownSlug) as raised:
        parse_case(body(plan="coursera-forever"), NOW)
    assert raised.value.what == "plan"
    assert "coursera-plus-annual" in raised.value.known
    # A bad field is reported first, even with an unknown slug.
    assert "consumer.email" in errors_of(body(plan="coursera-forever", consumer={"name": "J", "email": "x"}))


def test_another_company_keeps_its_channels() -> None:
    case = parse_case(body(provider="other", plan="other-monthly", company={
        "name": "Acme", "email": "Cancel@Acme.example", "trial_days": 14}), NOW)
    assert case.company == {"name": "Acme", "email": "Cancel@acme.example", "trial_days": 14}
