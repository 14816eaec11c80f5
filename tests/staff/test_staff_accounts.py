"""Staff accounts: signing out ends the session for good, hashes follow the current argon2 parameters, and
supervisors manage accounts from the CLI and the pages (wrong passwords: test_staff_sign_in_throttle.py)."""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from casework.runtime import Runtime
from casework.staff.accounts import create_staff
from casework.staff.models import StaffUser
from casework.web import limiter
from tests.support.web import post_form
from tests.support.writes import writing

pytestmark = pytest.mark.http
PASSWORD = "correct horse battery staple"
GENERIC = "The e-mail address or password is not right."
CASEY = "casey@casework.test"
SAM = "sam@casework.test"


@pytest.fixture
def staff(committed: Runtime) -> Runtime:
    limiter.reset()
    with writing(committed) as session:
        create_staff(session, CASEY, "Casey Worker", PASSWORD)
        create_staff(session, SAM, "Sam Supervisor", PASSWORD, role="supervisor")
    return committed


@pytest.fixture
def client(app: Flask, staff: Runtime) -> FlaskClient:
    """Not used as a context manager: several browsers at once must not share one preserved request context."""
    return app.test_client()


def sign_in(client: FlaskClient, email: str = CASEY, password: str = PASSWORD) -> tuple[int, str]:
    response = post_form(client, "/staff/login", {"email": email, "password": password}, page="/staff/login")
    return response.status_code, response.get_data(as_text=True)


def account(runtime: Runtime, email: str) -> StaffUser:
    with runtime.sessions() as session:
        return session.execute(select(StaffUser).where(StaffUser.email == email)).scalar_one()


def copy_session(app: Flask, source: FlaskClient) -> FlaskClient:
    cookie = source.get_cookie("session")
    assert cookie is not None
    other = app.test_client()
    other.set_cookie("session", cookie.value)
    return other


def test_a_copied_cookie_stops_working_after_signing_out(app: Flask, client: FlaskClient, staff: Runtime) -> None:
    assert sign_in(client)[0] == 303
    assert account(staff, CASEY).session_token
    copied = copy_session(app, client)
    assert copied.get("/staff").status_code == 200  # the same cookie is the same session until sign-out
    assert post_form(client, "/staff/logout", {}, page="/staff").status_code == 303
    assert account(staff, CASEY).session_token is None
    response = copied.get("/staff")
    assert response.status_code == 302
    assert "/staff/login" in response.headers["Location"]


def test_signing_in_elsewhere_ends_the_first_session(app: Flask, client: FlaskClient) -> None:
    assert sign_in(client)[0] == 303
    elsewhere = app.test_client()
    assert sign_in(elsewhere)[0] == 303
    assert elsewhere.get("/staff").status_code == 200
    assert client.get("/staff").status_code == 302


def test_a_session_id_without_the_current_token_is_refused(app: Flask, client: FlaskClient, staff: Runtime) -> None:
    """A session holding only the numeric id (as before tokens existed) is not signed in."""
    user_id = account(staff, CASEY).id
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = str(user_id)
    assert client.get("/staff").status_code == 302
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = f"{user_id}:not-the-token"
    assert client.get("/staff").status_code == 302


def test_an_old_hash_is_replaced_at_sign_in(client: FlaskClient, staff: Runtime) -> None:
    weaker = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    with writing(staff) as session:
        user = session.execute(select(StaffUser).where(StaffUser.email == CASEY)).scalar_one()
        user.password_hash = weaker.hash(PASSWORD)
        old_hash = user.password_hash
    assert PasswordHasher().check_needs_rehash(old_hash)
    assert sign_in(client)[0] == 303
    new_hash = account(staff, CASEY).password_hash
    assert new_hash != old_hash
    assert not PasswordHasher().check_needs_rehash(new_hash)
    assert PasswordHasher().verify(new_hash, PASSWORD)


def test_cli_disable_enable_and_reset_password(app: Flask, client: FlaskClient, staff: Runtime) -> None:
    runner = app.test_cli_runner()
    assert sign_in(client)[0] == 303
    result = runner.invoke(args=["staff", "disable", "Casey@casework.test"])
    assert result.exit_code == 0, result.output
    assert client.get("/staff").status_code == 302
    assert not account(staff, CASEY).active
    limiter.reset()
    assert sign_in(client)[0] == 401
    assert runner.invoke(args=["staff", "enable", CASEY]).exit_code == 0
    assert sign_in(client)[0] == 303

    result = runner.invoke(args=["staff", "reset-password", CASEY])
    assert result.exit_code == 0, result.output
    match = re.search(r"password: (\S+)", result.output)
    assert match is not None
    assert client.get("/staff").status_code == 302  # the reset ended the open session
    limiter.reset()
    assert sign_in(client)[0] == 401
    assert sign_in(client, password=match.group(1))[0] == 303

    for command in ("disable", "enable", "reset-password"):
        result = runner.invoke(args=["staff", command, "nobody@casework.test"])
        assert result.exit_code == 1
        assert "There is no staff account for nobody@casework.test." in result.output
    result = runner.invoke(args=["staff", "disable", SAM])
    assert result.exit_code == 1
    assert "last active supervisor" in result.output
    assert account(staff, SAM).active


