"""The frozen facts a letter is made from: structured fields only, never the consumer's free text."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from casework.cases.models import Case
from casework.catalog import Provider, default_catalog


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


def letter_date(case: Case, now: dt.datetime) -> dt.date:
    return now.astimezone(ZoneInfo(case.timezone)).date()


def cancellation_snapshot(case: Case, version: int, now: dt.datetime) -> dict[str, Any]:
    provider = default_catalog().get(case.provider_slug)
    if provider is None:
        raise LookupError(f"unknown provider {case.provider_slug!r}")
    plan = provider.plan(case.plan_slug)
    if plan is None:
        raise LookupError(f"unknown plan {case.plan_slug!r}")
    kind, address = delivery_target(case, provider)
    company = case.company or {}
    return {
        "reference": case.reference,
        "letter_version": version,
        "letter_date": letter_date(case, now).isoformat(),
        "consumer": {
            "name": case.consumer_name,
            "email": case.consumer_email,
            "postal_address": case.consumer_postal_address,
        },
        "account_identifier": case.account_identifier,
        "company": {
            "name": company.get("name") or provider.name,
            "legal_name": company.get("name") or provider.legal_name,
            "delivery_kind": kind,
            "delivery_address": address,
        },
        "plan": {"slug": plan.slug, "name": company.get("plan_name") or plan.name, "billing": plan.billing},
        "payment_date": case.payment_date.isoformat() if case.payment_date else None,
        "trial_start_date": case.trial_start_date.isoformat() if case.trial_start_date else None,
        "amount": (
            {"value": f"{case.amount_value:.2f}", "currency": case.amount_currency}
            if case.amount_value is not None else None
        ),
        "requested_outcome": case.requested_outcome.value,
        "policy_version": case.policy_version,
    }
