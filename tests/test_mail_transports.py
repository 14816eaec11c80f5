"""E-mail transports against a real SMTP server and the outbox folder."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path

import pytest

from casework.mail.compose import message_id_for
from casework.mail.transports import FileTransport, SMTPTransport
from tests.support.smtp import SMTPServer, free_port


def _message(key: str = "case:1:test") -> EmailMessage:
    message = EmailMessage()
    message["Message-ID"] = message_id_for(key, "casework.test")
    message["From"] = "casework <cases@casework.test>"
    message["To"] = "jane@example.com"
    message["Subject"] = "Test"
    message.set_content("Hello")
    message.add_attachment(b"%PDF-1.7 test", maintype="application", subtype="pdf", filename="letter.pdf")
    return message


def test_message_ids_are_stable_per_key() -> None:
    assert message_id_for("a", "d.test") == message_id_for("a", "d.test")
    assert message_id_for("a", "d.test") != message_id_for("b", "d.test")


def test_smtp_delivers_with_login(smtp_server: SMTPServer) -> None:
    transport = SMTPTransport(smtp_server.url, timeout=5)
    confirmation = transport.send(_message())
    assert "accepted" in confirmation
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
