"""Where a consumer stands today: refund eligibility, deadlines, warnings and next steps.

A pure function of the facts, the provider's catalog entry and the consumer's "today". Every company-specific
rule and sentence comes from the catalog data; this module only knows the meaning of its fields (API.md,
"Assessment"; POLICY-FACTS §2).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import get_territory_currencies

from casework.assess.dates import PERIOD_MONTHS, roll_forward
from casework.catalog.loader import (
    CURRENT_PERIOD_NOT_REFUNDED,
    NON_REFUNDABLE,
    UNCERTAIN,
    WARNING_CODES,
    WITHIN_WINDOW,
    Plan,
    Provider,
    Rule,
)
from casework.letters.plan import letter_plan

DIRECT = "direct"
CANCEL_VIA = {DIRECT: "formal_letter", "apple_app_store": "apple", "google_play": "google"}
PLATFORMS = {"apple_app_store": "Apple", "google_play": "Google"}
KIND_ORDER = {"refund_window_end": 0, "trial_end": 1, "renewal": 2}
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class AssessmentFacts:
    provider: str                 # slug
    plan: str                     # slug
    billing_channel: str          # "direct" | "apple_app_store" | "google_play"
    country: str                  # ISO alpha-2, upper case
    requested_outcome: str        # "cancel" | "cancel_and_refund"
    region: str | None = None
    timezone: str | None = None   # IANA; None -> from country via casework.countries.zone_for_country
    payment_date: dt.date | None = None
    trial_start_date: dt.date | None = None
    next_renewal_date: dt.date | None = None
    certificate_earned: bool = False
    amount_value: Decimal | None = None
    amount_currency: str | None = None
    company_trial_days: int | None = None          # only for provider "other"
    company_refund_window_days: int | None = None  # only for provider "other"


def consumer_today(now: dt.datetime, timezone: str) -> dt.date:
    """The calendar date in the consumer's zone: deadlines are their days, not the server's (naive means UTC)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    return now.astimezone(ZoneInfo(timezone)).date()


@dataclass(frozen=True)
class _Timeline:
    """The dates every part of the assessment is derived from."""

    trial_end: dt.date | None      # set while the trial is the thing that counts (no payment given)
    first_charge: dt.date | None
    on_trial: bool                 # the trial has not turned into a charge yet
    payment: dt.date | None        # the payment given, or the trial's first charge once it has happened
    window_days: int | None
    window_ends: dt.date | None
    renewal: dt.date | None
    stale: bool                    # the renewal had to be derived past a payment we were not told about
    access_until: dt.date | None   # the last day already paid for


def _timeline(facts: AssessmentFacts, provider: Provider, plan: Plan, today: dt.date) -> _Timeline:
    own_terms = provider.consumer_supplied_terms
    trial_days = facts.company_trial_days if own_terms else plan.trial_days
    window_days = facts.company_refund_window_days if own_terms else plan.refund.window_days
    if plan.refund.kind not in (WITHIN_WINDOW, UNCERTAIN):
        window_days = None
    app_store = facts.billing_channel != DIRECT
    trial_end = first_charge = None
    payment, assumed = facts.payment_date, False
    if facts.trial_start_date is not None and trial_days and payment is None:
        trial_end = facts.trial_start_date + dt.timedelta(days=trial_days - 1)
        first_charge = trial_end + DAY
        if first_charge <= today:  # the trial is over: the first charge is assumed made on its day
            payment, assumed = first_charge, True
    on_trial = first_charge is not None and not assumed
    window_ends = None
    if payment is not None and window_days is not None and not app_store:
        window_ends = payment + dt.timedelta(days=window_days)
    renewal, stale = None, False
    months = PERIOD_MONTHS.get(plan.billing)
    if months is not None:
        if facts.next_renewal_date is not None:
            renewal = facts.next_renewal_date
        elif app_store:
            pass  # the platform's renewal date is unknown
        elif on_trial:
            renewal = first_charge
        elif payment is not None:
            renewal, periods = roll_forward(payment, months, today)
            stale = periods > 1 or assumed
    access_until = renewal - DAY if renewal is not None and not on_trial else None
    return _Timeline(trial_end, first_charge, on_trial, payment, window_days, window_ends, renewal, stale,
                     access_until)