def test_a_caseworker_cannot_see_the_accounts_page(client: FlaskClient) -> None:
    assert client.get("/staff/users").status_code == 302
    sign_in(client)
    assert client.get("/staff/users").status_code == 403
    assert "Staff accounts" not in client.get("/staff").get_data(as_text=True)
    assert post_form(client, "/staff/users", {"email": "x@casework.test", "name": "X", "role": "supervisor"},
                     page="/staff").status_code == 403


def test_a_supervisor_creates_disables_and_resets_accounts(app: Flask, client: FlaskClient, staff: Runtime) -> None:
    assert sign_in(client, SAM)[0] == 303
    page = client.get("/staff/users").get_data(as_text=True)
    assert CASEY in page
    assert "caseworker" in page
    assert "active" in page

    response = post_form(client, "/staff/users", {"email": "not-an-address", "name": "Robin New", "role": "caseworker"},
                         page="/staff/users")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'value="not-an-address"' in page
    assert 'value="Robin New"' in page
    assert "Enter an e-mail address" in page
    response = post_form(client, "/staff/users", {"email": CASEY, "name": "Casey Again", "role": "caseworker"},
                         page="/staff/users")
    assert response.status_code == 422
    assert "already has an account" in response.get_data(as_text=True)
    assert client.post("/staff/users", data={"email": "robin@casework.test", "name": "Robin",
                                             "role": "caseworker"}).status_code == 400  # no CSRF token

    response = post_form(client, "/staff/users", {"email": "Robin@casework.test", "name": "Robin New",
                                                  "role": "supervisor"}, page="/staff/users")
    assert response.status_code == 201
    match = re.search(r'<code class="password">([^<]+)</code>', response.get_data(as_text=True))
    assert match is not None
    assert account(staff, "robin@casework.test").role == "supervisor"
    assert match.group(1) not in client.get("/staff/users").get_data(as_text=True)  # shown once only
    robin = app.test_client()
    limiter.reset()
    assert sign_in(robin, "robin@casework.test", match.group(1))[0] == 303
    assert robin.get("/staff/users").status_code == 303  # to choose a password of Robin's own first
    changed = post_form(robin, "/staff/password", {"current_password": match.group(1), "new_password": PASSWORD,
                                                   "confirm_password": PASSWORD}, page="/staff/password")
    assert changed.status_code == 303
    assert robin.get("/staff/users").status_code == 200

    casey = app.test_client()
    assert sign_in(casey)[0] == 303
    casey_id = account(staff, CASEY).id
    response = post_form(client, f"/staff/users/{casey_id}/disable", {}, page="/staff/users")
    assert response.status_code == 303
    assert casey.get("/staff").status_code == 302  # signed out at once
    assert "disabled" in client.get("/staff/users").get_data(as_text=True)
    assert post_form(client, f"/staff/users/{casey_id}/enable", {}, page="/staff/users").status_code == 303
    assert account(staff, CASEY).active

    response = post_form(client, f"/staff/users/{casey_id}/reset-password", {}, page="/staff/users")
    assert response.status_code == 200
    match = re.search(r'<code class="password">([^<]+)</code>', response.get_data(as_text=True))
    assert match is not None
    limiter.reset()
    assert sign_in(casey)[0] == 401
    assert sign_in(casey, password=match.group(1))[0] == 303


def test_a_supervisor_cannot_lock_themselves_out(client: FlaskClient, staff: Runtime) -> None:
    assert sign_in(client, SAM)[0] == 303
    sam_id = account(staff, SAM).id
    response = post_form(client, f"/staff/users/{sam_id}/disable", {}, page="/staff/users")
    assert response.status_code == 409
    assert "You cannot disable your own account" in response.get_data(as_text=True)
    response = post_form(client, f"/staff/users/{sam_id}/reset-password", {}, page="/staff/users")
    assert response.status_code == 409
    assert account(staff, SAM).active
    assert client.get("/staff/users").status_code == 200
    assert post_form(client, "/staff/users/999999/disable", {}, page="/staff/users").status_code == 404
