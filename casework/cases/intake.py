"""From a submitted body (API JSON or the web form's fields) to validated facts.

Three stages, in the order API.md fixes: field problems (422, every one against its dotted path),
then unknown provider or plan (404 with the valid slugs), then the rules that depend on the plan
(422). The web form goes through the very same path as the JSON API.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from casework.cases.filing import NewCase
from casework.cases.schemas import AssessmentRequest, CaseRequest, countries
from casework.cases.states import BillingChannel, RequestedOutcome
from casework.catalog import Plan, Provider, default_catalog
from casework.regions import REGION_PAGE_MESSAGE, regions_of

__all__ = ["BadRequest", "IntakeErrors", "UnknownSlug", "countries", "parse_assessment", "parse_case"]

M = TypeVar("M", bound=BaseModel)
A = TypeVar("A", bound=AssessmentRequest)


@dataclass
class IntakeErrors(Exception):
    """Field-level problems, keyed by dotted path."""

    fields: dict[str, str] = field(default_factory=dict)

    def add(self, path: str, why: str) -> None:
        self.fields.setdefault(path, why)


class BadRequest(Exception):
    """Not a JSON object at all (HTTP 400)."""


class UnknownSlug(Exception):
    """The body is valid but names no known provider or plan; ``known`` lists the valid slugs."""

    def __init__(self, what: str, known: list[str]) -> None:
        super().__init__(f"unknown {what}")
        self.what, self.known = what, known


NO_CHANNEL = "give at least one way to reach the company: e-mail, web form or post"
_DATE_ERRORS = {"date_from_datetime_parsing", "date_parsing", "date_type", "date_from_datetime_inexact"}


def _why(error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required"
    if kind == "string_too_long":
        return f"at most {error['ctx']['max_length']} characters"
    if kind == "string_too_short":
        return "required"
    if kind in _DATE_ERRORS:
        return "must be a real date as YYYY-MM-DD"
    if kind == "literal_error":
        return f"must be one of {error['ctx']['expected']}"
    if kind == "model_type" or kind == "model_attributes_type":
        return "must be an object"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    return str(error["msg"])


def validate(model: type[M], body: bytes | str, now: dt.datetime) -> M:
    """Stage one: shape, types, limits and formats; BadRequest if the body is not a JSON object."""
    try:
        return model.model_validate_json(body, context={"now": now})
    except ValidationError as exc:
        errors = IntakeErrors()
        for error in exc.errors():
            if error["type"] == "json_invalid":
                raise BadRequest("The body is not valid JSON.") from None
            if not error["loc"]:
                raise BadRequest("The body must be a JSON object.") from None
            errors.add(".".join(str(part) for part in error["loc"]), _why(dict(error)))
        raise errors from None


START_AFTER_PAYMENT = "must not be after payment_date"


def _cross_field(request: AssessmentRequest, errors: IntakeErrors) -> None:
    if request.payment_date is None and request.trial_start_date is None:
        errors.add("payment_date", "required unless trial_start_date is given")
    start, payment = request.subscription_start_date, request.payment_date
    if start is not None and payment is not None and start > payment:
        errors.add("subscription_start_date", START_AFTER_PAYMENT)
    if request.provider == "other":
        if request.company is None:
            errors.add("company.name", "required for another company")
    elif request.company is not None:
        errors.add("company", 'only with provider "other"')


def _case_rules(request: CaseRequest, errors: IntakeErrors) -> None:
    company = request.company
    if request.provider == "other" and company is not None and not (
        company.email or company.postal_address or company.web_form_url
    ):
        errors.add("company.email", NO_CHANNEL)


def resolve(request: AssessmentRequest) -> tuple[Provider, Plan]:
    """Stage two: the provider and plan must exist (404 otherwise, after every field problem)."""
    catalog = default_catalog()
    provider = catalog.get(request.provider)
    if provider is None:
        raise UnknownSlug("provider", sorted(catalog.providers))
    plan = provider.plan(request.plan)
    if plan is None:
        raise UnknownSlug("plan", [p.slug for p in provider.plans])
    return provider, plan


def trial_days_of(request: AssessmentRequest, plan: Plan) -> int | None:
    if request.provider == "other":
        return request.company.trial_days if request.company else None
    return plan.trial_days


def _plan_rules(request: AssessmentRequest, plan: Plan) -> tuple[dt.date | None, IntakeErrors]:
    """Stage three: the trial rules of API.md; returns the trial start that still counts."""
    errors = IntakeErrors()
    trial_start = request.trial_start_date
    trial_days = trial_days_of(request, plan)
    if trial_start is not None and not trial_days:
        errors.add("trial_start_date", "this plan has no free trial")
    elif trial_start is not None and request.payment_date is not None and trial_days:
        if request.payment_date < trial_start + dt.timedelta(days=trial_days):
            errors.add("payment_date", "is before the trial's first charge day")
        else:
            trial_start = None  # the trial is over; the payment decides
    return trial_start, errors


def _three_stages(model: type[A], body: bytes | str, now: dt.datetime) -> tuple[A, Provider, Plan, dt.date | None]:
    request = validate(model, body, now)
    errors = IntakeErrors()
    _cross_field(request, errors)
    if isinstance(request, CaseRequest):
        _case_rules(request, errors)
    if errors.fields:
        raise errors
    provider, plan = resolve(request)
    trial_start, errors = _plan_rules(request, plan)
    if errors.fields:
        raise errors
    return request, provider, plan, trial_start


def parse_assessment(body: bytes | str, now: dt.datetime) -> tuple[AssessmentRequest, Provider, dt.date | None]:
    """Validate an assessment request; returns it, its provider and the trial start that counts."""
    request, provider, _, trial_start = _three_stages(AssessmentRequest, body, now)
    return request, provider, trial_start


def parse_case_request(body: bytes | str, now: dt.datetime) -> NewCase:
    request, provider, plan, trial_start = _three_stages(CaseRequest, body, now)
    amount = request.amount
    company = request.company.model_dump(exclude_none=True) if request.company else None
    return NewCase(
        provider=provider.slug,
        plan=plan.slug,
        consumer_name=request.consumer.name,
        consumer_email=request.consumer.email,
        country=request.country,
        timezone=request.zone(),
        requested_outcome=RequestedOutcome(request.requested_outcome),
        billing_channel=BillingChannel(request.billing_channel),
        payment_date=request.payment_date,
        trial_start_date=trial_start,
        next_renewal_date=request.next_renewal_date,
        subscription_start_date=request.subscription_start_date,
        certificate_earned=bool(request.certificate_earned),
        amount_value=decimal.Decimal(amount.value) if amount else None,
        amount_currency=amount.currency if amount else None,
        consumer_postal_address=request.consumer.postal_address,
        consumer_phone=request.consumer.phone,
        account_identifier=request.account_identifier,
        details=request.details or None,
        region=request.region,
        company=company,
        consent=request.consent.send_in_my_name,
    )


def parse_case(data: dict[str, Any], now: dt.datetime) -> NewCase:
    """The web form's fields, already nested, through the same validation as the JSON API.

    The form's region is one of the select's: a region not of the country is named in the words of the page.
    """
    region, country = data.get("region"), data.get("country")
    wrong_region = isinstance(region, str) and isinstance(country, str) and region not in regions_of(country)
    try:
        case = parse_case_request(json.dumps(data), now)
    except IntakeErrors as errors:
        if wrong_region or "region" in errors.fields:
            errors.fields["region"] = REGION_PAGE_MESSAGE
        raise
    if wrong_region:
        raise IntakeErrors({"region": REGION_PAGE_MESSAGE})
    return case
