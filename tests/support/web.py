"""Driving the pages as a browser would: read the CSRF token from a page, post its form."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.today import iso_days_ago

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: FlaskClient, page: str = "/") -> str:
    response = client.get(page)
    match = CSRF_RE.search(response.get_data(as_text=True))
    if match is None:
        raise AssertionError(f"no CSRF token on {page} ({response.status_code})")
    return match.group(1)


def post_form(client: FlaskClient, url: str, data: dict[str, Any], page: str = "/") -> TestResponse:
    return client.post(url, data={"csrf_token": csrf_token(client, page), **data})


def filing_form(**changes: str) -> dict[str, str]:
    form = {
        "plan": "coursera:coursera-plus-annual",
        "billing_channel": "direct",
        "country": "AU",
        "payment_date": iso_days_ago(7),
        "amount.value": "599.00",
        "amount.currency": "AUD",
        "requested_outcome": "cancel_and_refund",
        "consumer.name": "Jane Q. Consumer",
        "consumer.email": "jane@example.com",
        "consumer.postal_address": "12 Example Street\nBrunswick VIC 3056",
        "account_identifier": "jane@example.com",
        "consent.send_in_my_name": "yes",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v != ""}


def token_from_location(response: TestResponse) -> str:
    location = response.headers["Location"]
    match = re.search(r"/c/([A-Za-z0-9_-]+)", location)
    if match is None:
        raise AssertionError(f"no status page in {location}")
    return match.group(1)
