"""Reading JSON request bodies: the content type checked once, one strict base for action bodies, one reader.

Every action body forbids unknown fields and coerces nothing (``strict``), so a typo in a field name is a
422 naming it rather than a silently ignored value.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ConfigDict

from casework.cases.intake import BadRequest, validate
from casework.cases.models import Case
from casework.db import utcnow

JSON_TYPES = ("application/json",)
B = TypeVar("B", bound=BaseModel)


class Body(BaseModel):
    """The base of every action body."""

    model_config = ConfigDict(extra="forbid", strict=True)


def read_json_body() -> bytes:
    """The raw body, once its content type is JSON (400 otherwise)."""
    if request.mimetype not in JSON_TYPES:
        raise BadRequest("Send JSON with Content-Type: application/json.")
    return request.get_data(cache=False)


def read_json_object() -> dict[str, Any]:
    """The body as a JSON object, for a view that merges it before validating (400 for anything else).

    Deep nesting is a malformed body too: the parser's RecursionError is not a ValueError, and would be a 500.
    """
    raw = read_json_body()
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("The body is not valid JSON (or is nested too deeply).") from None
    if not isinstance(parsed, dict):
        raise BadRequest("The body must be a JSON object.")
    return parsed


def action_body(model: type[B]) -> B:
    """An action's JSON body validated by ``model``; an empty body is ``{}`` (every field optional)."""
    raw = request.get_data(cache=False)
    if not raw.strip():
        raw = b"{}"
    elif request.mimetype != "application/json":
        raise BadRequest("Send JSON with Content-Type: application/json.")
    return validate(model, raw, utcnow())


def merge_changes(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A correction names only what changes; nested objects are merged a level down."""
    merged = dict(current)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def case_as_request(case: Case) -> dict[str, Any]:
    """The case's facts in the API's request shape, so a correction can be validated as a whole."""
    return {
        "provider": case.provider_slug, "plan": case.plan_slug, "billing_channel": case.billing_channel.value,
        "country": case.country, "region": case.region, "timezone": case.timezone, "language": case.language,
        "payment_date": case.payment_date.isoformat() if case.payment_date else None,
        "trial_start_date": case.trial_start_date.isoformat() if case.trial_start_date else None,
        "next_renewal_date": case.next_renewal_date.isoformat() if case.next_renewal_date else None,
        "subscription_start_date": case.subscription_start_date.isoformat() if case.subscription_start_date else None,
        "certificate_earned": case.certificate_earned,
        "amount": ({"value": f"{case.amount_value:.2f}", "currency": case.amount_currency}
                   if case.amount_value is not None else None),
        "requested_outcome": case.requested_outcome.value,
        "consumer": {"name": case.consumer_name, "email": case.consumer_email,
                     "postal_address": case.consumer_postal_address, "phone": case.consumer_phone},
        "account_identifier": case.account_identifier, "details": case.details, "company": case.company,
        "consent": {"send_in_my_name": True},
    }
