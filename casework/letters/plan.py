"""Whether a case gets a cancellation letter, and why not when it does not (POLICY-FACTS §2, "What the letter asks").

A letter is written only where it can ask the company for something: every subscription billed by the company
(stop the renewal, and a refund where one can be had), and a one-time purchase only when a refund is asked for and
the assessment does not rule it out. App-store billing never gets one: the company cannot cancel it. The reason is
shown to consumers as it is, so it says what is true in plain words and promises nothing.

The rule is a pure function of a few facts, so filing, corrections, the pages, the API and the assessment's steps
all decide it the same way; :func:`letter_plan_for_case` reads those facts from a stored case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from casework.catalog import default_catalog

if TYPE_CHECKING:
    from casework.cases.models import Case

DIRECT = "direct"
ONE_TIME = "one_time"
REFUND_ASKED_WHEN = ("eligible", "uncertain")
PLATFORMS = {"apple_app_store": "Apple", "google_play": "Google"}
APP_STORE_WARNING = "app_store_billing"


@dataclass(frozen=True)
class LetterPlan:
    """``letter``: a cancellation letter is written for the case; ``reason``: why not, in words (else None)."""

    letter: bool
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The API's ``letter_plan`` (API.md 1.1): ``{"letter": true}`` or ``{"letter": false, "reason": …}``."""
        return {"letter": True} if self.letter else {"letter": False, "reason": self.reason or ""}


WRITE_A_LETTER = LetterPlan(letter=True)


def _app_store_reason(billing_channel: str, sentence: str | None) -> str:
    if sentence:
        return f"No letter is written. {sentence}"
    platform = PLATFORMS.get(billing_channel, "the app store")
    return (f"No letter is written: {platform} bills this subscription, so the company cannot cancel it. Cancel it "
            f"yourself in your {platform} subscription settings.")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def letter_plan(billing_channel: str, billing: str | None, requested_outcome: str, refund_eligibility: str | None,
                refund_reasons: Sequence[str] = (), app_store_sentence: str | None = None) -> LetterPlan:
    """Whether a letter is written, from the billing channel, the plan's billing (``monthly``, ``annual``,
    ``one_time``; None when unknown, taken as a subscription), what the consumer asked for and the assessment's
    refund eligibility and reasons.

    ``app_store_sentence`` is the catalog's own sentence about app-store billing (its warning), used as that
    reason when given.
    For a refund that is not available the reason quotes the assessment's last reason: the rules are listed in the
    policy's order, the general refund rule first and the one that rules the refund out after it.
    """
    if billing_channel != DIRECT:
        return LetterPlan(False, _app_store_reason(billing_channel, app_store_sentence))
    if billing != ONE_TIME:
        return WRITE_A_LETTER
    if requested_outcome != "cancel_and_refund":
        return LetterPlan(False, "No letter is written: a one-time purchase has nothing to renew, and you did not ask "
                                 "for a refund, so there is nothing for a letter to ask the company.")
    if refund_eligibility is None or refund_eligibility in REFUND_ASKED_WHEN:
        return WRITE_A_LETTER  # unassessed, as the letter's own facts take it: nothing rules the refund out
    why = f" {_sentence(refund_reasons[-1])}" if refund_reasons else ""
    return LetterPlan(False, "No letter is written: a one-time purchase has nothing to renew, and a refund is not "
                             f"available for it.{why}")


def plan_billing(provider_slug: str, plan_slug: str) -> str | None:
    """The plan's billing from the catalog (None for a plan the catalog no longer has)."""
    provider = default_catalog().get(provider_slug)
    plan = provider.plan(plan_slug) if provider is not None else None
    return plan.billing if plan is not None else None


def letter_plan_of(billing_channel: str, provider_slug: str, plan_slug: str, requested_outcome: str,
                   assessment: Mapping[str, Any] | None) -> LetterPlan:
    """The plan for facts and their assessment (as the API answers it): the wizard before filing, and cases."""
    refund = (assessment or {}).get("refund") or {}
    warning = next((w.get("message") for w in (assessment or {}).get("warnings") or []
                    if w.get("code") == APP_STORE_WARNING), None)
    return letter_plan(billing_channel, plan_billing(provider_slug, plan_slug), requested_outcome,
                       refund.get("eligibility"), [str(r) for r in refund.get("reasons") or []],
                       str(warning) if warning else None)


def letter_plan_for_case(case: Case) -> LetterPlan:
    """The plan for a stored case, from its facts and the assessment it was filed (or last corrected) with."""
    return letter_plan_of(case.billing_channel.value, case.provider_slug, case.plan_slug,
                          case.requested_outcome.value, case.assessment)
