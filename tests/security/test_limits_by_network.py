"""Rate limits count an IPv6 client by its /64 (one subscriber's network: whoever has one picks any of its 2**64
addresses) and an IPv4 client by its address."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from casework.web import client_network
from tests.security.test_hardening import own_app
from tests.support.web import csrf_token

pytestmark = [pytest.mark.http, pytest.mark.storage]


@pytest.fixture
def limited(app: Flask, settings_overrides: dict[str, Any]) -> Iterator[Flask]:
    with own_app(app, settings_overrides) as other:
        yield other


def sign_in_from(app: Flask, address: str) -> TestResponse:
    client = app.test_client()
    environ = {"REMOTE_ADDR": address}
    token = csrf_token(client, "/staff/login")
    return client.post("/staff/login", data={"csrf_token": token, "email": "nobody@casework.test",
                                             "password": "not the password"}, environ_base=environ)


def test_two_addresses_of_one_ipv6_64_share_one_budget(limited: Flask) -> None:
    """Sign-in allows five tries a minute from one client: hopping between addresses of a /64 gains nothing."""
    answers = [sign_in_from(limited, f"2001:db8:1:2::{n + 1:x}").status_code for n in range(5)]
    assert answers == [401] * 5
    assert sign_in_from(limited, "2001:db8:1:2:ffff:ffff:ffff:fffe").status_code == 429
    assert sign_in_from(limited, "2001:db8:1:3::1").status_code == 401  # the next /64 is another client


def test_ipv4_clients_are_counted_by_address(limited: Flask) -> None:
    assert [sign_in_from(limited, "192.0.2.10").status_code for _ in range(6)] == [401] * 5 + [429]
    assert sign_in_from(limited, "192.0.2.11").status_code == 401


@pytest.mark.parametrize(("address", "key"), [
    ("192.0.2.10", "192.0.2.10"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("::ffff:192.0.2.10", "192.0.2.10"),
    ("not an address", "not an address"),
])
def test_the_client_key(app: Flask, address: str, key: str) -> None:
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": address}):
        assert client_network() == key
