"""A staff API token's life: it ends for good when its owner's password is reset or the account is disabled
(enabling the account again does not bring it back), and a disabled account's tokens are refused at use."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from werkzeug.test import TestResponse

from casework.cases.states import CaseStatus
from casework.db import utcnow
from casework.runtime import Runtime
from casework.staff.accounts import create_staff
from casework.staff.api_tokens import issue_token
from casework.staff.models import StaffApiToken, StaffUser
from casework.web import limiter
from tests.support.staff import PASSWORD, case_in_status
from tests.support.today import TODAY_ISO, clock_on, days_ahead
from tests.support.web import post_form
from tests.support.writes import writing

pytestmark = pytest.mark.http
CASEY = "casey@casework.test"
SAM = "sam@casework.test"


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


@pytest.fixture
def casey(committed: Runtime) -> int:
    with writing(committed) as session:
        create_staff(session, SAM, "Sam", PASSWORD, role="supervisor")
        return create_staff(session, CASEY, "Casey", PASSWORD).id


def token_for(runtime: Runtime, staff_id: int) -> str:
    with writing(runtime) as session:
        token, _ = issue_token(session, session.get_one(StaffUser, staff_id), "script", runtime.settings.secret_key,
                               utcnow())
    return token


def queue_status(client: FlaskClient, token: str) -> int:
    return client.get("/api/v1/queue", headers={"Authorization": f"Bearer {token}"}).status_code


def revoked_at(runtime: Runtime, staff_id: int) -> list[object]:
    with runtime.sessions() as session:
        return list(session.scalars(select(StaffApiToken.revoked_at).where(StaffApiToken.staff_id == staff_id)))


def test_disabling_an_account_revokes_its_tokens_for_good(app: Flask, client: FlaskClient, committed: Runtime,
                                                          casey: int) -> None:
    token = token_for(committed, casey)
    assert queue_status(client, token) == 200
    runner = app.test_cli_runner()
    assert runner.invoke(args=["staff", "disable", CASEY]).exit_code == 0
    assert queue_status(client, token) == 401
    assert all(at is not None for at in revoked_at(committed, casey))
    assert runner.invoke(args=["staff", "enable", CASEY]).exit_code == 0
    assert queue_status(client, token) == 401  # enabled again, the old token stays dead


def test_a_supervisor_disabling_an_account_on_the_page_revokes_its_tokens(client: FlaskClient, committed: Runtime,
                                                                          casey: int) -> None:
    token = token_for(committed, casey)
    post_form(client, "/staff/login", {"email": SAM, "password": PASSWORD}, page="/staff/login")
    assert post_form(client, f"/staff/users/{casey}/disable", {}, page="/staff/users").status_code == 303
    assert post_form(client, f"/staff/users/{casey}/enable", {}, page="/staff/users").status_code == 303
    assert queue_status(client, token) == 401


@pytest.mark.parametrize("where", ["page", "cli"])
def test_a_password_reset_revokes_the_account_s_tokens(app: Flask, client: FlaskClient, committed: Runtime,
                                                       casey: int, where: str) -> None:
    token = token_for(committed, casey)
    assert queue_status(client, token) == 200
    if where == "cli":
        result = app.test_cli_runner().invoke(args=["staff", "reset-password", CASEY])
        assert result.exit_code == 0, result.output
    else:
        post_form(client, "/staff/login", {"email": SAM, "password": PASSWORD}, page="/staff/login")
        response = post_form(client, f"/staff/users/{casey}/reset-password", {}, page="/staff/users")
        assert re.search(r'<code class="password">', response.get_data(as_text=True))
    assert queue_status(client, token) == 401
    assert all(at is not None for at in revoked_at(committed, casey))


def test_a_disabled_account_s_token_is_refused_even_if_it_was_never_revoked(client: FlaskClient,
                                                                            committed: Runtime, casey: int) -> None:
    """Whatever disabled the account (a direct change in the database, say), its tokens are refused at use."""
    token = token_for(committed, casey)
    with writing(committed) as session:
        session.execute(update(StaffUser).where(StaffUser.id == casey).values(active=False))
    assert revoked_at(committed, casey) == [None]
    assert queue_status(client, token) == 401


# --- minting asks for the password -----------------------------------------------------------------------------

TOKEN_RE = re.compile(r'<code class="token" data-token>(cwst_[A-Za-z0-9_-]+)</code>')


def signed_in_as_casey(client: FlaskClient) -> None:
    response = post_form(client, "/staff/login", {"email": CASEY, "password": PASSWORD}, page="/staff/login")
    assert response.status_code == 303


def tokens_of(runtime: Runtime, staff_id: int) -> int:
    with runtime.sessions() as session:
        return len(list(session.scalars(select(StaffApiToken.id).where(StaffApiToken.staff_id == staff_id))))


def test_minting_a_token_asks_for_the_current_password(client: FlaskClient, committed: Runtime, casey: int) -> None:
    """A borrowed session (an unlocked screen, a copied cookie) cannot turn itself into a lasting credential."""
    signed_in_as_casey(client)
    missing = post_form(client, "/staff/tokens", {"name": "Nightly export"}, page="/staff/tokens")
    assert missing.status_code == 422
    page = missing.get_data(as_text=True)
    assert 'id="password-error"' in page
    assert "Enter your password" in page
    assert 'value="Nightly export"' in page  # what was typed is kept (the password never is)

    wrong = post_form(client, "/staff/tokens", {"name": "Nightly export", "password": "not my password"},
                      page="/staff/tokens")
    assert wrong.status_code == 422
    page = wrong.get_data(as_text=True)
    assert 'id="password-error"' in page
    assert "That is not your password" in page
    assert 'value="Nightly export"' in page
    assert "not my password" not in page
    assert tokens_of(committed, casey) == 0

    made = post_form(client, "/staff/tokens", {"name": "Nightly export", "password": PASSWORD}, page="/staff/tokens")
    assert made.status_code == 201
    assert TOKEN_RE.search(made.get_data(as_text=True))
    assert tokens_of(committed, casey) == 1


def test_guessing_the_password_on_the_token_form_is_slowed(client: FlaskClient, committed: Runtime,
                                                           casey: int) -> None:
    """Wrong passwords here count with wrong sign-ins for the account from this client: the form is no better a
    way to guess the password than the sign-in page."""
    signed_in_as_casey(client)
    for _ in range(5):
        assert post_form(client, "/staff/tokens", {"name": "x", "password": "a wrong guess"},
                         page="/staff/tokens").status_code == 422
    refused = post_form(client, "/staff/tokens", {"name": "x", "password": PASSWORD}, page="/staff/tokens")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"].isdigit()
    page = refused.get_data(as_text=True)
    assert 'id="password-error"' in page
    assert re.search(r"Try again in \d+ minutes?", page)
    assert tokens_of(committed, casey) == 0


# --- expiry and read-only tokens ---------------------------------------------------------------------------------


def mint(client: FlaskClient, **form: str) -> TestResponse:
    return post_form(client, "/staff/tokens", {"name": "Nightly export", "password": PASSWORD, **form},
                     page="/staff/tokens")


def newest_token(runtime: Runtime) -> StaffApiToken:
    with runtime.sessions() as session:
        return session.scalars(select(StaffApiToken).order_by(StaffApiToken.id.desc())).first()  # type: ignore[return-value]


def test_a_token_expires_after_the_days_chosen_at_minting(client: FlaskClient, committed: Runtime,
                                                          casey: int) -> None:
    signed_in_as_casey(client)
    made = mint(client)
    assert made.status_code == 201
    row = newest_token(committed)
    assert row.expires_at - row.created_at == dt.timedelta(days=90)  # the default
    assert days_ahead(90).isoformat() in client.get("/staff/tokens").get_data(as_text=True)
    assert mint(client, expires_in_days="7").status_code == 201
    row = newest_token(committed)
    assert row.expires_at - row.created_at == dt.timedelta(days=7)
    assert mint(client, expires_in_days="365").status_code == 201

    for wrong in ("366", "0", "-3", "ninety", "90.5"):
        refused = mint(client, expires_in_days=wrong)
        assert refused.status_code == 422, wrong
        page = refused.get_data(as_text=True)
        assert 'id="expires_in_days-error"' in page
        assert "between 1 and 365 days" in page
        assert 'value="Nightly export"' in page
    assert tokens_of(committed, casey) == 3


def test_an_expired_token_is_refused(client: FlaskClient, committed: Runtime, casey: int) -> None:
    signed_in_as_casey(client)
    token_match = TOKEN_RE.search(mint(client, expires_in_days="30").get_data(as_text=True))
    assert token_match is not None
    token = token_match.group(1)
    with clock_on(days_ahead(29)):
        assert queue_status(client, token) == 200
    with clock_on(days_ahead(31)):
        assert queue_status(client, token) == 401
        signed_in_as_casey(client)  # a month on, the first session has long ended
        assert "expired" in client.get("/staff/tokens").get_data(as_text=True)


def read_only_token(client: FlaskClient) -> str:
    signed_in_as_casey(client)
    made = mint(client, read_only="yes")
    assert made.status_code == 201
    found = TOKEN_RE.search(made.get_data(as_text=True))
    assert found is not None
    assert newest_token_is_read_only(client)
    return found.group(1)


def newest_token_is_read_only(client: FlaskClient) -> bool:
    return "read only" in client.get("/staff/tokens").get_data(as_text=True)


def test_a_read_only_token_reads_and_is_refused_every_write(client: FlaskClient, committed: Runtime,
                                                            casey: int) -> None:
    token = read_only_token(client)
    reference = case_in_status(committed, CaseStatus.SENT)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/queue", headers=headers).status_code == 200
    read = client.get(f"/api/v1/cases/{reference}", headers=headers)
    assert read.status_code == 200
    version = read.get_json()["version"]
    writes = [
        ("POST", "/api/v1/queue/take-next", None),
        ("POST", f"/api/v1/cases/{reference}/assign", {"assignee": "me"}),
        ("POST", f"/api/v1/cases/{reference}/notes", {"body": "A note."}),
        ("POST", f"/api/v1/cases/{reference}/status", {"status": "resolved", "outcome": "cancelled"}),
        ("POST", f"/api/v1/cases/{reference}/responses",
         {"type": "refused", "received_on": TODAY_ISO, "summary": "They said no."}),
        ("POST", f"/api/v1/cases/{reference}/withdraw", None),
        ("PATCH", f"/api/v1/cases/{reference}", {"details": "Annual."}),
        ("POST", f"/api/v1/cases/{reference}/erasure-request", None),
    ]
    for method, path, body in writes:
        response = client.open(path, method=method, json=body,
                               headers={**headers, "If-Match": f'"{version}"'})
        assert response.status_code == 403, (path, response.status_code)
        answer = response.get_json()
        assert answer["error"] == "forbidden"
        assert "read-only" in answer["message"]
        assert set(answer) == {"error", "message"}
    after = client.get(f"/api/v1/cases/{reference}", headers=headers).get_json()
    assert after["version"] == version
    assert after["notes"] == []
    assert after["assignee"] is None
