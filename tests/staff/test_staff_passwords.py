"""A password someone else saw (a new account's, a reset one, the first supervisor's) is changed at the first
sign-in: until then the page to change it is the only one its holder can reach."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from casework.runtime import Runtime
from casework.staff.accounts import create_staff, verify_password
from casework.staff.models import StaffApiToken, StaffUser
from casework.web import limiter
from tests.support.staff import PASSWORD
from tests.support.web import post_form
from tests.support.writes import writing

pytestmark = pytest.mark.http
SAM = "sam@casework.test"
ROBIN = "robin@casework.test"
NEW_PASSWORD = "a sentence only Robin knows"
SHOWN = re.compile(r'<code class="password">([^<]+)</code>')


@pytest.fixture
def supervisor(app: Flask, committed: Runtime) -> FlaskClient:
    limiter.reset()
    with writing(committed) as session:
        create_staff(session, SAM, "Sam", PASSWORD, role="supervisor")
    client = app.test_client()
    assert sign_in(client, SAM, PASSWORD).endswith("/staff")
    return client


def account(runtime: Runtime, email: str) -> StaffUser:
    with runtime.sessions() as session:
        return session.execute(select(StaffUser).where(StaffUser.email == email)).scalar_one()


def new_account(supervisor: FlaskClient) -> str:
    response = post_form(supervisor, "/staff/users", {"email": ROBIN, "name": "Robin", "role": "caseworker"},
                         page="/staff/users")
    assert response.status_code == 201
    shown = SHOWN.search(response.get_data(as_text=True))
    assert shown is not None
    return shown.group(1)


def sign_in(client: FlaskClient, email: str, password: str) -> str:
    response = post_form(client, "/staff/login", {"email": email, "password": password}, page="/staff/login")
    assert response.status_code == 303
    return response.headers["Location"]


def change(client: FlaskClient, current: str, new: str, again: str | None = None) -> tuple[int, str]:
    response = post_form(client, "/staff/password", {"current_password": current, "new_password": new,
                                                     "confirm_password": new if again is None else again},
                         page="/staff/password")
    return response.status_code, response.get_data(as_text=True)


def test_a_new_account_changes_its_password_before_anything_else(app: Flask, supervisor: FlaskClient,
                                                                 committed: Runtime) -> None:
    generated = new_account(supervisor)
    assert account(committed, ROBIN).must_change_password
    robin = app.test_client()
    assert sign_in(robin, ROBIN, generated).endswith("/staff/password")
    for path in ("/staff", "/staff/tokens", "/staff/catalog", "/staff/cases/CW-2026-ZZZZZZZZ"):
        response = robin.get(path)
        assert response.status_code == 303, path
        assert response.headers["Location"].endswith("/staff/password"), path
    made = post_form(robin, "/staff/tokens", {"name": "x", "password": generated}, page="/staff/password")
    assert made.status_code == 303
    with committed.sessions() as session:
        assert session.scalars(select(StaffApiToken)).first() is None
    page = robin.get("/staff/password")
    assert page.status_code == 200
    assert "Choose your own password" in page.get_data(as_text=True)

    status, page = change(robin, generated, NEW_PASSWORD)
    assert status == 303
    assert not account(committed, ROBIN).must_change_password
    assert robin.get("/staff").status_code == 200
    limiter.reset()
    assert post_form(app.test_client(), "/staff/login", {"email": ROBIN, "password": generated},
                     page="/staff/login").status_code == 401
    assert sign_in(app.test_client(), ROBIN, NEW_PASSWORD).endswith("/staff")


def test_the_change_form_says_what_is_wrong_field_by_field(app: Flask, supervisor: FlaskClient,
                                                           committed: Runtime) -> None:
    generated = new_account(supervisor)
    robin = app.test_client()
    sign_in(robin, ROBIN, generated)
    cases = [
        (("", NEW_PASSWORD, None), "current_password", "Enter the password you signed in with"),
        ((generated, "too short", None), "new_password", "at least 12 characters"),
        ((generated, generated, None), "new_password", "different from the one you have now"),
        ((generated, ROBIN.upper(), None), "new_password", "other than your e-mail address"),
        ((generated, NEW_PASSWORD, NEW_PASSWORD + "!"), "confirm_password", "does not match"),
        (("not the password at all", NEW_PASSWORD, None), "current_password", "That is not your current password"),
    ]
    for (current, new, again), field, message in cases:
        status, page = change(robin, current, new, again)
        assert status == 422, (field, message)
        assert f'id="{field}-error"' in page
        assert message in page
        assert NEW_PASSWORD not in page  # passwords are never written back into the page
    user = account(committed, ROBIN)
    assert user.must_change_password
    assert verify_password(user, generated)


def test_a_reset_password_must_be_changed_too(app: Flask, supervisor: FlaskClient, committed: Runtime) -> None:
    with writing(committed) as session:
        casey = create_staff(session, "casey@casework.test", "Casey", PASSWORD).id
    assert not account(committed, "casey@casework.test").must_change_password  # chosen by its owner
    response = post_form(supervisor, f"/staff/users/{casey}/reset-password", {}, page="/staff/users")
    shown = SHOWN.search(response.get_data(as_text=True))
    assert shown is not None
    assert "choose their own" in response.get_data(as_text=True)
    client = app.test_client()
    assert sign_in(client, "casey@casework.test", shown.group(1)).endswith("/staff/password")
    assert change(client, shown.group(1), NEW_PASSWORD)[0] == 303
    assert client.get("/staff").status_code == 200


def test_the_first_supervisor_chooses_a_password_at_first_sign_in(app: Flask, committed: Runtime) -> None:
    limiter.reset()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["staff", "ensure"])
    assert result.exit_code == 0, result.output
    printed = re.search(r"password: (\S+)", result.output)
    assert printed is not None
    assert len(printed.group(1)) >= 20  # 120 random bits
    login = re.search(r"login:\s+(\S+)", result.output)
    assert login is not None
    assert account(committed, login.group(1)).must_change_password
    client = app.test_client()
    assert sign_in(client, login.group(1), printed.group(1)).endswith("/staff/password")
    again = runner.invoke(args=["staff", "ensure"])
    assert "password:" not in again.output  # printed once only
