"""Rate limits: filing, confirmation, sign-in, "lost your link", letter checks and every look-up by a secret
(a consumer's link, a bearer token, wrong ones included) end in 429 with ``Retry-After``: a readable page
for people, the API's JSON error under ``/api/``. Each test has an app whose counters are its own."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from tests.security.test_hardening import assert_security_headers, own_app
from tests.support.web import csrf_token, filing_form

pytestmark = [pytest.mark.http, pytest.mark.storage]

# Every limit on these routes is at most this many requests per window.
MOST_ALLOWED = 240
SECRET_ARGUMENTS = {"token", "reference", "code"}


@pytest.fixture
def limited(app: Flask, settings_overrides: dict[str, Any]) -> Iterator[Flask]:
    with own_app(app, settings_overrides, trusted_proxies="10.0.0.0/8") as other:
        yield other


def assert_rate_limited(response: TestResponse) -> None:
    """A 429 a person or a program can act on: when to come back, and in the right language."""
    assert response.status_code == 429, (response.status_code, response.get_data(as_text=True)[:300])
    retry_after = response.headers.get("Retry-After", "")
    assert retry_after.isdigit(), retry_after
    assert int(retry_after) >= 1
    assert_security_headers(response)
    if response.request.path.startswith("/api/"):
        body = response.get_json()
        assert body["error"] == "rate_limited"
        assert body["message"]
    else:
        assert response.mimetype == "text/html"
        page = response.get_data(as_text=True)
        assert "Too many attempts" in page or re.search(r"Try again in \d+ (second|minute)", page), page[:2000]


def until_limited(send: Callable[[int], TestResponse], at_most: int = MOST_ALLOWED + 1) -> tuple[int, TestResponse]:
    """Send until a 429 (at most ``at_most`` tries); (how many were answered before it, the 429)."""
    for attempt in range(at_most):
        response = send(attempt)
        assert response.status_code < 500, (response.request.path, response.status_code)
        if response.status_code == 429:
            return attempt, response
    raise AssertionError(f"no 429 after {at_most} requests to {response.request.path}")


def guess() -> str:
    return secrets.token_urlsafe(32)


def secret_routes(app: Flask) -> list[tuple[Rule, str]]:
    """Every route (and method) that looks something up by a secret from its URL or a bearer token."""
    found = []
    for rule in app.url_map.iter_rules():
        by_secret = bool(SECRET_ARGUMENTS & set(rule.arguments))
        bearer = rule.rule.startswith("/api/v1/") and not rule.rule.startswith(("/api/v1/providers",
                                                                                 "/api/v1/assessments"))
        if rule.rule.startswith("/staff") or not (by_secret or bearer):
            continue
        found += [(rule, method) for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
                  if not (rule.rule == "/api/v1/cases" and method == "POST")]  # filing: its own test
    return found


def with_guesses(rule: Rule) -> str:
    """The rule's path with a fresh wrong secret (a well-formed one: a reference or a code looks real)."""
    values: dict[str, Any] = {}
    for name in rule.arguments:
        if name.endswith("_id"):
            values[name] = 1
        elif name == "reference":
            values[name] = "CW-" + secrets.token_hex(4).upper()
        elif name == "code":
            values[name] = "-".join(secrets.token_hex(3).upper()[:5] for _ in range(2))
        else:
            values[name] = guess()
    built = rule.build(values, append_unknown=False)
    assert built is not None
    return built[1]


def test_the_sweep_finds_the_secret_routes(limited: Flask) -> None:
    paths = {rule.rule for rule, _ in secret_routes(limited)}
    assert {"/c/<token>", "/c/<token>/confirm", "/api/v1/cases/<reference>", "/verify/<code>",
            "/reminders/unsubscribe/<token>", "/api/v1/queue"} <= paths


def test_guessing_secrets_is_throttled_on_every_route_that_takes_one(limited: Flask) -> None:
    """A new wrong secret each time (as someone guessing would send): every such route still says 429."""
    unlimited = []
    for rule, method in secret_routes(limited):
        client = limited.test_client()
        form_token = csrf_token(client, "/") if not rule.rule.startswith("/api/") else ""

        def send(attempt: int, rule: Rule = rule, method: str = method, client: FlaskClient = client,
                 form_token: str = form_token) -> TestResponse:
            path = with_guesses(rule)
            if rule.rule.startswith("/api/"):
                return client.open(path, method=method, json={} if method != "GET" else None,
                                   headers={"Authorization": "Bearer " + guess()})
            return client.open(path, method=method, data={"csrf_token": form_token} if method == "POST" else None)

        try:
            answered, response = until_limited(send)
        except AssertionError:
            unlimited.append(f"{method} {rule.rule}")
            continue
        assert answered >= 1, rule.rule
        assert_rate_limited(response)
    assert unlimited == []


@pytest.mark.parametrize(("path", "json", "form", "allowed"), [
    ("/", False, filing_form(**{"consumer.email": "jane-{attempt}@example.com"}), 3),  # filings count, not errors
    ("/api/v1/cases", True, {"provider": "coursera"}, 10),
    ("/lost-link", False, {"email": "not-an-address-{attempt}"}, 10),
    ("/staff/login", False, {"email": "nobody@casework.test", "password": "not the password"}, 5),
])
def test_filing_sign_in_and_lost_link_are_limited(limited: Flask, path: str, json: bool, form: dict[str, str],
                                                  allowed: int) -> None:
    client = limited.test_client()
    token = csrf_token(client, "/")

    def send(attempt: int) -> TestResponse:
        filled = {name: value.format(attempt=attempt) for name, value in form.items()}
        if json:
            return client.post(path, json=filled)
        return client.post(path, data={"csrf_token": token, **filled})

    answered, response = until_limited(send)
    assert answered == allowed
    assert_rate_limited(response)


def test_lost_link_past_an_address_s_allowance_is_never_refused(limited: Flask) -> None:
    """Someone cannot flood one person's inbox by asking from many addresses (three e-mails an hour per address,
    see test_enumeration.py), nor turn that allowance against its owner: past it the answer stays the usual page."""
    for attempt in range(6):
        client = limited.test_client()
        forwarded = {"X-Forwarded-For": f"198.51.100.{attempt + 1}"}
        token = csrf_token(client, "/")
        response = client.post("/lost-link", data={"csrf_token": token, "email": "jane@example.com"},
                               headers=forwarded, environ_base={"REMOTE_ADDR": "10.0.0.2"})
        assert response.status_code == 200, attempt
        assert "Check your e-mail" in response.get_data(as_text=True)


def test_a_trusted_proxy_tells_clients_apart_and_nobody_else_can(limited: Flask) -> None:
    def file_from(remote: str, claimed: str) -> Callable[[int], TestResponse]:
        client = limited.test_client()
        token = csrf_token(client, "/")

        def send(attempt: int) -> TestResponse:
            email = f"{claimed}-{remote}-{attempt}@example.com"
            return client.post("/", data={"csrf_token": token, **filing_form(**{"consumer.email": email})},
                               headers={"X-Forwarded-For": claimed}, environ_base={"REMOTE_ADDR": remote})
        return send

    # Behind the proxy, each client has its own budget (three filings a minute).
    assert until_limited(file_from("10.0.0.2", "198.51.100.1"))[0] == 3
    assert until_limited(file_from("10.0.0.2", "198.51.100.2"))[0] == 3
    # Directly, a made-up X-Forwarded-For changes nothing: one address, one budget.
    direct = [file_from("192.0.2.9", f"203.0.113.{n}") for n in range(5)]
    assert [send(0).status_code for send in direct] == [303, 303, 303, 429, 429]
