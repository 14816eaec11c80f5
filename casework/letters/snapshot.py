"""The frozen facts a letter is made from: structured fields only, never the consumer's free text.

A snapshot is evidence: it holds everything the letter prints (the deadlines, the law cited, the earlier letter
referred to), chosen when the letter is requested, so the PDF can be explained later without today's data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from casework.assess import AssessmentFacts, assess
from casework.cases.models import Case
from casework.catalog import Provider, default_catalog
from casework.catalog.loader import Entity, Plan
from casework.letters.law import Clause, clauses_for_letter
from casework.letters.requests import (
    END_TRIAL,
    ONE_TIME_REFUND,
    REFUND_AND_CANCEL,
    STOP_RENEWAL,
    request_of_earlier,
)

LETTER_KINDS = ("cancellation", "follow_up", "final_notice")
REPLY_DAYS = 10
"""Every letter asks for a written answer within this many days of its date."""
REFUND_ASKED_WHEN = ("eligible", "uncertain")
SNAPSHOT_VERSION = 2
"""2: the request is recorded (``asked``), the contracting entity addressed, the law chosen by the right dates."""


class NoLetterToWrite(ValueError):
    """The facts as of the letter's date call for no letter (POLICY-FACTS §2: a one-time purchase without a
    refund to ask for); the message says why, in words a caseworker can pass on."""


def delivery_target(case: Case, provider: Provider) -> tuple[str, str]:
    """The channel a letter to this company uses: e-mail where it takes e-mail, else web form, else post."""
    if case.provider_slug == "other":
        company = case.company or {}
        for kind, key in (("email", "email"), ("web_form", "web_form_url"), ("post", "postal_address")):
            if company.get(key):
                return kind, str(company[key])
        raise ValueError("another company needs at least one channel")
    for kind in ("email", "web_form", "post"):
        channel = provider.channel(kind)
        if channel is not None:
            return kind, channel.address
    raise ValueError(f"{provider.slug} has no cancellation channel")


def entity_of(case: Case, provider: Provider) -> Entity | None:
    """The company the consumer contracts with (POLICY-FACTS rule 15); None for a company the consumer named."""
    if case.provider_slug == "other":
        return None
    return provider.entity_for(case.country)


def company_block(case: Case, provider: Provider) -> dict[str, Any]:
    """Who the letter is addressed to and how it travels: the contracting entity's name and postal address."""
    channel, address = delivery_target(case, provider)
    company = case.company or {}
    entity = entity_of(case, provider)
    if entity is not None:
        lines = list(entity.address_lines)
        legal_name, country = entity.name, entity.country
        source: dict[str, Any] | None = {"title": entity.source.title, "url": entity.source.url,
                                         "checked_on": entity.source.checked_on.isoformat()}
    else:
        typed = company.get("postal_address") or ""
        lines = [line.strip() for line in str(typed).splitlines() if line.strip()]
        legal_name = company.get("name") or provider.legal_name
        country, source = None, None
    return {
        "name": company.get("name") or provider.name,
        "legal_name": legal_name,
        "address_lines": lines,
        "address_country": country,
        "entity_source": source,
        "delivery_kind": channel,
        "delivery_address": address,
        "postal_address": "\n".join(lines) or None,
    }


def letter_date(case: Case, now: dt.datetime) -> dt.date:
    return now.astimezone(ZoneInfo(case.timezone)).date()


def terms_date(case: Case) -> dt.date | None:
    """The day the contract was made or last renewed: rules about its terms look at this (POLICY-FACTS §3)."""
    dates = [d for d in (case.subscription_start_date, case.payment_date, case.trial_start_date) if d is not None]
    return max(dates) if dates else None


def clause_entry(clause: Clause) -> dict[str, Any]:
    return {
        "id": clause.id, "instrument": clause.instrument, "sections": list(clause.sections), "text": clause.text,
        "withdrawal": clause.withdrawal_type,
        "sources": [{"title": s.title, "url": s.url, "checked_on": s.checked_on.isoformat()} for s in clause.sources],
    }


