"""The wizard's answers live on the server as a draft; the browser's cookie holds only the draft's random key.

Flask's session cookie is signed, not encrypted: whoever sees it (a shared computer, a proxy log) reads it, and
browsers drop a cookie over 4 KB. So the cookie is decoded here after every step and must carry no answer, a long
answer must reach the check page whole, and drafts must end: 24 hours after their last change (swept by the beat
task), and at filing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from casework.cases.drafts import DRAFT_LIFETIME, DRAFT_SESSION_KEY, IntakeDraft, run_draft_expiry
from casework.cases.models import Case
from casework.db import utcnow
from casework.runtime import Runtime
from casework.web import limiter
from tests.cases.test_wizard import COURSERA, answer, walk
from tests.support.cookies import cookie_text, session_cookie
from tests.support.today import iso_days_ago
from tests.support.waiting import wait_for
from tests.support.web import csrf_token
from tests.support.writes import writing

pytestmark = [pytest.mark.http, pytest.mark.dates]

LONG_STORY = " ".join(f"Word{n:04d}" for n in range(555))[:4987] + " END-OF-STORY"
PERSONAL = {
    "consumer.name": "Ottoline Quillfeather",
    "consumer.email": "ottoline.quill@example.org",
    "consumer.postal_address": "77 Larkspur Terrace\nFitzroy VIC 3065",
    "account_identifier": "quill-learner-4411",
    "details": "My landlord's card was charged twice; my phone is 0400 123 456.",
}
FULL = {**COURSERA, "details": {**PERSONAL, "consent.send_in_my_name": "yes"}}


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


def drafts(runtime: Runtime) -> list[IntakeDraft]:
    with runtime.sessions() as session:
        return list(session.scalars(select(IntakeDraft).order_by(IntakeDraft.id)))


def draft_key(app: Flask, client: FlaskClient) -> str:
    key = session_cookie(app, client).get(DRAFT_SESSION_KEY, "")
    assert isinstance(key, str)
    return key


def age_drafts(runtime: Runtime, by: dt.timedelta) -> None:
    """Make every draft's last change ``by`` ago, as if the consumer had left it then."""
    with writing(runtime) as session:
        session.execute(update(IntakeDraft).values(updated_at=utcnow() - by, created_at=utcnow() - by))


def test_the_cookie_holds_no_answer_after_any_step(app: Flask, client: FlaskClient, committed: Runtime) -> None:
    secrets = [*PERSONAL.values(), "77 Larkspur Terrace", "599.00", iso_days_ago(7)]
    for step, fields in FULL.items():
        status, where = answer(client, step, fields)
        assert status == 303, (step, where[:500])
        text = cookie_text(app, client)
        for secret in secrets:
            assert secret not in text, (step, secret)
        assert "intake" not in session_cookie(app, client)  # the answers' old place in the cookie
    # A step refused with errors keeps what was typed on the server, not in the cookie.
    status, page = answer(client, "details", {**PERSONAL, "consumer.email": "ottoline.quill@"})
    assert status == 422
    assert "ottoline.quill@" in page
    assert "ottoline.quill@" not in cookie_text(app, client)
    # What the cookie does hold: one opaque key, which names nothing and is not what the database stores.
    key = draft_key(app, client)
    assert len(key) >= 43
    [draft] = drafts(committed)
    assert draft.key_sha256 == hashlib.sha256(key.encode()).digest()
    assert draft.answers["consumer.name"] == PERSONAL["consumer.name"]


def test_a_cookie_from_before_is_emptied_of_its_answers(app: Flask, client: FlaskClient) -> None:
    with client.session_transaction() as flask_session:
        flask_session["intake"] = {"consumer.name": "Ottoline Quillfeather", "consumer.email": "o@example.org"}
    assert client.get("/start").status_code == 200
    assert "Ottoline" not in cookie_text(app, client)


def test_a_5000_character_answer_reaches_the_check_page_and_the_case_whole(
        app: Flask, client: FlaskClient, committed: Runtime) -> None:
    assert len(LONG_STORY) == 5000
    walk(client, {**FULL, "details": {**FULL["details"], "details": LONG_STORY}})
    assert LONG_STORY not in cookie_text(app, client)
    check = client.get("/start/check")
    assert check.status_code == 200
    assert LONG_STORY in html.unescape(check.get_data(as_text=True))
    filed = client.post("/start/check", data={"csrf_token": csrf_token(client, "/start/check")})
    assert filed.status_code == 303
    with committed.sessions() as session:
        assert session.execute(select(Case.details)).scalar_one() == LONG_STORY


def test_filing_deletes_the_draft(app: Flask, client: FlaskClient, committed: Runtime) -> None:
    walk(client, FULL)
    assert len(drafts(committed)) == 1
    response = client.post("/start/check", data={"csrf_token": csrf_token(client, "/start/check")})
    assert response.status_code == 303
    assert drafts(committed) == []
    assert DRAFT_SESSION_KEY not in session_cookie(app, client)
    again = client.post("/start/check", data={"csrf_token": csrf_token(client, "/start/company")})
    assert (again.status_code, again.headers["Location"]) == (303, "/start")  # sent twice: filed once
    with committed.sessions() as session:
        assert session.execute(select(func.count(Case.id))).scalar_one() == 1
    start = client.get("/start").get_data(as_text=True)
    assert "Continue where you left off" not in start
    assert 'value="Ottoline Quillfeather"' not in client.get("/start/details").get_data(as_text=True)


