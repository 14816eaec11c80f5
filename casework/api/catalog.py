"""API v1, the anonymous read side: the company catalog, assessments, and /api/openapi.json."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from casework.access import route_rule
from casework.api.bodies import read_json_body
from casework.api.domain_errors import register_domain_errors
from casework.api.models import AssessmentOut, ProviderDetailOut, ProvidersOut
from casework.api.openapi import Operation, build_spec, operation
from casework.assess import AssessmentFacts, assess, consumer_today
from casework.cases.intake import UnknownSlug, parse_assessment
from casework.cases.schemas import AssessmentRequest
from casework.catalog import Provider, Source, default_catalog
from casework.db import utcnow

bp = Blueprint("api", __name__, url_prefix="/api")
register_domain_errors(bp)


def _source(source: Source | None) -> dict[str, Any] | None:
    if source is None:
        return None
    return {"title": source.title, "url": source.url, "checked_on": source.checked_on.isoformat()}


def provider_summary(provider: Provider) -> dict[str, Any]:
    return {
        "slug": provider.slug,
        "name": provider.name,
        "country": provider.country or None,
        "plans": [{"slug": p.slug, "name": p.name, "billing": p.billing, "trial_days": p.trial_days}
                  for p in provider.plans],
        "policy_version": provider.policy_version,
        "sources": [_source(s) for s in provider.sources],
    }


def provider_detail(provider: Provider) -> dict[str, Any]:
    return {
        **provider_summary(provider),
        "cancel_channels": [{"kind": c.kind, "address": c.address, "source": _source(c.source)}
                            for c in provider.cancel_channels],
        "self_serve_steps": list(provider.self_serve_steps),
    }


operation(Operation("GET", "/api/v1/providers", "The company catalog", {200: ProvidersOut}))


@bp.get("/v1/providers")
@route_rule("anonymous")
def providers() -> ResponseReturnValue:
    return jsonify({"providers": [provider_summary(p) for p in default_catalog().providers.values()]})


operation(Operation("GET", "/api/v1/providers/{slug}", "One company, with its channels and steps",
                    {200: ProviderDetailOut, 404: None},
                    parameters=[{"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}]))


@bp.get("/v1/providers/<slug>")
@route_rule("anonymous")
def provider(slug: str) -> ResponseReturnValue:
    found = default_catalog().get(slug)
    if found is None:
        raise UnknownSlug("provider", sorted(default_catalog().providers))
    return jsonify(provider_detail(found))


def facts_of(request_body: AssessmentRequest, trial_start: dt.date | None) -> AssessmentFacts:
    """The validated request as the engine's facts (the trial start only while the trial counts)."""
    company = request_body.company
    amount = request_body.amount
    return AssessmentFacts(
        provider=request_body.provider,
        plan=request_body.plan,
        billing_channel=request_body.billing_channel,
        country=request_body.country,
        requested_outcome=request_body.requested_outcome,
        region=request_body.region,
        timezone=request_body.zone(),
        payment_date=request_body.payment_date,
        trial_start_date=trial_start,
        next_renewal_date=request_body.next_renewal_date,
        certificate_earned=bool(request_body.certificate_earned),
        amount_value=None if amount is None else Decimal(amount.value),
        amount_currency=None if amount is None else amount.currency,
        company_trial_days=company.trial_days if company else None,
        company_refund_window_days=company.refund_window_days if company else None,
    )


operation(Operation("POST", "/api/v1/assessments", "Where a consumer stands: refund, deadlines, steps",
                    {200: AssessmentOut, 400: None, 404: None, 413: None, 422: None},
                    request=AssessmentRequest))


@bp.post("/v1/assessments")
@route_rule("anonymous")
def assessments() -> ResponseReturnValue:
    now = utcnow()
    parsed, found, trial_start = parse_assessment(read_json_body(), now)
    facts = facts_of(parsed, trial_start)
    return jsonify(assess(facts, found, consumer_today(now, parsed.zone())))


@bp.get("/openapi.json")
@route_rule("anonymous")
def openapi() -> ResponseReturnValue:
    return jsonify(build_spec())
