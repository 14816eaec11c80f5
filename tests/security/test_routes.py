"""Every route declares who may use it, and secrets never reach a log line."""

from __future__ import annotations

import logging

import pytest
from flask import Flask

from casework.access import RULE_ATTRIBUTE
from casework.web import RedactSecrets, limiter, redact

pytestmark = pytest.mark.http


def test_every_route_has_a_rule(app: Flask) -> None:
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        if getattr(view, RULE_ATTRIBUTE, None) not in ("anonymous", "consumer", "staff", "supervisor",
                                                             "staff_token"):
            missing.append(f"{rule.rule} ({rule.endpoint})")
    assert missing == []


def test_rules_hold_for_strangers(app: Flask) -> None:
    """Anonymous requests: consumer routes with a made-up token are 404, staff routes send to sign-in."""
    limiter.reset()
    client = app.test_client()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        audience = getattr(app.view_functions[rule.endpoint], RULE_ATTRIBUTE)
        values = {arg: ("madeup-token-" + "x" * 30 if arg == "token" else 7 if arg.endswith("_id")
                        else "coursera" if arg == "slug" else "CW-2026-AAAAAAAA") for arg in rule.arguments}
        path = rule.build(values)[1]
        method = "GET" if "GET" in (rule.methods or ()) else sorted(set(rule.methods or ()) - {"HEAD", "OPTIONS"})[0]
        response = client.open(path, method=method)
        if audience == "staff_token":
            assert response.status_code == 401, path  # the staff API without a staff token
            assert response.get_json()["error"] == "unauthorized", path
        elif audience == "consumer":
            assert response.status_code in (404, 400), path  # 400: a POST without its CSRF token
            if method == "GET":
                assert response.status_code == 404, path
        elif audience in ("staff", "supervisor") and method == "GET":
            assert response.status_code == 302, path
            assert "/staff/login" in response.headers["Location"], path
        elif audience == "anonymous" and method == "GET":
            assert response.status_code in (200, 302, 404), path  # open to all; made-up values may be 404


def test_consumer_links_and_codes_are_redacted() -> None:
    line = '127.0.0.1 - - "GET /c/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcd/confirm?code=7K3M-9QXD HTTP/1.1" 200'
    cleaned = redact(line)
    assert "AbCdEfGh" not in cleaned
    assert "7K3M" not in cleaned
    assert "/c/[redacted]/confirm?code=[redacted]" in cleaned
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, '%s - - "%s" %s',
                               ("127.0.0.1", "GET /c/AbCdEfGhIjKlMnOpQrStUvWxYz HTTP/1.1", "200"), None)
    RedactSecrets().filter(record)
    assert "AbCdEfGh" not in record.getMessage()