def test_a_refused_filing_keeps_the_draft(app: Flask, client: FlaskClient, committed: Runtime) -> None:
    walk(client, FULL)
    # The answers go stale on the server (as when a rule changes meanwhile): nothing is filed, nothing is lost.
    with writing(committed) as session:
        draft = session.scalars(select(IntakeDraft)).one()
        draft.answers = {**draft.answers, "payment_date": ""}
    response = client.post("/start/check", data={"csrf_token": csrf_token(client, "/start/company")})
    assert response.status_code == 303
    assert "/start/dates" in response.headers["Location"]
    [kept] = drafts(committed)
    assert kept.answers["consumer.name"] == PERSONAL["consumer.name"]
    with committed.sessions() as session:
        assert session.execute(select(func.count(Case.id))).scalar_one() == 0


def test_two_browsers_never_see_each_others_draft(app: Flask, committed: Runtime) -> None:
    limiter.reset()
    first, second = app.test_client(), app.test_client()
    walk(first, FULL)
    walk(second, {**FULL, "details": {**FULL["details"], "consumer.name": "Bartholomew Nettlefold",
                                       "consumer.email": "bart.nettle@example.net"}})
    first_page = html.unescape(first.get("/start/check").get_data(as_text=True))
    second_page = html.unescape(second.get("/start/check").get_data(as_text=True))
    assert "Ottoline Quillfeather" in first_page
    assert "Bartholomew Nettlefold" not in first_page
    assert "Bartholomew Nettlefold" in second_page
    assert "Ottoline Quillfeather" not in second_page
    assert draft_key(app, first) != draft_key(app, second)
    assert len(drafts(committed)) == 2
    # A third browser, with no cookie or a made-up key, starts empty (and no 500).
    third = app.test_client()
    assert "Continue where you left off" not in third.get("/start").get_data(as_text=True)
    with third.session_transaction() as flask_session:
        flask_session[DRAFT_SESSION_KEY] = "made-up-" + "x" * 40
    assert "Continue where you left off" not in third.get("/start").get_data(as_text=True)
    assert third.get("/start/check").status_code == 302
    details = third.get("/start/details")
    assert details.status_code == 200
    assert "Ottoline" not in details.get_data(as_text=True)
    # Filing in one browser leaves the other's draft as it was.
    assert first.post("/start/check", data={"csrf_token": csrf_token(first, "/start/check")}).status_code == 303
    assert "Bartholomew Nettlefold" in html.unescape(second.get("/start/check").get_data(as_text=True))


def _starts_again_cleanly(app: Flask, client: FlaskClient, old_key: str) -> None:
    """An ended draft: the start page says why the answers are gone and offers no resumption, the check page
    sends there (once), and answering the first question makes a new draft under a new key."""
    start = client.get("/start")
    assert start.status_code == 200
    assert "Your answers were deleted 24 hours after your last change" in html.unescape(start.get_data(as_text=True))
    assert "Continue where you left off" not in start.get_data(as_text=True)
    assert DRAFT_SESSION_KEY not in session_cookie(app, client)
    check = client.get("/start/check")
    assert (check.status_code, check.headers["Location"]) == (302, "/start")
    assert client.get(check.headers["Location"]).status_code == 200
    sent = client.post("/start/check", data={"csrf_token": csrf_token(client, "/start/company")})
    assert (sent.status_code, sent.headers["Location"]) == (303, "/start")
    assert client.get("/start/details").status_code == 200
    assert 'value="Ottoline Quillfeather"' not in client.get("/start/details").get_data(as_text=True)
    status, where = answer(client, "company", COURSERA["company"])
    assert (status, where) == (303, "/start/plan")
    assert draft_key(app, client) not in ("", old_key)


def test_an_expired_draft_is_not_resumed_even_before_the_sweep(app: Flask, client: FlaskClient,
                                                               committed: Runtime) -> None:
    walk(client, FULL)
    old_key = draft_key(app, client)
    age_drafts(committed, DRAFT_LIFETIME + dt.timedelta(minutes=1))
    _starts_again_cleanly(app, client, old_key)
    [live] = [d for d in drafts(committed) if d.updated_at > utcnow() - DRAFT_LIFETIME]
    assert live.answers == {"provider": "coursera"}


def test_the_sweep_deletes_drafts_past_their_lifetime_only(app: Flask, client: FlaskClient,
                                                           committed: Runtime) -> None:
    walk(client, FULL)
    old_key = draft_key(app, client)
    fresh = app.test_client()
    walk(fresh, {"company": COURSERA["company"]})
    with writing(committed) as session:
        old, young = session.scalars(select(IntakeDraft).order_by(IntakeDraft.id)).all()
        old.updated_at = utcnow() - DRAFT_LIFETIME - dt.timedelta(seconds=1)
        young.updated_at = utcnow() - DRAFT_LIFETIME + dt.timedelta(minutes=5)
        young_id = young.id
    assert run_draft_expiry(committed) == 1
    assert [d.id for d in drafts(committed)] == [young_id]
    assert run_draft_expiry(committed) == 0
    _starts_again_cleanly(app, client, old_key)
    assert client.get("/start/plan").status_code == 200


@pytest.mark.worker
def test_the_beat_sweep_deletes_an_expired_draft_through_a_real_worker(app: Flask, client: FlaskClient,
                                                                       committed: Runtime, start_worker: Any) -> None:
    walk(client, FULL)
    old_key = draft_key(app, client)
    age_drafts(committed, DRAFT_LIFETIME + dt.timedelta(hours=1))
    start_worker()
    committed.dispatcher.send("deadlines.sweep", [])
    wait_for(lambda: drafts(committed) == [], 60, "the sweep to delete the expired draft")
    _starts_again_cleanly(app, client, old_key)


def test_the_start_page_says_how_long_answers_are_kept(client: FlaskClient) -> None:
    page = client.get("/start").get_data(as_text=True)
    assert "24 hours after your last change" in page
