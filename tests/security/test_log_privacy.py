"""No personal data in logs: a database error is logged without its bound parameters, a failed e-mail's log line
shortens addresses (j***@example.com), and the access log blanks staff searches and addresses in URLs."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text

from casework.cases.filing import file_case
from casework.letters.models import Letter
from casework.mail.models import OutboundEmail
from casework.runtime import Runtime
from casework.web import RedactSecrets, db, limiter
from tests.support.factories import case_facts
from tests.support.http import JsonClient, serve
from tests.support.smtp import SMTPServer
from tests.support.web import post_form
from tests.support.writes import writing
from worker.jobs import render_letter, send_email

ADDRESS = "jane.private@example.com"


def test_a_database_error_is_logged_without_its_parameters(app: Flask, committed: Runtime,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """A statement that fails with an address among its parameters, in a real request: the app's error handler
    logs the error, and the address is not in the log."""
    def failing_lookup(session: Any, settings: Any, address: str, now: Any) -> int:
        db().execute(text("SELECT id FROM no_such_table WHERE consumer_email = :address"), {"address": address})
        return 0

    monkeypatch.setattr("casework.cases.views.send_links", failing_lookup)
    limiter.reset()
    client = app.test_client()
    with caplog.at_level(logging.INFO):
        response = post_form(client, "/lost-link", {"email": ADDRESS}, page="/lost-link")
    assert response.status_code in (500, 503)
    assert "no_such_table" in caplog.text  # the error was logged…
    assert "parameters hidden" in caplog.text
    assert ADDRESS not in caplog.text  # …without what was bound to it


def test_a_failed_e_mail_is_logged_with_the_address_shortened(committed: Runtime,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    server = SMTPServer(refuse={"jane@example.com": "550 5.1.1 <jane@example.com>: Recipient address rejected"})
    server.start()
    try:
        runtime = dataclasses.replace(committed, settings=dataclasses.replace(committed.settings,
                                                                              smtp_url=server.url))
        with writing(committed) as session:
            file_case(session, case_facts(), committed.settings.secret_key)
        with committed.sessions() as session:
            letter_id = session.execute(select(Letter.id)).scalar_one()
        render_letter(runtime, letter_id)
        with committed.sessions() as session:
            email_id = session.execute(select(OutboundEmail.id)).scalar_one()
        with caplog.at_level(logging.WARNING, logger="casework.mail"):
            assert send_email(runtime, email_id) == "failed"
    finally:
        server.stop()
    [line] = [r.getMessage() for r in caplog.records if r.name == "casework.mail"]
    assert "Recipient address rejected" in line
    assert "jane@example.com" not in line
    assert "j***@example.com" in line
    with committed.sessions() as session:  # the row keeps the address for the caseworker who deals with it
        assert "jane@example.com" in (session.get_one(OutboundEmail, email_id).last_error or "")


def test_the_access_log_blanks_staff_searches_and_addresses(app: Flask, committed: Runtime,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    limiter.reset()
    paths = ["/staff?q=jane.private%40example.com&status=new", "/api/v1/queue?q=Jane+Private&overdue=1",
             "/staff?status=new&q=jane.private@example.com", "/no-such-page/jane.private@example.com",
             "/staff/login?next=%2Fstaff%3Fq%3DJane%2BPrivate%26status%3Dnew"]
    with caplog.at_level(logging.INFO, logger="werkzeug"), serve(app) as base_url:
        client = JsonClient(base_url)
        for path in paths:
            client.request("GET", path)  # 200, 302, 401, 404: only the log line matters here
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug" and "GET " in r.getMessage()]
    assert len(lines) == len(paths), lines
    logged = "\n".join(lines)
    for private in ("jane.private", "Jane+Private", "Jane%2BPrivate", "Jane Private"):
        assert private not in logged
    assert logged.count("q=[redacted]") == 3
    assert "next=[redacted]" in logged
    assert "status=new" in logged  # the rest of the URL stays useful
    assert "j***@example.com" in logged

    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, '%(h)s "%(r)s" %(s)s',
                               ({"h": "10.0.0.1", "r": "GET /staff?q=jane%40example.com HTTP/1.1", "s": "200"},),
                               None)
    RedactSecrets().filter(record)
    assert "jane" not in record.getMessage()
