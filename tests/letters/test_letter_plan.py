"""When a cancellation letter is written, and why not (POLICY-FACTS §2, "What the letter asks"): the pure rule,
the rule fed by real assessments of the catalog's plans, and the assessment's steps that follow it."""

from __future__ import annotations

from typing import Any

import pytest

from casework.assess import AssessmentFacts, assess
from casework.catalog import Provider, default_catalog
from casework.letters.plan import LetterPlan, letter_plan, letter_plan_of
from tests.support.today import TODAY, days_ago

pytestmark = pytest.mark.dates


def coursera() -> Provider:
    provider = default_catalog().get("coursera")
    assert provider is not None
    return provider


def assessed(plan: str, **changes: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {"provider": "coursera", "plan": plan, "billing_channel": "direct", "country": "AU",
                             "requested_outcome": "cancel_and_refund", "payment_date": days_ago(3)}
    facts.update(changes)
    return assess(AssessmentFacts(**facts), coursera(), TODAY)


def reason(plan: LetterPlan) -> str:
    assert plan.reason is not None
    return plan.reason


def plan_for(plan: str, **changes: Any) -> LetterPlan:
    assessment = assessed(plan, **changes)
    return letter_plan_of(changes.get("billing_channel", "direct"), "coursera", plan,
                          changes.get("requested_outcome", "cancel_and_refund"), assessment)


# --- the rule on its own ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("billing", "outcome", "eligibility"), [
    ("monthly", "cancel", "not_requested"),
    ("monthly", "cancel_and_refund", "not_eligible"),
    ("annual", "cancel_and_refund", "eligible"),
    ("one_time", "cancel_and_refund", "eligible"),
    ("one_time", "cancel_and_refund", "uncertain"),
])
def test_a_letter_is_written(billing: str, outcome: str, eligibility: str) -> None:
    assert letter_plan("direct", billing, outcome, eligibility) == LetterPlan(True)
    assert letter_plan("direct", billing, outcome, eligibility).as_json() == {"letter": True}


def test_a_one_time_purchase_without_a_refund_to_ask_for_gets_no_letter() -> None:
    refused = letter_plan("direct", "one_time", "cancel_and_refund", "not_eligible",
                          ["The general rule.", "the rule that decided it."])
    assert refused.letter is False
    assert refused.reason is not None
    assert "nothing to renew" in refused.reason
    assert "a refund is not available" in refused.reason
    assert refused.reason.endswith(" The rule that decided it.")  # the deciding reason, as a sentence
    assert refused.as_json() == {"letter": False, "reason": refused.reason}
    not_asked = letter_plan("direct", "one_time", "cancel", "not_requested")
    assert not_asked.letter is False
    assert "you did not ask for a refund" in reason(not_asked)


@pytest.mark.parametrize("channel", ["apple_app_store", "google_play"])
def test_app_store_billing_gets_no_letter(channel: str) -> None:
    for billing in ("monthly", "annual", "one_time"):
        plan = letter_plan(channel, billing, "cancel_and_refund", "uncertain")
        assert plan.letter is False
        platform = "Apple" if channel == "apple_app_store" else "Google"
        assert f"{platform} subscription settings" in reason(plan)
    with_sentence = letter_plan(channel, "monthly", "cancel", "not_requested", app_store_sentence="The catalog says.")
    assert with_sentence.reason == "No letter is written. The catalog says."


# --- fed by real assessments of the catalog's plans ----------------------------------------------------------------

def test_one_time_purchase_inside_the_window_gets_its_refund_letter() -> None:
    assert plan_for("course-one-time") == LetterPlan(True)
    assert plan_for("specialization-one-time") == LetterPlan(True)


def test_one_time_purchase_with_a_certificate_earned_gets_no_letter() -> None:
    plan = plan_for("course-one-time", certificate_earned=True)
    assert plan.letter is False
    assert "certificate" in reason(plan)


def test_one_time_purchase_past_the_window_gets_no_letter() -> None:
    plan = plan_for("course-one-time", payment_date=days_ago(30))
    assert plan.letter is False
    assert "refund window ended" in reason(plan)


def test_one_time_purchase_cancel_only_gets_no_letter() -> None:
    plan = plan_for("course-one-time", requested_outcome="cancel")
    assert plan.letter is False
    assert "did not ask for a refund" in reason(plan)


def test_guided_project_is_never_refunded_so_gets_no_letter() -> None:
    plan = plan_for("guided-project")
    assert plan.letter is False
    assert "non-refundable" in reason(plan)


@pytest.mark.parametrize("plan", ["coursera-plus-monthly", "specialization-monthly", "coursera-plus-annual"])
@pytest.mark.parametrize("outcome", ["cancel", "cancel_and_refund"])
def test_every_direct_subscription_gets_a_letter(plan: str, outcome: str) -> None:
    assert plan_for(plan, requested_outcome=outcome, certificate_earned=True) == LetterPlan(True)


def test_app_store_billing_quotes_the_catalogs_sentence() -> None:
    plan = plan_for("coursera-plus-monthly", billing_channel="apple_app_store")
    assert plan.letter is False
    assert plan.reason is not None
    assert plan.reason.startswith("No letter is written. Billed through Apple: cancel in Apple's subscription settings")


def test_another_companys_one_time_purchase_follows_the_same_rule() -> None:
    other = default_catalog().get("other")
    assert other is not None
    facts = AssessmentFacts(provider="other", plan="other-one-time", billing_channel="direct", country="AU",
                            requested_outcome="cancel_and_refund", payment_date=days_ago(30),
                            company_refund_window_days=14)
    closed = letter_plan_of("direct", "other", "other-one-time", "cancel_and_refund", assess(facts, other, TODAY))
    assert closed.letter is False
    assert "the letter asks for a refund" not in reason(closed)  # never a letter's
    unknown = AssessmentFacts(provider="other", plan="other-one-time", billing_channel="direct", country="AU",
                              requested_outcome="cancel_and_refund", payment_date=days_ago(30))
    assert letter_plan_of("direct", "other", "other-one-time", "cancel_and_refund",
                          assess(unknown, other, TODAY)).letter is True  # uncertain: the letter asks


# --- the assessment's steps follow the plan -------------------------------------------------------------------------

def test_steps_never_speak_of_a_letter_that_is_not_written() -> None:
    letter_step = coursera().rules.letter.text
    assert letter_step in assessed("course-one-time")["steps"]
    for changes in ({"certificate_earned": True}, {"requested_outcome": "cancel"}):
        steps = assessed("course-one-time", **changes)["steps"]
        assert letter_step not in steps
        plan = plan_for("course-one-time", **changes)
        assert plan.reason in steps  # the steps say why instead
    assert letter_step not in assessed("guided-project")["steps"]
