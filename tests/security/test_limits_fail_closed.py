"""When the rate limits' counter store is down, every route that checks a secret (a consumer's link or bearer token,
a confirmation or erasure code, a letter's code, a staff password or API token, "lost your link") refuses with a
clear 503 instead of running unlimited; the rest of the site keeps working without limits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask

from casework import create_app
from casework.runtime import runtime_of
from casework.web import is_secret_check, limiter
from tests.security.test_hardening import assert_security_headers
from tests.security.test_hardening_limits import secret_routes, with_guesses
from tests.support.smtp import free_port
from tests.support.today import iso_days_ago
from tests.support.web import csrf_token

pytestmark = [pytest.mark.http, pytest.mark.storage]

# Routes that check a secret without a token in their URL or a bearer token: a password, an address, a code.
CHECKED_BY_FORM = {("POST", "/staff/login"), ("POST", "/lost-link"), ("POST", "/staff/tokens"),
                   ("POST", "/staff/password")}


@contextmanager
def store_down(app: Flask, overrides: dict[str, Any]) -> Iterator[Flask]:
    """Another app whose counters live in a Redis server on a port where nothing listens."""
    down = create_app({**overrides, "ratelimit_enabled": True,
                       "ratelimit_storage_url": f"redis://127.0.0.1:{free_port()}/0"})
    down.testing = True
    try:
        yield down
    finally:
        limiter.init_app(app)
        limiter.reset()
        runtime_of(down).engine.dispose()


@pytest.fixture
def down(app: Flask, settings_overrides: dict[str, Any]) -> Iterator[Flask]:
    with store_down(app, settings_overrides) as other:
        yield other


def test_the_routes_that_check_a_secret_are_the_ones_that_fail_closed(app: Flask) -> None:
    expected = {(method, rule.rule) for rule, method in secret_routes(app)} | CHECKED_BY_FORM
    closed = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static" and is_secret_check(app.view_functions[rule.endpoint]):
            closed |= {(method, rule.rule) for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}}
    assert sorted(expected - closed) == []
    assert closed.isdisjoint({("GET", "/"), ("POST", "/"), ("POST", "/api/v1/cases"), ("GET", "/staff/login"),
                              ("GET", "/lost-link"), ("POST", "/api/v1/assessments"), ("GET", "/staff")})


def test_every_secret_route_answers_503_while_the_counters_are_unreachable(down: Flask) -> None:
    client = down.test_client()
    form_token = csrf_token(client, "/")
    wrong = []
    for rule, method in secret_routes(down):
        path = with_guesses(rule)
        if rule.rule.startswith("/api/"):
            response = client.open(path, method=method, json={} if method != "GET" else None,
                                   headers={"Authorization": "Bearer cwst_" + "x" * 43})
            if response.status_code != 503 or response.get_json().get("error") != "unavailable":
                wrong.append(f"{method} {rule.rule}: {response.status_code}")
            continue
        response = client.open(path, method=method, data={"csrf_token": form_token} if method == "POST" else None)
        if response.status_code != 503 or "Temporarily unavailable" not in response.get_data(as_text=True):
            wrong.append(f"{method} {rule.rule}: {response.status_code}")
        assert_security_headers(response)
        assert response.headers.get("Retry-After", "").isdigit()
    assert wrong == []


def test_sign_in_and_lost_link_refuse_while_the_counters_are_unreachable(down: Flask) -> None:
    client = down.test_client()
    token = csrf_token(client, "/staff/login")
    signing_in = client.post("/staff/login", data={"csrf_token": token, "email": "a@casework.test",
                                                   "password": "a password, any"})
    lost_link = client.post("/lost-link", data={"csrf_token": token, "email": "jane@example.com"})
    for response in (signing_in, lost_link):
        assert response.status_code == 503
        page = response.get_data(as_text=True)
        assert "Temporarily unavailable" in page
        assert "nothing was done" in page


def test_the_rest_of_the_site_works_without_limits_meanwhile(down: Flask) -> None:
    client = down.test_client()
    assert client.get("/").status_code == 200
    assert client.get("/staff/login").status_code == 200
    assert client.get("/lost-link").status_code == 200
    assert client.get("/api/v1/providers").status_code == 200
    assessment = client.post("/api/v1/assessments", json={
        "provider": "coursera", "plan": "coursera-plus-annual", "billing_channel": "direct", "country": "AU",
        "payment_date": iso_days_ago(7), "requested_outcome": "cancel"})
    assert assessment.status_code == 200