class _Values(dict[str, str]):
    """Placeholder values for catalog texts; one the case cannot fill reads "unknown" rather than failing."""

    def __missing__(self, key: str) -> str:
        return "unknown"


def _say(rule: Rule, values: _Values, **extra: str) -> str:
    return rule.text.format_map(_Values(values, **extra))


@lru_cache(maxsize=4096)
def _local_currencies(country: str, day: dt.date) -> frozenset[str]:
    """Babel's legal-tender currencies of the territory on that day (several for e.g. PA, BT)."""
    return frozenset(get_territory_currencies(country, start_date=day, tender=True))


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _refund(facts: AssessmentFacts, provider: Provider, plan: Plan, t: _Timeline, today: dt.date,
            values: _Values) -> tuple[str, list[str]]:
    """Eligibility and the reasons, one per deciding rule, in the policy's order."""
    rules, refund = provider.rules, plan.refund
    if facts.requested_outcome != "cancel_and_refund":
        return "not_requested", []
    if facts.billing_channel != DIRECT:
        return "uncertain", [_say(rules.app_store, values)]
    if t.on_trial:
        return "not_eligible", [_say(rules.trial_nothing_charged, values)]
    closed = t.window_ends is not None and today > t.window_ends
    voided = facts.certificate_earned and refund.certificate_voids
    if refund.kind in (NON_REFUNDABLE, CURRENT_PERIOD_NOT_REFUNDED) or closed or voided:
        eligibility = "not_eligible"
    elif refund.kind == WITHIN_WINDOW and t.window_ends is not None:
        eligibility = "eligible"
    else:
        eligibility = "uncertain"
    reason = refund.reason or (rules.unknown_refund if refund.kind == UNCERTAIN else None)
    said = [
        reason,
        rules.window_closed if closed else None,
        rules.certificate if voided else None,
        rules.periods_not_refunded if plan.billing == "monthly" and not refund.periods_refunded else None,
    ]
    return eligibility, [_say(rule, values) for rule in said if rule is not None]


def _deadlines(facts: AssessmentFacts, provider: Provider, t: _Timeline, today: dt.date,
               values: _Values) -> list[dict[str, Any]]:
    labels = provider.labels
    found: list[tuple[str, dt.date, str]] = []
    if facts.requested_outcome == "cancel_and_refund" and t.window_ends is not None:
        found.append(("refund_window_end", t.window_ends, labels.refund_window_end))
    if t.trial_end is not None:
        found.append(("trial_end", t.trial_end, labels.trial_end))
    if t.renewal is not None:
        first = t.on_trial and t.renewal == t.first_charge
        found.append(("renewal", t.renewal, labels.first_charge if first else labels.renewal))
    found.sort(key=lambda item: (item[1], KIND_ORDER[item[0]]))
    return [{"kind": kind, "date": day.isoformat(), "act_by": (day - DAY).isoformat(), "passed": day < today,
             "label": label.format_map(values)} for kind, day, label in found]


def _warnings(facts: AssessmentFacts, provider: Provider, plan: Plan, t: _Timeline, today: dt.date,
              eligibility: str, values: _Values) -> list[dict[str, str]]:
    app_store = facts.billing_channel != DIRECT
    refund_checks = facts.requested_outcome == "cancel_and_refund" and not app_store
    currency = (facts.amount_currency or "").upper()
    local = _local_currencies(facts.country.upper(), today) if currency else frozenset()
    raised = {
        "app_store_billing": app_store,
        "certificate_voids_refund": refund_checks and facts.certificate_earned and plan.refund.certificate_voids,
        "refund_window_closed": refund_checks and t.window_ends is not None and today > t.window_ends,
        "terms_violation_may_deny_refund": refund_checks and provider.terms_violation_may_deny_refund
        and eligibility in ("eligible", "uncertain"),
        "monthly_not_refundable": refund_checks and plan.billing == "monthly" and not plan.refund.periods_refunded,
        "non_refundable_product": refund_checks and plan.refund.kind == NON_REFUNDABLE,
        "trial_charge_imminent": t.on_trial and t.trial_end is not None and 0 <= (t.trial_end - today).days <= 1,
        "payment_date_stale": t.stale,
        "foreign_transaction_fees": bool(local) and currency not in local,
    }
    return [{"code": code, "message": _say(getattr(provider.warnings, code), values)}
            for code in WARNING_CODES if raised[code]]