def law_for(case: Case, kind: str, billing: str, day: dt.date) -> list[dict[str, Any]]:
    """The clauses a letter of ``kind`` dated ``day`` may cite for this consumer (none without a country)."""
    if not case.country:
        return []
    clauses = clauses_for_letter(case.country, case.region, letter_kind=kind, billing=billing, letter_date=day,
                                 terms_date=terms_date(case), subscription_start=case.subscription_start_date)
    return [clause_entry(c) for c in clauses]


def assessment_on(case: Case, provider: Provider, day: dt.date) -> dict[str, Any]:
    """The case's facts assessed as of the letter's day: a letter states where the consumer stands when sent."""
    company = case.company or {}
    facts = AssessmentFacts(
        provider=case.provider_slug, plan=case.plan_slug, billing_channel=case.billing_channel.value,
        country=case.country, requested_outcome=case.requested_outcome.value, region=case.region,
        timezone=case.timezone, payment_date=case.payment_date, trial_start_date=case.trial_start_date,
        next_renewal_date=case.next_renewal_date, certificate_earned=case.certificate_earned,
        amount_value=case.amount_value, amount_currency=case.amount_currency,
        company_trial_days=company.get("trial_days"), company_refund_window_days=company.get("refund_window_days"),
    )
    return assess(facts, provider, day)


def _deadline(assessment: dict[str, Any], kind: str) -> str | None:
    return next((str(d["date"]) for d in assessment.get("deadlines") or [] if d.get("kind") == kind), None)


def refund_basis(case: Case, plan: Plan, assessment: dict[str, Any]) -> dict[str, Any] | None:
    """Why the refund is due or may be due, as the company's own terms put it; None where no basis is known.

    The window is the catalog's, or for a company the consumer named, the refund period they read in its terms.
    """
    refund = plan.refund
    window_ends = (assessment.get("refund") or {}).get("window_ends")
    window_days = refund.window_days or (case.company or {}).get("refund_window_days")
    if refund.basis is None and window_ends is None:
        return None
    return {"policy": refund.basis, "window_days": window_days, "window_ends": window_ends,
            "no_certificate": refund.certificate_voids}


def first_request(case: Case, provider: Provider, plan: Plan, day: dt.date) -> dict[str, Any]:
    """What the first letter asks (POLICY-FACTS §2 "What the letter asks"), from the facts as of its day."""
    assessment = assessment_on(case, provider, day)
    eligibility = (assessment.get("refund") or {}).get("eligibility")
    wants_refund = case.requested_outcome.value == "cancel_and_refund"
    refund = wants_refund and eligibility in REFUND_ASKED_WHEN
    trial_end = _deadline(assessment, "trial_end")
    on_trial = trial_end is not None and case.payment_date is None and trial_end >= day.isoformat()
    if plan.billing == "one_time":
        if not refund:
            raise NoLetterToWrite("A one-time purchase gets a letter only while a refund can be asked for, and "
                                  "on this date it cannot.")
        request = ONE_TIME_REFUND
    elif on_trial:
        request, refund = END_TRIAL, False
    else:
        request = REFUND_AND_CANCEL if refund else STOP_RENEWAL
    return {
        "request": request,
        "refund": refund,
        "refund_eligibility": eligibility,
        "refund_basis": refund_basis(case, plan, assessment) if refund else None,
        "access_until": None if on_trial else assessment.get("access_until"),
        "renewal_date": None if on_trial else _deadline(assessment, "renewal"),
        "first_charge_date": _deadline(assessment, "renewal") if on_trial else None,
    }


def escalation_routes() -> list[dict[str, str | None]]:
    """Where a consumer may turn after a final notice. The card-dispute law is the consumer's, never cited to
    the company (POLICY-FACTS §3): the route is named, its law is in the consumer's guidance and evidence pack."""
    return [{"route": "card_issuer", "clause_id": None, "instrument": None},
            {"route": "regulator", "clause_id": None, "instrument": None}]


