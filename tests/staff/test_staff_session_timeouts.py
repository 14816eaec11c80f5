"""A staff session ends after a while without activity (30 minutes by default) and, active or not, some hours after
signing in (12 by default); the sign-in page then says why."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from casework.db import utcnow
from casework.runtime import Runtime
from casework.staff.accounts import create_staff
from casework.staff.sessions import SEEN_AT, SIGNED_IN_AT
from casework.web import limiter
from tests.security.test_hardening import own_app
from tests.support.staff import PASSWORD
from tests.support.web import post_form
from tests.support.writes import writing

pytestmark = pytest.mark.http
CASEY = "casey@casework.test"


@pytest.fixture
def casey(committed: Runtime) -> str:
    limiter.reset()
    with writing(committed) as session:
        create_staff(session, CASEY, "Casey", PASSWORD)
    return CASEY


def signed_in(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert post_form(client, "/staff/login", {"email": CASEY, "password": PASSWORD},
                     page="/staff/login").status_code == 303
    return client


def age(client: FlaskClient, *, seen: dt.timedelta, signed_in: dt.timedelta | None = None) -> None:
    """Pretend the last request was ``seen`` ago (and the sign-in ``signed_in`` ago)."""
    now = utcnow()
    with client.session_transaction() as session:
        session[SEEN_AT] = (now - seen).timestamp()
        if signed_in is not None:
            session[SIGNED_IN_AT] = (now - signed_in).timestamp()


def sent_to_sign_in(client: FlaskClient) -> str:
    response = client.get("/staff")
    assert response.status_code == 302
    assert "/staff/login" in response.headers["Location"]
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_thirty_minutes_without_activity_sign_a_person_out(app: Flask, casey: str) -> None:
    client = signed_in(app)
    age(client, seen=dt.timedelta(minutes=29))
    assert client.get("/staff").status_code == 200  # activity: the clock starts again
    with client.session_transaction() as session:
        assert session[SEEN_AT] > (utcnow() - dt.timedelta(minutes=1)).timestamp()
    age(client, seen=dt.timedelta(minutes=31))
    page = sent_to_sign_in(client)
    assert "You were signed out after 30 minutes without activity" in page
    assert client.get("/staff").status_code == 302  # for good


def test_twelve_hours_after_signing_in_the_session_ends_however_active(app: Flask, casey: str) -> None:
    client = signed_in(app)
    age(client, seen=dt.timedelta(minutes=1), signed_in=dt.timedelta(hours=11, minutes=59))
    assert client.get("/staff").status_code == 200
    age(client, seen=dt.timedelta(minutes=1), signed_in=dt.timedelta(hours=12, minutes=1))
    assert "You were signed out 12 hours after signing in" in sent_to_sign_in(client)


def test_a_session_without_its_times_is_not_signed_in(app: Flask, casey: str) -> None:
    client = signed_in(app)
    with client.session_transaction() as session:
        del session[SEEN_AT]
    assert client.get("/staff").status_code == 302


@pytest.fixture
def short_sessions(app: Flask, settings_overrides: dict[str, Any]) -> Iterator[Flask]:
    with own_app(app, settings_overrides, staff_idle_minutes=5, staff_session_hours=1) as other:
        yield other


def test_both_limits_are_settings(short_sessions: Flask, casey: str) -> None:
    client = signed_in(short_sessions)
    age(client, seen=dt.timedelta(minutes=4))
    assert client.get("/staff").status_code == 200
    age(client, seen=dt.timedelta(minutes=6))
    assert "You were signed out after 5 minutes without activity" in sent_to_sign_in(client)
    client = signed_in(short_sessions)
    age(client, seen=dt.timedelta(minutes=1), signed_in=dt.timedelta(minutes=61))
    assert "You were signed out 1 hour after signing in" in sent_to_sign_in(client)
