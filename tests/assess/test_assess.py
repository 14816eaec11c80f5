"""The assessment engine against POLICY-FACTS §1 (one table per rule) and the response contract of API.md."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from casework.assess import AssessmentFacts, assess
from casework.catalog import Provider, default_catalog, load_catalog

TODAY = date(2026, 11, 27)
PAID = date(2026, 11, 20)


def catalog_entry(slug: str) -> Provider:
    provider = default_catalog().get(slug)
    assert provider is not None
    return provider


COURSERA = catalog_entry("coursera")
OTHER = catalog_entry("other")
MONTHLY = ("coursera-plus-monthly", "specialization-monthly", "professional-certificate-monthly")
NEVER_REFUNDED = ("specialization-monthly", "professional-certificate-monthly", "guided-project")
REFUND_CODES = ("certificate_voids_refund", "refund_window_closed", "terms_violation_may_deny_refund",
                "monthly_not_refundable", "non_refundable_product")
API_WARNING_ORDER = ("app_store_billing", *REFUND_CODES, "trial_charge_imminent", "payment_date_stale",
                     "foreign_transaction_fees")


def run(plan: str = "coursera-plus-annual", today: date = TODAY, provider: Provider = COURSERA,
        **changes: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "provider": provider.slug, "plan": plan, "billing_channel": "direct", "country": "US",
        "requested_outcome": "cancel_and_refund", "payment_date": PAID,
    }
    facts.update(changes)
    return assess(AssessmentFacts(**facts), provider, today)


def trial(start: date, plan: str = "coursera-plus-monthly", **changes: Any) -> dict[str, Any]:
    return run(plan, payment_date=None, trial_start_date=start, **changes)


def codes(result: dict[str, Any]) -> list[str]:
    return [w["code"] for w in result["warnings"]]


def deadlines(result: dict[str, Any]) -> dict[str, tuple[str, str, bool]]:
    return {d["kind"]: (d["date"], d["act_by"], d["passed"]) for d in result["deadlines"]}


# --- The response contract -------------------------------------------------------------------------------------

def test_the_contract_example_field_by_field() -> None:
    result = run(country="AU", amount_value=Decimal("599.00"), amount_currency="AUD")
    assert list(result) == ["provider", "plan", "today", "cancel_via", "refund", "deadlines", "access_until",
                            "warnings", "steps", "policy_version"]
    assert result["provider"] == {"slug": "coursera", "name": "Coursera"}
    assert result["plan"] == {"slug": "coursera-plus-annual", "name": "Coursera Plus (annual)"}
    assert result["today"] == "2026-11-27"
    assert result["cancel_via"] == "formal_letter"
    assert list(result["refund"]) == ["eligibility", "window_ends", "reasons"]
    assert result["refund"]["eligibility"] == "eligible"
    assert result["refund"]["window_ends"] == "2026-12-04"
    assert result["refund"]["reasons"]
    assert all(isinstance(r, str) for r in result["refund"]["reasons"])
    assert [list(d) for d in result["deadlines"]] == [["kind", "date", "act_by", "passed", "label"]] * 2
    assert [(d["kind"], d["date"], d["act_by"], d["passed"]) for d in result["deadlines"]] == [
        ("refund_window_end", "2026-12-04", "2026-12-03", False),
        ("renewal", "2027-11-20", "2027-11-19", False),
    ]
    assert all(d["label"] for d in result["deadlines"])
    assert result["access_until"] == "2027-11-19"
    assert result["warnings"] == [{"code": "terms_violation_may_deny_refund",
                                   "message": COURSERA.warnings.terms_violation_may_deny_refund.text}]
    assert result["steps"]
    assert all(isinstance(s, str) and s for s in result["steps"])
    assert result["policy_version"] == "coursera@2026-02-06"


def test_the_worked_example_of_the_date_conventions() -> None:
    refund = run("course-one-time")
    assert deadlines(refund)["refund_window_end"] == ("2026-12-04", "2026-12-03", False)
    monthly = run("specialization-monthly", requested_outcome="cancel")
    assert deadlines(monthly)["renewal"] == ("2026-12-20", "2026-12-19", False)
    assert monthly["access_until"] == "2026-12-19"
    on_trial = trial(date(2026, 11, 1), today=date(2026, 11, 5))
    assert deadlines(on_trial) == {"trial_end": ("2026-11-07", "2026-11-06", False),
                                   "renewal": ("2026-11-08", "2026-11-07", False)}


@pytest.mark.parametrize(("today", "eligibility", "passed", "closed"), [
    (date(2026, 12, 3), "eligible", False, False),
    (date(2026, 12, 4), "eligible", False, False),  # the last day is in time, though act_by has gone
    (date(2026, 12, 5), "not_eligible", True, True),
])
def test_the_window_boundary(today: date, eligibility: str, passed: bool, closed: bool) -> None:
    result = run("course-one-time", today=today)
    assert result["refund"]["eligibility"] == eligibility
    assert result["refund"]["window_ends"] == "2026-12-04"  # still given once the window has closed
    assert deadlines(result)["refund_window_end"] == ("2026-12-04", "2026-12-03", passed)
    assert ("refund_window_closed" in codes(result)) is closed


@pytest.mark.parametrize(("channel", "cancel_via"), [
    ("direct", "formal_letter"), ("apple_app_store", "apple"), ("google_play", "google"),
])
def test_cancel_via(channel: str, cancel_via: str) -> None:
    assert run(billing_channel=channel)["cancel_via"] == cancel_via


def test_deadlines_sort_by_date_then_kind() -> None:
    # Trial over without a payment: first charge 2026-11-13, so the window and the renewal follow it.
    result = trial(date(2026, 11, 6), plan="coursera-plus-annual", today=date(2026, 11, 27))
    assert [d["kind"] for d in result["deadlines"]] == ["trial_end", "refund_window_end", "renewal"]
    # Equal dates: refund_window_end, trial_end, renewal.
    same_day = run("coursera-plus-monthly", payment_date=date(2026, 11, 20), next_renewal_date=date(2026, 12, 4))
    assert [(d["kind"], d["date"]) for d in same_day["deadlines"]] == [
        ("refund_window_end", "2026-12-04"), ("renewal", "2026-12-04")]
    on_trial = trial(date(2026, 11, 25), today=date(2026, 11, 27), next_renewal_date=date(2026, 12, 1))
    assert [(d["kind"], d["date"]) for d in on_trial["deadlines"]] == [
        ("trial_end", "2026-12-01"), ("renewal", "2026-12-01")]


def test_a_deadline_due_today_is_not_passed_and_act_today() -> None:
    result = run("coursera-plus-monthly", requested_outcome="cancel", payment_date=date(2026, 10, 27))
    assert deadlines(result)["renewal"] == ("2026-11-27", "2026-11-26", False)
    assert any(step.startswith("Act by today") for step in result["steps"])


def test_a_passed_deadline_is_still_listed() -> None:
    result = run("guided-project", requested_outcome="cancel")
    assert result["deadlines"] == []
    closed = run("course-one-time", payment_date=date(2026, 10, 1))
    assert deadlines(closed)["refund_window_end"] == ("2026-10-15", "2026-10-14", True)


# --- POLICY-FACTS §1, rule by rule -------------------------------------------------------------------------------

@pytest.mark.parametrize(("plan", "changes", "eligibility", "window_ends"), [
    # the plan table and rules 2, 3, 4, 7
    ("course-one-time", {}, "eligible", "2026-12-04"),
    ("specialization-one-time", {}, "eligible", "2026-12-04"),
    ("coursera-plus-monthly", {}, "uncertain", "2026-12-04"),
    ("coursera-plus-annual", {}, "eligible", "2026-12-04"),
    ("specialization-monthly", {}, "not_eligible", None),
    ("professional-certificate-monthly", {}, "not_eligible", None),
    ("guided-project", {}, "not_eligible", None),
    ("course-one-time", {"payment_date": date(2026, 11, 12)}, "not_eligible", "2026-11-26"),
    ("coursera-plus-monthly", {"payment_date": date(2026, 11, 12)}, "not_eligible", "2026-11-26"),
    ("coursera-plus-annual", {"payment_date": date(2026, 11, 12)}, "not_eligible", "2026-11-26"),
    ("course-one-time", {"certificate_earned": True}, "not_eligible", "2026-12-04"),
    ("specialization-one-time", {"certificate_earned": True}, "not_eligible", "2026-12-04"),
    ("coursera-plus-monthly", {"certificate_earned": True}, "not_eligible", "2026-12-04"),
    ("coursera-plus-annual", {"certificate_earned": True}, "not_eligible", "2026-12-04"),
    # rule 9 and the "cancel" outcome
    ("course-one-time", {"billing_channel": "apple_app_store"}, "uncertain", None),
    ("guided-project", {"billing_channel": "google_play"}, "uncertain", None),
    ("course-one-time", {"requested_outcome": "cancel"}, "not_requested", "2026-12-04"),
    ("specialization-monthly", {"requested_outcome": "cancel"}, "not_requested", None),
])
def test_refund_by_plan(plan: str, changes: dict[str, Any], eligibility: str, window_ends: str | None) -> None:
    refund = run(plan, **changes)["refund"]
    assert (refund["eligibility"], refund["window_ends"]) == (eligibility, window_ends)
    assert (refund["reasons"] == []) is (eligibility == "not_requested")


def test_rule_1_no_cancellation_fee() -> None:
    assert COURSERA.rules.no_fee is not None
    assert COURSERA.rules.no_fee.text in run()["steps"]
    assert COURSERA.rules.no_fee.text not in run(billing_channel="apple_app_store")["steps"]


@pytest.mark.parametrize("plan", ["course-one-time", "specialization-one-time", "coursera-plus-monthly",
                                  "coursera-plus-annual"])
def test_rule_2_fourteen_days_from_the_payment(plan: str) -> None:
    result = run(plan, payment_date=date(2026, 1, 31), today=date(2026, 2, 10))
    assert result["refund"]["window_ends"] == "2026-02-14"
    assert result["refund"]["reasons"][0].startswith(("A single", "A one-time", "Coursera Plus"))
    late = run(plan, payment_date=date(2026, 1, 31), today=date(2026, 2, 15))
    assert late["refund"]["eligibility"] == "not_eligible"
    assert "The 14-day refund window ended on 2026-02-14" in " ".join(late["refund"]["reasons"])


@pytest.mark.parametrize(("plan", "voids"), [
    ("course-one-time", True), ("specialization-one-time", True), ("coursera-plus-monthly", True),
    ("coursera-plus-annual", True), ("specialization-monthly", False), ("professional-certificate-monthly", False),
    ("guided-project", False),
])
def test_rule_3_a_certificate_voids_the_refund(plan: str, voids: bool) -> None:
    result = run(plan, certificate_earned=True)
    assert ("certificate_voids_refund" in codes(result)) is voids
    assert (COURSERA.rules.certificate.text in result["refund"]["reasons"]) is voids
    assert "certificate_voids_refund" not in codes(run(plan, certificate_earned=True, requested_outcome="cancel"))


@pytest.mark.parametrize("plan", MONTHLY)
def test_rule_4_monthly_periods_are_not_refunded(plan: str) -> None:
    result = run(plan)
    assert "monthly_not_refundable" in codes(result)
    assert result["refund"]["reasons"][-1] == COURSERA.rules.periods_not_refunded.text
    assert deadlines(result)["renewal"][0] == "2026-12-20"
    assert result["access_until"] == "2026-12-19"  # access continues to the end of the paid period
    assert "monthly_not_refundable" not in codes(run(plan, requested_outcome="cancel"))


def test_rule_4_coursera_plus_monthly_says_both() -> None:
    reasons = run("coursera-plus-monthly")["refund"]["reasons"]
    assert len(reasons) == 2
    assert "14-day money-back guarantee" in reasons[0]
    assert "not refundable" in reasons[1]


def test_rule_5_annual_renews_a_year_after_the_payment() -> None:
    result = run("coursera-plus-annual", requested_outcome="cancel")
    assert deadlines(result)["renewal"] == ("2027-11-20", "2027-11-19", False)
    assert result["access_until"] == "2027-11-19"
    assert COURSERA.rules.access.text.format(access_until="2027-11-19") in result["steps"]


@pytest.mark.parametrize("plan", ["coursera-plus-monthly", "coursera-plus-annual", "specialization-monthly",
                                  "professional-certificate-monthly"])
def test_rule_6_a_seven_day_trial(plan: str) -> None:
    result = trial(date(2026, 11, 21), plan=plan)
    assert deadlines(result) == {"trial_end": ("2026-11-27", "2026-11-26", False),
                                 "renewal": ("2026-11-28", "2026-11-27", False)}
    assert result["access_until"] is None
    assert result["refund"] == {"eligibility": "not_eligible", "window_ends": None,
                                "reasons": ["nothing has been charged yet; cancel before the trial ends"]}
    assert "trial_charge_imminent" in codes(result)
    assert "terms_violation_may_deny_refund" not in codes(result)
    assert any("On the 8th day" in step for step in result["steps"])


def test_rule_6_a_trial_that_is_over_was_charged_on_its_eighth_day() -> None:
    result = trial(date(2026, 11, 1), plan="coursera-plus-annual", today=date(2026, 11, 20))
    assert deadlines(result) == {"trial_end": ("2026-11-07", "2026-11-06", True),
                                 "refund_window_end": ("2026-11-22", "2026-11-21", False),
                                 "renewal": ("2027-11-08", "2027-11-07", False)}
    assert result["refund"]["eligibility"] == "eligible"
    assert result["access_until"] == "2027-11-07"
    assert "payment_date_stale" in codes(result)
    assert "trial_charge_imminent" not in codes(result)


def test_rule_6_the_charge_day_itself_ends_the_trial() -> None:
    last_day = trial(date(2026, 11, 1), today=date(2026, 11, 7))
    assert last_day["refund"]["eligibility"] == "not_eligible"
    assert last_day["access_until"] is None
    charged = trial(date(2026, 11, 1), today=date(2026, 11, 8))
    assert charged["refund"]["eligibility"] == "uncertain"
    assert deadlines(charged)["renewal"][0] == "2026-12-08"
    assert charged["access_until"] == "2026-12-07"


def test_rule_7_guided_projects_are_not_refunded() -> None:
    result = run("guided-project")
    assert codes(result) == ["non_refundable_product"]
    assert "commonly" in result["refund"]["reasons"][0]
    assert result["deadlines"] == []
    assert result["access_until"] is None


@pytest.mark.parametrize(("plan", "changes", "warned"), [
    ("course-one-time", {}, True),  # eligible
    ("coursera-plus-monthly", {}, True),  # uncertain
    ("course-one-time", {"certificate_earned": True}, False),  # not eligible
    ("guided-project", {}, False),
    ("course-one-time", {"requested_outcome": "cancel"}, False),
    ("course-one-time", {"billing_channel": "apple_app_store"}, False),
])
def test_rule_8_terms_violation_may_deny_refund(plan: str, changes: dict[str, Any], warned: bool) -> None:
    assert ("terms_violation_may_deny_refund" in codes(run(plan, **changes))) is warned


@pytest.mark.parametrize("channel", ["apple_app_store", "google_play"])
@pytest.mark.parametrize("plan", [p.slug for p in COURSERA.plans])
def test_rule_9_app_store_billing(channel: str, plan: str) -> None:
    result = run(plan, billing_channel=channel, certificate_earned=True, payment_date=date(2025, 1, 1))
    assert codes(result)[0] == "app_store_billing"
    assert not set(REFUND_CODES) & set(codes(result))
    assert result["refund"]["eligibility"] == "uncertain"
    assert result["refund"]["window_ends"] is None
    platform = "Apple" if channel == "apple_app_store" else "Google"
    assert platform in result["refund"]["reasons"][0]
    assert result["deadlines"] == []
    assert result["access_until"] is None
    assert any(step.startswith(f"Cancel in {platform}'s subscription settings") for step in result["steps"])


def test_rule_9_app_store_renewal_only_when_given() -> None:
    result = run("coursera-plus-monthly", billing_channel="google_play", next_renewal_date=date(2026, 12, 20))
    assert [d["kind"] for d in result["deadlines"]] == ["renewal"]
    assert result["access_until"] == "2026-12-19"
    one_time = run("course-one-time", billing_channel="google_play", next_renewal_date=date(2026, 12, 20))
    assert one_time["deadlines"] == []
    on_trial = trial(date(2026, 11, 25), billing_channel="apple_app_store")
    assert [d["kind"] for d in on_trial["deadlines"]] == ["trial_end"]
    assert codes(on_trial) == ["app_store_billing"]


def test_rule_10_self_serve_steps_fit_the_purchase() -> None:
    assert COURSERA.self_serve is not None
    subscription = " ".join(run("coursera-plus-monthly")["steps"])
    assert "Cancel subscription" in subscription
    assert "Withdraw" not in subscription
    one_time = " ".join(run("course-one-time")["steps"])
    assert "Withdraw" in one_time
    assert "Cancel subscription" not in one_time
    assert COURSERA.self_serve.fallback in run("guided-project")["steps"]
    assert COURSERA.self_serve_steps[0].startswith("Log in")


def test_rule_11_act_at_least_a_day_before() -> None:
    steps = trial(date(2026, 11, 21), today=date(2026, 11, 26))["steps"]
    assert steps[0].startswith("Act by 2026-11-26, at least 1 day before 2026-11-27")
    for d in run("coursera-plus-monthly", payment_date=date(2026, 11, 1), today=date(2026, 11, 2))["deadlines"]:
        assert date.fromisoformat(d["act_by"]) == date.fromisoformat(d["date"]) - timedelta(days=1)
    assert deadlines(run("course-one-time", payment_date=date(2026, 2, 15), today=date(2026, 2, 20)))[
        "refund_window_end"][:2] == ("2026-03-01", "2026-02-28")


@pytest.mark.parametrize(("country", "currency", "warned"), [
    ("US", "USD", False), ("US", "usd", False), ("AU", "USD", True), ("DE", "EUR", False), ("GB", "EUR", True),
    ("PA", "USD", False),  # legal tender there too
    ("AU", None, False), ("AQ", "USD", False),  # no currency given; a territory without one
])
def test_rule_12_foreign_transaction_fees(country: str, currency: str | None, warned: bool) -> None:
    result = run(country=country, amount_currency=currency, amount_value=Decimal("10.00") if currency else None)
    assert ("foreign_transaction_fees" in codes(result)) is warned
    if warned:
        assert result["warnings"][-1]["code"] == "foreign_transaction_fees"
        assert currency in result["warnings"][-1]["message"]


def test_rule_13_australia_follows_the_global_terms() -> None:
    note = COURSERA.country_notes[0]
    assert note.country == "AU"
    assert note.rule.text in run(country="AU")["steps"]
    assert note.rule.text not in run(country="GB")["steps"]


@pytest.mark.parametrize(("changes", "said"), [
    ({}, True), ({"plan": "coursera-plus-monthly"}, True), ({"plan": "guided-project"}, False),
    ({"requested_outcome": "cancel"}, False), ({"billing_channel": "google_play"}, False),
])
def test_rule_14_refunds_take_up_to_seven_days(changes: dict[str, Any], said: bool) -> None:
    assert COURSERA.rules.refund_time is not None
    assert (COURSERA.rules.refund_time.text in run(**changes)["steps"]) is said


def test_rule_15_the_letter_goes_through_the_help_center_form() -> None:
    steps = run()["steps"]
    assert any("Learner Help Center request form" in step for step in steps)
    assert any("not through My Purchases" in step for step in steps)  # Coursera Plus annual refunds
    assert not any("not through My Purchases" in step for step in run("coursera-plus-monthly")["steps"])
    assert not any("request form" in step for step in run(billing_channel="apple_app_store")["steps"])


# --- Warnings: each code's trigger, and their order --------------------------------------------------------------

@pytest.mark.parametrize(("code", "raised", "quiet"), [
    ("app_store_billing", {"billing_channel": "apple_app_store"}, {"billing_channel": "direct"}),
    ("certificate_voids_refund", {"plan": "course-one-time", "certificate_earned": True},
     {"plan": "guided-project", "certificate_earned": True}),
    ("refund_window_closed", {"payment_date": date(2026, 11, 12)}, {"payment_date": date(2026, 11, 13)}),
    ("terms_violation_may_deny_refund", {"plan": "course-one-time"}, {"plan": "specialization-monthly"}),
    ("monthly_not_refundable", {"plan": "coursera-plus-monthly"}, {"plan": "coursera-plus-annual"}),
    ("non_refundable_product", {"plan": "guided-project"}, {"plan": "course-one-time"}),
    ("trial_charge_imminent", {"payment_date": None, "trial_start_date": date(2026, 11, 21)},
     {"payment_date": None, "trial_start_date": date(2026, 11, 23)}),
    ("payment_date_stale", {"payment_date": date(2026, 10, 26)}, {"payment_date": date(2026, 10, 27)}),
    ("foreign_transaction_fees", {"amount_currency": "EUR"}, {"amount_currency": "USD"}),
])
def test_each_warning_has_its_trigger(code: str, raised: dict[str, Any], quiet: dict[str, Any]) -> None:
    base = {"plan": "coursera-plus-monthly"}
    hit = run(**{**base, **raised})
    assert code in codes(hit)
    message = next(w["message"] for w in hit["warnings"] if w["code"] == code)
    assert message
    assert "{" not in message
    assert code not in codes(run(**{**base, **quiet}))


@pytest.mark.parametrize(("start", "today", "imminent"), [
    (date(2026, 11, 21), date(2026, 11, 27), True),  # last day today
    (date(2026, 11, 22), date(2026, 11, 27), True),  # last day tomorrow
    (date(2026, 11, 23), date(2026, 11, 27), False),
    (date(2026, 11, 20), date(2026, 11, 27), False),  # charged today: no longer a trial
])
def test_trial_charge_imminent_window(start: date, today: date, imminent: bool) -> None:
    result = trial(start, today=today, requested_outcome="cancel")
    assert ("trial_charge_imminent" in codes(result)) is imminent


def test_warnings_come_in_the_order_of_the_api() -> None:
    many = run("coursera-plus-monthly", payment_date=date(2026, 8, 3), certificate_earned=True,
               amount_currency="EUR")
    assert codes(many) == ["certificate_voids_refund", "refund_window_closed", "monthly_not_refundable",
                           "payment_date_stale", "foreign_transaction_fees"]
    app = trial(date(2026, 11, 21), billing_channel="google_play", amount_currency="GBP")
    assert codes(app) == ["app_store_billing", "trial_charge_imminent", "foreign_transaction_fees"]
    plus = run("coursera-plus-monthly", payment_date=date(2026, 10, 20), amount_currency="JPY")
    assert codes(plus) == ["refund_window_closed", "monthly_not_refundable", "payment_date_stale",
                           "foreign_transaction_fees"]
    uncertain = run("coursera-plus-monthly")
    assert codes(uncertain) == ["terms_violation_may_deny_refund", "monthly_not_refundable"]
    for result in (many, app, plus, uncertain):
        assert codes(result) == [c for c in API_WARNING_ORDER if c in codes(result)]


# --- Stale payment dates and month ends --------------------------------------------------------------------------

@pytest.mark.parametrize(("plan", "paid", "today", "renewal", "stale"), [
    ("specialization-monthly", date(2026, 1, 31), date(2026, 2, 10), "2026-02-28", False),
    ("specialization-monthly", date(2026, 1, 31), date(2026, 3, 1), "2026-03-31", True),  # from the 31st again
    ("specialization-monthly", date(2026, 1, 31), date(2026, 3, 31), "2026-03-31", True),
    ("specialization-monthly", date(2026, 1, 31), date(2026, 4, 1), "2026-04-30", True),
    ("specialization-monthly", date(2027, 12, 31), date(2028, 2, 1), "2028-02-29", True),  # leap year
    ("specialization-monthly", date(2025, 11, 27), date(2026, 11, 27), "2026-11-27", True),
    ("coursera-plus-annual", date(2024, 2, 29), date(2024, 3, 1), "2025-02-28", False),
    ("coursera-plus-annual", date(2024, 2, 29), date(2026, 11, 27), "2027-02-28", True),
    ("coursera-plus-annual", date(2024, 2, 29), date(2027, 3, 1), "2028-02-29", True),  # back to the 29th
])
def test_renewal_rolls_forward_from_the_original_day(plan: str, paid: date, today: date, renewal: str,
                                                     stale: bool) -> None:
    result = run(plan, payment_date=paid, today=today, requested_outcome="cancel")
    assert deadlines(result)["renewal"][0] == renewal
    assert ("payment_date_stale" in codes(result)) is stale
    assert result["access_until"] == (date.fromisoformat(renewal) - timedelta(days=1)).isoformat()


def test_a_next_renewal_date_given_wins() -> None:
    result = run("coursera-plus-monthly", payment_date=date(2026, 1, 5), next_renewal_date=date(2026, 12, 2))
    assert deadlines(result)["renewal"][0] == "2026-12-02"
    assert "payment_date_stale" not in codes(result)
    assert result["access_until"] == "2026-12-01"


def test_one_time_purchases_have_no_renewal() -> None:
    for plan in ("course-one-time", "specialization-one-time", "guided-project"):
        result = run(plan, next_renewal_date=date(2026, 12, 20), requested_outcome="cancel")
        assert result["deadlines"] == []
        assert result["access_until"] is None


def test_no_refund_window_deadline_for_cancel_or_plans_never_refunded() -> None:
    assert "refund_window_end" not in deadlines(run(requested_outcome="cancel"))
    for plan in NEVER_REFUNDED:
        assert "refund_window_end" not in deadlines(run(plan))


# --- The pseudo-provider "other" and data-driven providers -------------------------------------------------------

@pytest.mark.parametrize("plan", ["other-monthly", "other-annual", "other-one-time"])
def test_other_is_uncertain_without_a_window(plan: str) -> None:
    result = run(plan, provider=OTHER)
    assert result["refund"]["eligibility"] == "uncertain"
    assert result["refund"]["window_ends"] is None
    assert result["refund"]["reasons"]
    assert result["policy_version"] == "general@1"
    assert result["provider"] == {"slug": "other", "name": OTHER.name}
    assert codes(result) == []  # no company policy known, so no policy warnings
    assert "refund_window_end" not in deadlines(result)


def test_other_uses_the_companys_window_and_trial() -> None:
    result = run("other-monthly", provider=OTHER, company_refund_window_days=30)
    assert result["refund"]["window_ends"] == "2026-12-20"
    assert deadlines(result)["refund_window_end"] == ("2026-12-20", "2026-12-19", False)
    assert result["refund"]["eligibility"] == "uncertain"
    late = run("other-monthly", provider=OTHER, company_refund_window_days=3)
    assert late["refund"]["eligibility"] == "not_eligible"
    assert codes(late) == ["refund_window_closed"]
    on_trial = run("other-annual", provider=OTHER, payment_date=None, trial_start_date=date(2026, 11, 20),
                   company_trial_days=14)
    assert deadlines(on_trial) == {"trial_end": ("2026-12-03", "2026-12-02", False),
                                   "renewal": ("2026-12-04", "2026-12-03", False)}
    assert on_trial["refund"]["eligibility"] == "not_eligible"


GENERIC = """
slug = "acme"
name = "Acme"
legal_name = "Acme Ltd"
country = "GB"
policy_version = "acme@2026-01-01"
[[sources]]
id = "terms"
title = "Acme terms"
checked_on = 2026-11-01
[[plans]]
slug = "acme-monthly"
name = "Monthly"
billing = "monthly"
trial_days = 30
[plans.refund]
kind = "within_window"
window_days = 30
source = "terms"
reason = "Acme refunds within 30 days, by {window_ends}."
[[cancel_channels]]
kind = "email"
address = "cancel@acme.example"
source = "terms"
[labels]
renewal = "Acme renews"
"""


def test_a_new_company_is_assessed_from_its_data_alone(tmp_path: Path) -> None:
    (tmp_path / "acme.toml").write_text(GENERIC)
    acme = load_catalog(tmp_path).get("acme")
    assert acme is not None
    result = run("acme-monthly", provider=acme)
    assert result["refund"] == {"eligibility": "eligible", "window_ends": "2026-12-20",
                                "reasons": ["Acme refunds within 30 days, by 2026-12-20."]}
    assert codes(result) == []  # no terms rule, periods refunded
    assert deadlines(result)["renewal"][0] == "2026-12-20"
    assert result["deadlines"][-1]["label"] == "Acme renews"
    on_trial = run("acme-monthly", provider=acme, payment_date=None, trial_start_date=date(2026, 11, 1))
    assert deadlines(on_trial)["trial_end"][0] == "2026-11-30"


def test_the_engine_reads_only_the_catalog() -> None:
    """A Coursera entry with the terms rule switched off stops warning about it: no slug checks in the engine."""
    relaxed = replace(COURSERA, terms_violation_may_deny_refund=False)
    assert "terms_violation_may_deny_refund" not in codes(run(provider=relaxed))
    renamed = replace(COURSERA, slug="not-coursera")
    assert run(provider=renamed)["refund"] == run()["refund"]


def test_an_unknown_plan_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="no plan"):
        run("coursera-forever")
