"""Wrong staff passwords slow the guesser down without locking the owner out: they count per account and client
(network, or the owner's own browser), and across networks an account takes only so many a minute from browsers it
does not know; the wait is at most a window, and the owner's own browser is never held up by others."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from casework.runtime import Runtime
from casework.staff.accounts import create_staff
from casework.staff.throttle import ACCOUNT_FAILURES, CLIENT_FAILURES, DEVICE_COOKIE
from tests.security.test_hardening import own_app
from tests.support.staff import PASSWORD
from tests.support.web import csrf_token
from tests.support.writes import writing

pytestmark = [pytest.mark.http, pytest.mark.storage]
FIRST_SUPERVISOR = "supervisor@casework.localhost"  # `flask staff ensure`'s address when none is given
GENERIC = "The e-mail address or password is not right."


@pytest.fixture
def app_of_its_own(app: Flask, settings_overrides: dict[str, Any], committed: Runtime) -> Iterator[Flask]:
    with writing(committed) as session:
        create_staff(session, FIRST_SUPERVISOR, "Supervisor", PASSWORD, role="supervisor")
    with own_app(app, settings_overrides) as other:
        yield other


def attempt(client: FlaskClient, network: str, password: str, email: str = FIRST_SUPERVISOR) -> TestResponse:
    token = csrf_token(client, "/staff/login")
    return client.post("/staff/login", data={"csrf_token": token, "email": email, "password": password},
                       environ_base={"REMOTE_ADDR": network})


def test_wrong_passwords_from_one_network_do_not_lock_the_owner_out(app_of_its_own: Flask) -> None:
    """The first supervisor's address is well known; five guesses from anywhere used to lock them out for 15
    minutes. Now the guesser waits, and the owner signs in from their own network."""
    stranger = app_of_its_own.test_client()
    answers = [attempt(stranger, "2001:db8:bad::1", "a guess").status_code for _ in range(CLIENT_FAILURES.amount)]
    assert answers == [401] * CLIENT_FAILURES.amount
    held = attempt(stranger, "2001:db8:bad::2", PASSWORD)  # the same /64: even the right password waits
    assert held.status_code == 429
    assert re.search(r"Try again in \d+ minutes?", held.get_data(as_text=True))
    assert 60 < int(held.headers["Retry-After"]) <= 15 * 60
    owner = app_of_its_own.test_client()
    assert attempt(owner, "192.0.2.44", PASSWORD).status_code == 303


def test_guessing_from_many_networks_is_delayed_and_the_owner_s_browser_is_not(app_of_its_own: Flask) -> None:
    owner = app_of_its_own.test_client()
    assert attempt(owner, "192.0.2.44", PASSWORD).status_code == 303  # an earlier sign-in: this browser is known
    assert owner.get_cookie(DEVICE_COOKIE, path="/staff") is not None
    answers = [attempt(app_of_its_own.test_client(), f"2001:db8:{n + 1}::1", "a guess")
               for n in range(ACCOUNT_FAILURES.amount)]  # each from a network of its own
    # The owner's first sign-in, from a browser the account did not know yet, was one of its ten a minute.
    assert [a.status_code for a in answers] == [401] * (ACCOUNT_FAILURES.amount - 1) + [429]
    assert int(answers[-1].headers["Retry-After"]) <= 60  # a moment's wait, not a lock
    assert attempt(app_of_its_own.test_client(), "2001:db8:ffff::1", PASSWORD).status_code == 429
    assert attempt(owner, "192.0.2.44", PASSWORD).status_code == 303  # the owner's own browser goes straight in


def test_a_throttled_unknown_address_is_answered_like_a_throttled_account(app_of_its_own: Flask) -> None:
    def held(email: str, network: str) -> TestResponse:
        client = app_of_its_own.test_client()
        for _ in range(CLIENT_FAILURES.amount):
            assert attempt(client, network, "a guess", email).status_code == 401
        return attempt(client, network, PASSWORD, email)

    known, unknown = held(FIRST_SUPERVISOR, "198.51.100.9"), held("nobody@casework.localhost", "198.51.100.10")
    assert known.status_code == unknown.status_code == 429
    strip = re.compile(rb'name="csrf_token" value="[^"]+"|value="[^"]*@casework.localhost"|Try again in \d+ \w+')
    assert strip.sub(b"", known.get_data()) == strip.sub(b"", unknown.get_data())


def test_signing_in_forgives_the_client_s_earlier_mistakes(app_of_its_own: Flask) -> None:
    client = app_of_its_own.test_client()
    for _ in range(CLIENT_FAILURES.amount - 1):
        assert attempt(client, "192.0.2.50", "a typo").status_code == 401
    response = attempt(client, "192.0.2.50", PASSWORD)
    assert response.status_code == 303
    assert GENERIC not in response.get_data(as_text=True)
    for _ in range(CLIENT_FAILURES.amount - 1):
        assert attempt(client, "192.0.2.50", "another typo").status_code == 401
    assert attempt(client, "192.0.2.50", PASSWORD).status_code == 303
