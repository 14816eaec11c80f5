"""Any valid combination of facts gives a well-formed assessment that keeps the contract's invariants."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from casework.assess import AssessmentFacts, assess
from casework.catalog import Plan, Provider, default_catalog

PROVIDERS = [p for p in default_catalog().providers.values()]
ORDER = {"refund_window_end": 0, "trial_end": 1, "renewal": 2}
WARNING_ORDER = ["app_store_billing", "certificate_voids_refund", "refund_window_closed",
                 "terms_violation_may_deny_refund", "monthly_not_refundable", "non_refundable_product",
                 "trial_charge_imminent", "payment_date_stale", "foreign_transaction_fees"]
REFUND_CODES = set(WARNING_ORDER[1:6])


@st.composite
def cases(draw: st.DrawFn) -> tuple[AssessmentFacts, Provider, date]:
    """Facts as intake lets them through: dates not in the future, trials only where the plan has days."""
    provider: Provider = draw(st.sampled_from(PROVIDERS))
    plan: Plan = draw(st.sampled_from(provider.plans))
    today = draw(st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)))
    own = provider.consumer_supplied_terms
    company_trial = draw(st.none() | st.integers(1, 366)) if own else None
    company_window = draw(st.none() | st.integers(1, 366)) if own else None
    trial_days = company_trial if own else plan.trial_days
    past = st.integers(0, 900).map(lambda n: today - timedelta(days=n))
    payment = draw(st.none() | past)
    trial_start = draw(past) if trial_days and draw(st.booleans()) else None
    if payment is None and trial_start is None:
        payment = draw(past)
    if payment is not None and trial_start is not None and trial_days:
        trial_start = None if payment >= trial_start + timedelta(days=trial_days) else trial_start
        payment = None if trial_start is not None else payment  # intake: a payment before the charge is a 422
    facts = AssessmentFacts(
        provider=provider.slug,
        plan=plan.slug,
        billing_channel=draw(st.sampled_from(["direct", "apple_app_store", "google_play"])),
        country=draw(st.sampled_from(["US", "AU", "GB", "DE", "JP", "PA", "AQ"])),
        requested_outcome=draw(st.sampled_from(["cancel", "cancel_and_refund"])),
        payment_date=payment,
        trial_start_date=trial_start,
        next_renewal_date=draw(st.none() | st.integers(0, 400).map(lambda n: today + timedelta(days=n))),
        certificate_earned=draw(st.booleans()),
        amount_currency=draw(st.none() | st.sampled_from(["USD", "AUD", "EUR", "GBP", "JPY"])),
        company_trial_days=company_trial,
        company_refund_window_days=company_window,
    )
    return facts, provider, today


@given(cases())
def test_every_valid_case_keeps_the_contract(case: tuple[AssessmentFacts, Provider, date]) -> None:
    facts, provider, today = case
    result = assess(facts, provider, today)
    plan = provider.plan(facts.plan)
    assert plan is not None
    app_store = facts.billing_channel != "direct"
    refund_asked = facts.requested_outcome == "cancel_and_refund"

    assert list(result) == ["provider", "plan", "today", "cancel_via", "refund", "deadlines", "access_until",
                            "warnings", "steps", "policy_version"]
    assert result["today"] == today.isoformat()
    assert result["policy_version"] == provider.policy_version
    assert result["cancel_via"] == {"direct": "formal_letter", "apple_app_store": "apple",
                                    "google_play": "google"}[facts.billing_channel]

    items = result["deadlines"]
    keys = [(d["date"], ORDER[d["kind"]]) for d in items]
    assert keys == sorted(keys)
    assert len({d["kind"] for d in items}) == len(items)
    for d in items:
        day = date.fromisoformat(d["date"])
        assert d["act_by"] == (day - timedelta(days=1)).isoformat()
        assert d["passed"] is (day < today)
        assert d["label"]
    kinds = {d["kind"]: date.fromisoformat(d["date"]) for d in items}
    if plan.billing == "one_time" or (app_store and facts.next_renewal_date is None):
        assert "renewal" not in kinds
    if not refund_asked or app_store or plan.refund.kind in ("non_refundable", "current_period_not_refunded"):
        assert "refund_window_end" not in kinds
    if "renewal" in kinds and facts.next_renewal_date is None:
        assert kinds["renewal"] >= today
    if "refund_window_end" in kinds:
        assert result["refund"]["window_ends"] == kinds["refund_window_end"].isoformat()

    access = result["access_until"]
    on_trial = "trial_end" in kinds and kinds["trial_end"] >= today
    if "renewal" in kinds and not on_trial:
        assert access == (kinds["renewal"] - timedelta(days=1)).isoformat()
    else:
        assert access is None

    refund = result["refund"]
    if not refund_asked:
        assert refund["eligibility"] == "not_requested"
        assert refund["reasons"] == []
    else:
        assert refund["eligibility"] in ("eligible", "not_eligible", "uncertain")
        assert refund["reasons"]
    if app_store:
        assert refund["window_ends"] is None
        assert refund["eligibility"] in ("uncertain", "not_requested")

    found = [w["code"] for w in result["warnings"]]
    assert found == [c for c in WARNING_ORDER if c in found]
    assert ("app_store_billing" in found) is app_store
    if app_store or not refund_asked:
        assert not REFUND_CODES & set(found)
    if "payment_date_stale" in found:
        assert "renewal" in kinds

    prose: list[Any] = [*refund["reasons"], *(d["label"] for d in items), *(w["message"] for w in
                        result["warnings"]), *result["steps"]]
    assert result["steps"]
    for text in prose:
        assert isinstance(text, str)
        assert text
        assert "{" not in text
        assert "unknown" not in text