def _steps(facts: AssessmentFacts, provider: Provider, plan: Plan, t: _Timeline, today: dt.date,
           eligibility: str, reasons: list[str], deadlines: list[dict[str, Any]], values: _Values) -> list[str]:
    rules, app_store = provider.rules, facts.billing_channel != DIRECT
    steps: list[str] = []
    upcoming = next((d for d in deadlines if d["kind"] != "refund_window_end" and not d["passed"]), None)
    if upcoming is not None:
        act_by = "today" if upcoming["act_by"] < today.isoformat() else upcoming["act_by"]
        steps.append(_say(rules.act_early, values, act_by=act_by, date=upcoming["date"],
                          deadline=upcoming["label"][:1].lower() + upcoming["label"][1:]))
    if t.on_trial:
        steps.append(_say(rules.trial, values))
    writes = letter_plan(facts.billing_channel, plan.billing, facts.requested_outcome, eligibility, reasons)
    if app_store:
        steps.append(_say(rules.cancel_app_store, values))
    elif not writes.letter:
        steps.append(writes.reason or "")  # nothing to write to the company about: the steps say why
    else:
        steps.append(_say(rules.letter, values))
        if eligibility in ("eligible", "uncertain"):
            steps.extend(_say(note_rule, values) for note_rule in plan.refund_notes)
            if rules.refund_time is not None:
                steps.append(_say(rules.refund_time, values))
    if t.access_until is not None:
        steps.append(_say(rules.access, values))
    if not app_store:
        if rules.no_fee is not None:
            steps.append(_say(rules.no_fee, values))
        serve = provider.self_serve
        path = () if serve is None else serve.one_time if plan.billing == "one_time" else serve.subscription
        if path:
            steps.append(_say(rules.self_serve, values, path=" → ".join(path)))
        if serve is not None and serve.fallback:
            steps.append(serve.fallback)
    steps.extend(_say(note.rule, values) for note in provider.country_notes if note.country == facts.country)
    return steps


def assess(facts: AssessmentFacts, provider: Provider, today: dt.date) -> dict[str, Any]:
    """The assessment response of API.md for these facts, as of the consumer's ``today``; no side effects."""
    plan = provider.plan(facts.plan)
    if plan is None:
        raise ValueError(f"{provider.slug} has no plan {facts.plan!r}")
    t = _timeline(facts, provider, plan, today)
    currency = (facts.amount_currency or "").upper()
    local = sorted(_local_currencies(facts.country.upper(), today)) if currency else []
    values = _Values({
        "company": "the company" if provider.consumer_supplied_terms else provider.name,
        "platform": PLATFORMS.get(facts.billing_channel, ""),
        **{name: day.isoformat() for name, day in (
            ("window_ends", t.window_ends), ("payment_date", t.payment), ("trial_end", t.trial_end),
            ("first_charge", t.first_charge), ("renewal", t.renewal), ("access_until", t.access_until),
        ) if day is not None},
        **({"window_days": str(t.window_days)} if t.window_days is not None else {}),
        **({"currency": currency, "local_currency": " or ".join(local)} if local else {}),
    })
    eligibility, reasons = _refund(facts, provider, plan, t, today, values)
    deadlines = _deadlines(facts, provider, t, today, values)
    return {
        "provider": {"slug": provider.slug, "name": provider.name},
        "plan": {"slug": plan.slug, "name": plan.name},
        "today": today.isoformat(),
        "cancel_via": CANCEL_VIA.get(facts.billing_channel, "formal_letter"),
        "refund": {"eligibility": eligibility, "window_ends": _iso(t.window_ends), "reasons": reasons},
        "deadlines": deadlines,
        "access_until": _iso(t.access_until),
        "warnings": _warnings(facts, provider, plan, t, today, eligibility, values),
        "steps": _steps(facts, provider, plan, t, today, eligibility, reasons, deadlines, values),
        "policy_version": provider.policy_version,
    }
