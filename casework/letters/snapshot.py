"""The frozen facts a letter is made from: structured fields only, never the consumer's free text.

A snapshot is evidence: it holds everything the letter prints (the deadlines, the law cited, the earlier letter
referred to), chosen when the letter is requested, so the PDF can be explained later without today's data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from casework.cases.models import Case
from casework.catalog import Provider, default_catalog
from casework.letters.law import Clause, clauses_in_force

LETTER_KINDS = ("cancellation", "follow_up", "final_notice")
REPLY_DAYS = 10
"""Every letter asks for a written answer within this many days of its date."""
REFUND_ASKED_WHEN = ("eligible", "uncertain")
CARD_DISPUTE_CLAUSE = "us-fair-credit-billing-act"


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


def postal_address(case: Case, provider: Provider) -> str | None:
    """The company's postal address for the letter's address window, whatever channel delivers it."""
    if case.provider_slug == "other":
        return (case.company or {}).get("postal_address") or None
    channel = provider.channel("post")
    return channel.address if channel is not None else None


def letter_date(case: Case, now: dt.datetime) -> dt.date:
    return now.astimezone(ZoneInfo(case.timezone)).date()


def contract_date(case: Case) -> dt.date | None:
    """The later of the payment date and the trial start (a renewal extends the contract), per the policy."""
    dates = [d for d in (case.payment_date, case.trial_start_date) if d is not None]
    return max(dates) if dates else None


def clause_entry(clause: Clause) -> dict[str, Any]:
    return {
        "id": clause.id, "instrument": clause.instrument, "sections": list(clause.sections), "text": clause.text,
        "sources": [{"title": s.title, "url": s.url, "checked_on": s.checked_on.isoformat()} for s in clause.sources],
    }


def law_for(case: Case, day: dt.date) -> list[dict[str, Any]]:
    """The clauses a letter of ``day`` may cite for this consumer; none without a contract date."""
    contract = contract_date(case)
    if contract is None or not case.country:
        return []
    return [clause_entry(c) for c in clauses_in_force(case.country, case.region, contract, day)]


def deadlines_of(case: Case) -> list[dict[str, str]]:
    assessment = case.assessment or {}
    return [{"kind": str(d["kind"]), "label": str(d["label"]), "date": str(d["date"]), "act_by": str(d["act_by"])}
            for d in assessment.get("deadlines") or [] if d.get("date")]


def escalation_routes(law: list[dict[str, Any]]) -> list[dict[str, str | None]]:
    """Where a consumer may turn after a final notice; the card-dispute route names its law where it applies."""
    card = next((c for c in law if c["id"] == CARD_DISPUTE_CLAUSE), None)
    return [{
        "route": "card_issuer",
        "clause_id": card["id"] if card else None,
        "instrument": f"{card['instrument']} ({', '.join(card['sections'])})" if card else None,
    }, {"route": "regulator", "clause_id": None, "instrument": None}]


def letter_snapshot(
    case: Case, kind: str, version: int, now: dt.datetime, *,
    earlier: list[dict[str, Any]] | None = None, base_url: str | None = None,
) -> dict[str, Any]:
    """Everything a letter of ``kind`` prints, frozen at ``now`` (the letter's date in the consumer's zone).

    ``earlier`` lists the letters a follow-up or final notice refers to (see :func:`earlier_entry`), oldest first.
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
    channel, address = delivery_target(case, provider)
    company = case.company or {}
    day = letter_date(case, now)
    assessment = case.assessment or {}
    eligibility = (assessment.get("refund") or {}).get("eligibility")
    requested = case.requested_outcome.value
    law = law_for(case, day)
    contract = contract_date(case)
    return {
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
        "company": {
            "name": company.get("name") or provider.name,
            "legal_name": company.get("name") or provider.legal_name,
            "delivery_kind": channel,
            "delivery_address": address,
            "postal_address": postal_address(case, provider),
        },
        "plan": {"slug": plan.slug, "name": company.get("plan_name") or plan.name, "billing": plan.billing},
        "payment_date": case.payment_date.isoformat() if case.payment_date else None,
        "trial_start_date": case.trial_start_date.isoformat() if case.trial_start_date else None,
        "contract_date": contract.isoformat() if contract else None,
        "amount": (
            {"value": f"{case.amount_value:.2f}", "currency": case.amount_currency}
            if case.amount_value is not None else None
        ),
        "requested_outcome": requested,
        "refund_eligibility": eligibility,
        # The refund is asked for only where the consumer wants it and the assessment does not rule it out.
        "ask_refund": requested == "cancel_and_refund" and (eligibility in REFUND_ASKED_WHEN or not assessment),
        "deadlines": deadlines_of(case),
        "country": case.country,
        "region": case.region,
        "law": law,
        "escalation": escalation_routes(law) if kind == "final_notice" else [],
        "earlier": list(earlier or []),
        "policy_version": case.policy_version,
        "base_url": base_url.rstrip("/") if base_url else None,
    }


def earlier_entry(kind: str, version: int, snapshot: dict[str, Any], sha256: str | None,
                  sent_on: dt.date | None) -> dict[str, Any]:
    """How a later letter refers to an earlier one: its date, reference, version and SHA-256 prefix."""
    return {"kind": kind, "version": version, "letter_date": snapshot["letter_date"],
            "reference": snapshot["reference"], "sha256_prefix": (sha256 or "")[:16] or None,
            "sent_on": sent_on.isoformat() if sent_on else None}


def cancellation_snapshot(case: Case, version: int, now: dt.datetime) -> dict[str, Any]:
    """The first letter's facts (used where no session is at hand, e.g. the wizard's preview)."""
    return letter_snapshot(case, "cancellation", version, now)
