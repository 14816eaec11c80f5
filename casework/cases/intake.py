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
from casework.languages import default_language
from casework.regions import REGION_PAGE_MESSAGE, regions_of
from casework.typed_text import NO_CONTROLS

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
    """Stage one: shape, types, limits and formats; BadRequest if the body is not a JSON object.

    A NUL in any string is refused even where the field has no rule of its own: PostgreSQL cannot store one,
    and the request would fail as a 500 at the first write.
    """
    try:
        request = model.model_validate_json(body, context={"now": now})
    except ValidationError as exc:
        errors = IntakeErrors()
        for error in exc.errors():
            if error["type"] == "json_invalid":
                raise BadRequest("The body is not valid JSON.") from None
            if not error["loc"]:
                raise BadRequest("The body must be a JSON object.") from None
            errors.add(".".join(str(part) for part in error["loc"]), _why(dict(error)))
        raise errors from None
    escaped_nul = b"\\u0000" in body if isinstance(body, bytes) else "\\u0000" in body
    if escaped_nul:  # only then is the body walked
        where = nul_path(json.loads(body))
        if where is not None:
            raise IntakeErrors({where: NO_CONTROLS})
    return request


def nul_path(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (or key) in parsed JSON that holds a NUL character, else None."""
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return here
            if (found := nul_path(item, here)) is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            if (found := nul_path(item, f"{path}.{index}" if path else str(index))) is not None:
                return found
    return None


START_AFTER_PAYMENT = "must not be after payment_date"


@dataclass(frozen=True)
class _Facts:
    """What the rules after stage one read: from a valid request, or (for pages) the fields that passed stage one."""

    provider: str
    given: frozenset[str]  # the date fields the body has, valid or not
    payment_date: dt.date | None = None
    trial_start_date: dt.date | None = None
    subscription_start_date: dt.date | None = None
    company: dict[str, Any] | None = None

    @classmethod
    def of(cls, request: AssessmentRequest) -> _Facts:
        dates = {name: getattr(request, name) for name in _DATE_FIELDS}
        return cls(provider=request.provider, given=frozenset(name for name, day in dates.items() if day is not None),
                   company=request.company.model_dump() if request.company is not None else None, **dates)

    @classmethod
    def lenient(cls, data: dict[str, Any], refused: dict[str, str]) -> _Facts:
        """The fields of a body that failed stage one, leaving out those it refused."""
        dates: dict[str, dt.date | None] = {}
        for name in _DATE_FIELDS:
            raw = data.get(name)
            try:
                dates[name] = dt.date.fromisoformat(raw) if isinstance(raw, str) and name not in refused else None
            except ValueError:
                dates[name] = None
        company = data.get("company")
        return cls(provider=str(data.get("provider", "")), given=frozenset(n for n in _DATE_FIELDS if data.get(n)),
                   company={key: value for key, value in company.items() if f"company.{key}" not in refused}
                   if isinstance(company, dict) else None, **dates)


_DATE_FIELDS = ("payment_date", "trial_start_date", "subscription_start_date")


def _cross_field(facts: _Facts, errors: IntakeErrors) -> None:
    if "payment_date" not in facts.given and "trial_start_date" not in facts.given:
        errors.add("payment_date", "required unless trial_start_date is given")
    start, payment = facts.subscription_start_date, facts.payment_date
    if start is not None and payment is not None and start > payment:
        errors.add("subscription_start_date", START_AFTER_PAYMENT)
    if facts.provider == "other":
        if facts.company is None:
            errors.add("company.name", "required for another company")
    elif facts.company is not None:
        errors.add("company", 'only with provider "other"')


def _case_rules(facts: _Facts, errors: IntakeErrors) -> None:
    company = facts.company
    if facts.provider == "other" and company is not None and not (
        company.get("email") or company.get("postal_address") or company.get("web_form_url")
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


def trial_days_of(facts: _Facts, plan: Plan) -> int | None:
    if facts.provider == "other":
        days = facts.company.get("trial_days") if facts.company else None
        return days if isinstance(days, int) else None
    return plan.trial_days


def _plan_rules(facts: _Facts, plan: Plan) -> tuple[dt.date | None, IntakeErrors]:
    """Stage three: the trial rules of API.md; returns the trial start that still counts."""
    errors = IntakeErrors()
    trial_start = facts.trial_start_date
    trial_days = trial_days_of(facts, plan)
    if trial_start is not None and not trial_days:
        errors.add("trial_start_date", "this plan has no free trial")
    elif trial_start is not None and facts.payment_date is not None and trial_days:
        if facts.payment_date < trial_start + dt.timedelta(days=trial_days):
            errors.add("payment_date", "is before the trial's first charge day")
        else:
            trial_start = None  # the trial is over; the payment decides
    return trial_start, errors


def _three_stages(model: type[A], body: bytes | str, now: dt.datetime) -> tuple[A, Provider, Plan, dt.date | None]:
    request = validate(model, body, now)
    facts = _Facts.of(request)
    errors = IntakeErrors()
    _cross_field(facts, errors)
    if isinstance(request, CaseRequest):
        _case_rules(facts, errors)
    if errors.fields:
        raise errors
    provider, plan = resolve(request)
    trial_start, errors = _plan_rules(facts, plan)
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
        language=request.language or default_language(request.country),
    )


def parse_case(data: dict[str, Any], now: dt.datetime) -> NewCase:
    """The web form's fields, already nested, through the same validation as the JSON API.

    A page shows every problem at once: where the API stops at the first stage that fails, the rules of the
    later stages run here too, on the fields that passed (a problem a field already has comes first). The form's
    region is one of the select's: a region not of the country is named in the words of the page.
    """
    region, country = data.get("region"), data.get("country")
    wrong_region = isinstance(region, str) and isinstance(country, str) and region not in regions_of(country)
    try:
        case = parse_case_request(json.dumps(data), now)
    except IntakeErrors as errors:
        if wrong_region or "region" in errors.fields:
            errors.fields["region"] = REGION_PAGE_MESSAGE
        facts = _Facts.lenient(data, errors.fields)
        _cross_field(facts, errors)
        _case_rules(facts, errors)
        plan = _known_plan(str(data.get("provider", "")), str(data.get("plan", "")))
        if plan is not None:
            for path, why in _plan_rules(facts, plan)[1].fields.items():
                errors.add(path, why)
        raise
    if wrong_region:
        raise IntakeErrors({"region": REGION_PAGE_MESSAGE})
    return case


def _known_plan(provider_slug: str, plan_slug: str) -> Plan | None:
    provider = default_catalog().get(provider_slug)
    return provider.plan(plan_slug) if provider is not None else None
