"""Validation of a consumer's case as submitted (the web form and the JSON API share it).

Input is the nested shape of the API (``consumer.email``, ``amount.value`` …); every problem is
reported against its dotted field path, all at once, so a form can show each next to its field.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from babel import Locale
from babel.numbers import list_currencies
from email_validator import EmailNotValidError, validate_email

from casework.cases.services import NewCase
from casework.cases.states import BillingChannel, RequestedOutcome
from casework.catalog import default_catalog
from casework.countries import zone_for_country

LIMITS = {
    "consumer.name": 200, "consumer.email": 254, "consumer.postal_address": 500, "consumer.phone": 40,
    "account_identifier": 200, "details": 5000, "company.name": 200, "company.plan_name": 200,
    "company.email": 254, "company.postal_address": 500, "company.web_form_url": 2000,
}
TOP_LEVEL = {
    "provider", "plan", "billing_channel", "country", "region", "timezone", "payment_date",
    "trial_start_date", "next_renewal_date", "certificate_earned", "amount", "requested_outcome",
    "company", "consumer", "account_identifier", "details", "consent",
}
NESTED = {
    "amount": {"value", "currency"},
    "consumer": {"name", "email", "postal_address", "phone"},
    "company": {"name", "email", "postal_address", "web_form_url", "plan_name", "trial_days",
                "refund_window_days"},
    "consent": {"send_in_my_name"},
}
AMOUNT_RE = re.compile(r"^\d{1,10}(\.\d{1,2})?$")
REGION_RE = re.compile(r"^([A-Z]{2})-[A-Z0-9]{1,3}$")


@cache
def countries() -> dict[str, str]:
    """ISO 3166-1 alpha-2 codes with their English names."""
    return {code: name for code, name in Locale("en").territories.items()
            if len(code) == 2 and code.isalpha() and code not in {"ZZ", "XK", "EU", "EZ", "UN", "QO"}}


@cache
def currencies() -> frozenset[str]:
    return frozenset(list_currencies())


@cache
def timezones() -> frozenset[str]:
    return frozenset(available_timezones())


@dataclass
class IntakeErrors(Exception):
    """Field-level problems, keyed by dotted path."""

    fields: dict[str, str] = field(default_factory=dict)

    def add(self, path: str, why: str) -> None:
        self.fields.setdefault(path, why)


class _Reader:
    def __init__(self, data: Mapping[str, Any], errors: IntakeErrors) -> None:
        self.data, self.errors = data, errors

    def raw(self, path: str) -> Any:
        node: Any = self.data
        for part in path.split("."):
            if not isinstance(node, Mapping):
                return None
            node = node.get(part)
        return node

    def text(self, path: str, required: bool = False) -> str | None:
        value = self.raw(path)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.errors.add(path, "required")
            return None
        if not isinstance(value, str):
            self.errors.add(path, "must be a string")
            return None
        value = value.strip()
        limit = LIMITS.get(path)
        if limit and len(value) > limit:
            self.errors.add(path, f"at most {limit} characters")
            return None
        return value

    def choice(self, path: str, options: set[str] | frozenset[str], required: bool = True) -> str | None:
        value = self.text(path, required)
        if value is not None and value not in options:
            self.errors.add(path, "not one of the allowed values")
            return None
        return value

    def date(self, path: str, today: dt.date | None) -> dt.date | None:
        value = self.text(path)
        if value is None:
            return None
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            self.errors.add(path, "must be a date as YYYY-MM-DD")
            return None
        if len(value) != 10:
            self.errors.add(path, "must be a date as YYYY-MM-DD")
            return None
        if today is not None and day > today:
            self.errors.add(path, "must not be in the future")
            return None
        return day

    def boolean(self, path: str) -> bool:
        value = self.raw(path)
        if value is None:
            return False
        if not isinstance(value, bool):
            self.errors.add(path, "must be true or false")
            return False
        return value

    def email(self, path: str, required: bool = False) -> str | None:
        value = self.text(path, required)
        if value is None:
            return None
        try:
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError:
            self.errors.add(path, "not a valid e-mail address")
            return None

    def whole_number(self, path: str, low: int, high: int) -> int | None:
        value = self.raw(path)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.errors.add(path, f"must be a whole number from {low} to {high}")
            return None
        return value


def _unknown_keys(data: Mapping[str, Any], errors: IntakeErrors) -> None:
    for key in data:
        if key not in TOP_LEVEL:
            errors.add(key, "unknown field")
    for parent, allowed in NESTED.items():
        child = data.get(parent)
        if child is None:
            continue
        if not isinstance(child, Mapping):
            errors.add(parent, "must be an object")
            continue
        for key in child:
            if key not in allowed:
                errors.add(f"{parent}.{key}", "unknown field")


def parse_case(data: Mapping[str, Any], now: dt.datetime) -> NewCase:
    """Validate a submitted case; raise IntakeErrors with every field problem found."""
    errors = IntakeErrors()
    _unknown_keys(data, errors)
    r = _Reader(data, errors)

    provider_slug = r.text("provider", required=True)
    plan_slug = r.text("plan", required=True)
    billing = r.choice("billing_channel", {b.value for b in BillingChannel})
    country = r.text("country", required=True)
    if country is not None:
        country = country.upper()
        if country not in countries():
            errors.add("country", "not an ISO 3166-1 country code")
            country = None
    region = r.text("region")
    if region is not None:
        match = REGION_RE.match(region.upper())
        if match is None or (country is not None and match.group(1) != country):
            errors.add("region", "must be an ISO 3166-2 code of the country, such as US-CA")
            region = None
        else:
            region = region.upper()
    zone_name = r.choice("timezone", timezones(), required=False)
    if zone_name is None and country is not None and "timezone" not in errors.fields:
        zone_name = zone_for_country(country)
    today = now.astimezone(ZoneInfo(zone_name)).date() if zone_name else None

    payment_date = r.date("payment_date", today)
    trial_start = r.date("trial_start_date", today)
    next_renewal = r.date("next_renewal_date", None)
    certificate = r.boolean("certificate_earned")
    outcome = r.choice("requested_outcome", {o.value for o in RequestedOutcome})
    amount_value, amount_currency = _amount(r)
    name = r.text("consumer.name", required=True)
    email = r.email("consumer.email", required=True)
    postal = r.text("consumer.postal_address")
    phone = r.text("consumer.phone")
    account = r.text("account_identifier")
    details = r.text("details")
    consent = r.boolean("consent.send_in_my_name")
    if not consent and "consent.send_in_my_name" not in errors.fields:
        errors.add("consent.send_in_my_name", "must be true: we only write in your name with your consent")
    company = _company(r, provider_slug)

    if payment_date is None and trial_start is None and not {"payment_date", "trial_start_date"} & set(
        errors.fields
    ):
        errors.add("payment_date", "required unless trial_start_date is given")

    if errors.fields:
        raise errors

    provider = default_catalog().get(provider_slug or "")
    plan = provider.plan(plan_slug or "") if provider else None
    if provider is None or plan is None:
        raise UnknownSlug("provider" if provider is None else "plan",
                          sorted(default_catalog().providers) if provider is None
                          else [p.slug for p in provider.plans])
    trial_days = plan.trial_days
    if provider.slug == "other" and company:
        trial_days = company.get("trial_days")
    if trial_start is not None and not trial_days:
        errors.add("trial_start_date", "this plan has no free trial")
    if trial_start is not None and payment_date is not None and trial_days:
        first_charge = trial_start + dt.timedelta(days=trial_days)
        if payment_date < first_charge:
            errors.add("payment_date", "is before the trial's first charge day")
        else:
            trial_start = None  # the trial is over; the payment decides
    if errors.fields:
        raise errors

    return NewCase(
        provider=provider.slug,
        plan=plan.slug,
        consumer_name=str(name),
        consumer_email=str(email),
        country=str(country),
        timezone=str(zone_name),
        requested_outcome=RequestedOutcome(str(outcome)),
        billing_channel=BillingChannel(str(billing)),
        payment_date=payment_date,
        trial_start_date=trial_start,
        next_renewal_date=next_renewal,
        certificate_earned=certificate,
        amount_value=amount_value,
        amount_currency=amount_currency,
        consumer_postal_address=postal,
        consumer_phone=phone,
        account_identifier=account,
        details=details,
        region=region,
        company=company,
        consent=consent,
    )


class UnknownSlug(Exception):
    """The body is valid but names no known provider or plan; ``known`` lists the valid slugs."""

    def __init__(self, what: str, known: list[str]) -> None:
        super().__init__(f"unknown {what}")
        self.what, self.known = what, known


def _amount(r: _Reader) -> tuple[decimal.Decimal | None, str | None]:
    if r.raw("amount") is None:
        return None, None
    value = r.text("amount.value", required=True)
    currency = r.text("amount.currency", required=True)
    amount = None
    if value is not None:
        if not AMOUNT_RE.match(value) or decimal.Decimal(value) <= 0:
            r.errors.add("amount.value", "a positive amount with at most 2 decimals, such as 599.00")
        else:
            amount = decimal.Decimal(value)
    if currency is not None:
        currency = currency.upper()
        if currency not in currencies():
            r.errors.add("amount.currency", "not an ISO 4217 currency code")
            currency = None
    return amount, currency


def _company(r: _Reader, provider_slug: str | None) -> dict[str, Any] | None:
    if r.raw("company") is None:
        if provider_slug == "other":
            r.errors.add("company.name", "required for another company")
        return None
    if provider_slug != "other":
        r.errors.add("company", "only with provider \"other\"")
        return None
    company: dict[str, Any] = {
        "name": r.text("company.name", required=True),
        "email": r.email("company.email"),
        "postal_address": r.text("company.postal_address"),
        "web_form_url": r.text("company.web_form_url"),
        "plan_name": r.text("company.plan_name"),
        "trial_days": r.whole_number("company.trial_days", 1, 366),
        "refund_window_days": r.whole_number("company.refund_window_days", 1, 366),
    }
    url = company["web_form_url"]
    if url is not None and not re.match(r"^https?://[^\s/]+\.[^\s]+$", url):
        r.errors.add("company.web_form_url", "must be an http:// or https:// address")
    channels = ("email", "postal_address", "web_form_url")
    if not any(company[c] for c in channels) and not any(f"company.{c}" in r.errors.fields for c in channels):
        r.errors.add("company.email", "give at least one way to reach the company: e-mail, web form or post")
    return {k: v for k, v in company.items() if v is not None}
