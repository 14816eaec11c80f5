"""A password is never sent over an unencrypted SMTP connection: with a login, STARTTLS is required unless the URL
opts out with ``?starttls=off``, and a server that does not offer it gets neither the login nor the message."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from casework.cases.filing import file_case
from casework.cases.models import CaseEvent
from casework.config import ConfigError, load_settings
from casework.mail.models import OutboundEmail
from casework.mail.transports import SMTPTransport, TLSRefused
from casework.runtime import Runtime
from tests.support.factories import case_facts
from tests.support.smtp import SMTPServer
from tests.support.waiting import wait_for
from tests.support.writes import writing


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "casework <cases@casework.test>"
    message["To"] = "jane@example.com"
    message["Subject"] = "Test"
    message.set_content("Hello")
    return message


def test_a_login_is_never_sent_to_a_server_without_starttls(smtp_server: SMTPServer) -> None:
    transport = SMTPTransport(smtp_server.plain_url, timeout=5)  # a password, nothing said about STARTTLS
    with pytest.raises(TLSRefused) as refused:
        transport.send(_message())
    assert "does not offer STARTTLS" in str(refused.value)
    assert "the password was not sent" in str(refused.value)
    assert SMTPServer.PASSWORD not in str(refused.value)
    assert smtp_server.logins == []
    assert smtp_server.messages == []
    assert transport.check() == "unreachable"
    assert smtp_server.logins == []


def test_starttls_off_is_an_explicit_opt_out_for_a_relay_on_this_machine(smtp_server: SMTPServer) -> None:
    SMTPTransport(smtp_server.plain_url + "?starttls=off", timeout=5).send(_message())
    assert smtp_server.logins == [(SMTPServer.USER.encode(), SMTPServer.PASSWORD.encode())]
    assert len(smtp_server.messages) == 1


def test_without_a_login_a_relay_without_starttls_still_takes_mail(smtp_server: SMTPServer) -> None:
    SMTPTransport(f"smtp://127.0.0.1:{smtp_server.port}", timeout=5).send(_message())
    assert len(smtp_server.messages) == 1
    with pytest.raises(TLSRefused):
        SMTPTransport(f"smtp://127.0.0.1:{smtp_server.port}?starttls=required", timeout=5).send(_message())
    assert len(smtp_server.messages) == 1


@pytest.mark.worker
def test_the_worker_records_why_nothing_was_sent(committed: Runtime, start_worker: Any,
                                                 smtp_server: SMTPServer) -> None:
    start_worker(smtp_url=smtp_server.plain_url, job_max_attempts=1)
    with writing(committed) as session:
        case_id = file_case(session, case_facts(), committed.settings.secret_key).case_id

    def failed() -> list[CaseEvent]:
        with committed.sessions() as session:
            return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                                CaseEvent.action == "email_failed")))

    [event] = wait_for(failed, 60, "the e-mail to fail")
    with committed.sessions() as session:
        row = session.execute(select(OutboundEmail).where(OutboundEmail.case_id == case_id)).scalar_one()
    assert row.status == "failed"
    assert "does not offer STARTTLS" in (row.last_error or "")
    assert "does not offer STARTTLS" in event.data["error"]
    assert smtp_server.logins == []
    assert smtp_server.messages == []


def test_an_unknown_starttls_mode_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\?starttls= must be required or off"):
        load_settings({"var_dir": tmp_path, "smtp_url": "smtp://user:pw@mail.example:587?starttls=optional"},
                      environ={})
