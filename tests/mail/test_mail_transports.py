"""E-mail transports against a real SMTP server and the outbox folder."""

from __future__ import annotations

import os
import smtplib
from email.message import EmailMessage
from pathlib import Path

import pytest

from casework.mail.compose import message_id_for
from casework.mail.jobs import classify
from casework.mail.transports import FileTransport, SMTPTransport
from tests.support.smtp import SMTPServer, free_port


def _message(key: str = "case:1:test", cc: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["Message-ID"] = message_id_for(key, "casework.test")
    message["From"] = "casework <cases@casework.test>"
    message["To"] = "jane@example.com"
    if cc:
        message["Cc"] = cc
    message["Subject"] = "Test"
    message.set_content("Hello")
    message.add_attachment(b"%PDF-1.7 test", maintype="application", subtype="pdf", filename="letter.pdf")
    return message


def test_message_ids_are_stable_per_key() -> None:
    assert message_id_for("a", "d.test") == message_id_for("a", "d.test")
    assert message_id_for("a", "d.test") != message_id_for("b", "d.test")


def test_smtp_delivers_with_login(smtp_server: SMTPServer) -> None:
    transport = SMTPTransport(smtp_server.url, timeout=5)
    accepted = transport.send(_message())
    assert "accepted" in accepted.confirmation
    assert accepted.refused == {}
    [received] = smtp_server.messages
    assert received["Message-ID"] == message_id_for("case:1:test", "casework.test")
    attachments = [part for part in received.walk() if part.get_content_type() == "application/pdf"]
    assert attachments[0].get_payload(decode=True) == b"%PDF-1.7 test"
    assert transport.check() == "ok"


def test_smtp_wrong_password_is_an_error(smtp_server: SMTPServer) -> None:
    transport = SMTPTransport(smtp_server.url.replace(SMTPServer.PASSWORD, "wrong"), timeout=2)
    with pytest.raises(smtplib.SMTPException):
        transport.send(_message())
    assert smtp_server.messages == []


def test_smtp_unreachable_is_reported() -> None:
    transport = SMTPTransport(f"smtp://127.0.0.1:{free_port()}", timeout=2)
    assert transport.check() == "unreachable"
    with pytest.raises(ConnectionRefusedError):
        transport.send(_message())


def test_file_transport_writes_one_file_per_message_id(tmp_path: Path) -> None:
    transport = FileTransport(tmp_path)
    transport.send(_message("k1"))
    transport.send(_message("k1"))  # a resend replaces, never duplicates
    transport.send(_message("k2"))
    files = sorted(tmp_path.glob("*.eml"))
    assert len(files) == 2
    assert not list(tmp_path.glob(".tmp-*"))


def test_a_message_being_written_is_not_yet_an_eml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Readers of the outbox (tests, a developer's mail tool) take *.eml files; a half-written one must not be one."""
    seen: list[list[str]] = []
    real_replace = os.replace

    def replace(source: str, target: Path) -> None:
        seen.append(sorted(p.name for p in tmp_path.glob("*.eml")))  # what a reader finds just before the rename
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    FileTransport(tmp_path).send(_message("k1"))
    assert seen == [[]]
    assert len(list(tmp_path.glob("*.eml"))) == 1


def test_a_refused_copy_is_recorded_and_the_rest_delivered() -> None:
    server = SMTPServer(refuse={"copy@example.com": "550 5.1.1 No such user here"})
    server.start()
    try:
        accepted = SMTPTransport(server.url, timeout=5).send(_message(cc="copy@example.com"))
    finally:
        server.stop()
    assert accepted.refused == {"copy@example.com": "550 5.1.1 No such user here"}
    assert [rcpts for _, rcpts in server.handler.envelopes] == [["jane@example.com"]]


@pytest.mark.parametrize(("answer", "permanent"), [("550 5.1.1 No such user here", True),
                                                   ("450 4.2.1 Mailbox busy, try later", False)])
def test_every_recipient_refused_is_permanent_only_for_5xx(answer: str, permanent: bool) -> None:
    server = SMTPServer(refuse={"jane@example.com": answer})
    server.start()
    try:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            SMTPTransport(server.url, timeout=5).send(_message())
    finally:
        server.stop()
    assert server.messages == []
    failure = classify(refused.value)
    assert failure.permanent is permanent
    assert failure.refused == {"jane@example.com": answer}
    assert answer in failure.error


def test_no_server_and_4xx_answers_are_temporary_5xx_permanent() -> None:
    assert classify(ConnectionRefusedError(111, "Connection refused")).permanent is False
    assert classify(TimeoutError("timed out")).permanent is False
    assert classify(smtplib.SMTPServerDisconnected("gone")).permanent is False
    assert classify(smtplib.SMTPDataError(451, b"local error")).permanent is False
    rejected = classify(smtplib.SMTPDataError(554, b"5.7.1 message rejected as spam"))
    assert rejected.permanent is True
    assert "554 5.7.1 message rejected as spam" in rejected.error