def letter_snapshot(
    case: Case, kind: str, version: int, now: dt.datetime, *,
    earlier: list[dict[str, Any]] | None = None, base_url: str | None = None,
    retention_offers: list[dt.date] | None = None,
) -> dict[str, Any]:
    """Everything a letter of ``kind`` prints, frozen at ``now`` (the letter's date in the consumer's zone).

    ``earlier`` lists the letters a follow-up or final notice refers to (see :func:`earlier_entry`), oldest first;
    a later letter asks again exactly what the first one asked. ``retention_offers`` are the days the company
    offered terms to keep the consumer: the letter declines them.
    """
    if kind not in LETTER_KINDS:
        raise ValueError(f"unknown letter kind {kind!r}")
    if kind != "cancellation" and not earlier:
        raise ValueError(f"a {kind} letter refers to an earlier letter; none was given")
    provider = default_catalog().get(case.provider_slug)
    if provider is None:
        raise LookupError(f"unknown provider {case.provider_slug!r}")
    plan = provider.plan(case.plan_slug)
    if plan is None:
        raise LookupError(f"unknown plan {case.plan_slug!r}")
    company = case.company or {}
    day = letter_date(case, now)
    asked = first_request(case, provider, plan, day) if kind == "cancellation" else request_of_earlier(
        (earlier or [{}])[0])
    law = law_for(case, kind, plan.billing, day)
    contract = terms_date(case)
    return {
        "snapshot_version": SNAPSHOT_VERSION,
        "kind": kind,
        "reference": case.reference,
        "letter_version": version,
        "letter_date": day.isoformat(),
        "reply_by": (day + dt.timedelta(days=REPLY_DAYS)).isoformat(),
        "consumer": {
            "name": case.consumer_name,
            "email": case.consumer_email,
            "postal_address": case.consumer_postal_address,
        },
        "account_identifier": case.account_identifier,
        "company": company_block(case, provider),
        "plan": {"slug": plan.slug, "name": company.get("plan_name") or plan.name, "billing": plan.billing},
        "payment_date": case.payment_date.isoformat() if case.payment_date else None,
        "trial_start_date": case.trial_start_date.isoformat() if case.trial_start_date else None,
        "subscription_start_date": (case.subscription_start_date.isoformat()
                                    if case.subscription_start_date else None),
        "contract_date": contract.isoformat() if contract else None,
        "amount": (
            {"value": f"{case.amount_value:.2f}", "currency": case.amount_currency}
            if case.amount_value is not None else None
        ),
        "requested_outcome": case.requested_outcome.value,
        "refund_eligibility": asked["refund_eligibility"],
        "ask_refund": asked["refund"],
        "asked": asked,
        "retention_offers": [d.isoformat() for d in sorted(retention_offers or [])],
        "country": case.country,
        "region": case.region,
        "law": law,
        "escalation": escalation_routes() if kind == "final_notice" else [],
        "earlier": list(earlier or []),
        "policy_version": case.policy_version,
        "base_url": base_url.rstrip("/") if base_url else None,
    }


def earlier_entry(kind: str, version: int, snapshot: dict[str, Any], sha256: str | None,
                  sent_on: dt.date | None) -> dict[str, Any]:
    """How a later letter refers to an earlier one: its date, reference, version, SHA-256 prefix and what it asked."""
    return {"kind": kind, "version": version, "letter_date": snapshot["letter_date"],
            "reference": snapshot["reference"], "sha256_prefix": (sha256 or "")[:16] or None,
            "sent_on": sent_on.isoformat() if sent_on else None, "asked": request_of_earlier(snapshot)}


def cancellation_snapshot(case: Case, version: int, now: dt.datetime) -> dict[str, Any]:
    """The first letter's facts (used where no session is at hand, e.g. the wizard's preview)."""
    return letter_snapshot(case, "cancellation", version, now)
