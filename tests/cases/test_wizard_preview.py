"""The letter preview renders in the web process, so it is bounded: only complete answers that make a letter, a few
per wizard session and per client, and one render at a time in each process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from casework.cases import wizard
from casework.cases.wizard import PREVIEWS_PER_SESSION
from casework.runtime import Runtime
from casework.web import limiter
from tests.cases.test_wizard import COURSERA, walk

pytestmark = [pytest.mark.http, pytest.mark.dates]
PREVIEW = "/start/preview.pdf"


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


def answered(app: Flask) -> FlaskClient:
    """A new visitor (a session of its own, the same address) who has answered every question."""
    client = app.test_client()
    walk(client, COURSERA)
    return client


def test_only_complete_answers_get_a_preview(client: FlaskClient, committed: Runtime) -> None:
    assert client.get(PREVIEW).status_code == 404
    walk(client, {k: v for k, v in COURSERA.items() if k != "details"})
    assert client.get(PREVIEW).status_code == 404
    walk(client, {"details": COURSERA["details"]})
    assert "up to 5 times an hour" in client.get("/start/check").get_data(as_text=True)
    assert client.get(PREVIEW).mimetype == "application/pdf"


def test_a_wizard_session_gets_a_few_previews_an_hour(app: Flask, committed: Runtime) -> None:
    limiter.reset()
    client = answered(app)
    for _ in range(PREVIEWS_PER_SESSION):
        assert client.get(PREVIEW).status_code == 200
    refused = client.get(PREVIEW)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    page = refused.get_data(as_text=True)
    assert f"You have opened the preview {PREVIEWS_PER_SESSION} times in the last hour" in page
    assert 'href="/start/check"' in page
    assert client.get("/start/check").status_code == 200  # the answers are kept


def test_a_client_gets_ten_previews_an_hour_whatever_its_sessions(app: Flask, committed: Runtime) -> None:
    limiter.reset()
    first, second, third = answered(app), answered(app), answered(app)
    for client in (first, second):
        for _ in range(PREVIEWS_PER_SESSION):
            assert client.get(PREVIEW).status_code == 200
    assert third.get(PREVIEW).status_code == 429  # a new session is not a new allowance


def test_a_process_renders_one_preview_at_a_time(client: FlaskClient, committed: Runtime) -> None:
    walk(client, COURSERA)
    assert wizard._preview_lock.acquire(blocking=False)  # another request is rendering one in this process
    try:
        busy = client.get(PREVIEW)
    finally:
        wizard._preview_lock.release()
    assert busy.status_code == 503
    assert int(busy.headers["Retry-After"]) >= 1
    assert "Another preview is being made right now" in busy.get_data(as_text=True)
    assert client.get(PREVIEW).status_code == 200  # and the refused one did not count against the session
