"""A real SMTP server (aiosmtpd) on a free local port that keeps every message it accepts."""

from __future__ import annotations

import email
import socket
import threading
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Handler:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content))
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SMTPServer:
    USER, PASSWORD = "casework", "s3cret-pass"

    def __init__(self) -> None:
        self.handler = _Handler()
        self.port = free_port()
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port,
            authenticator=self._authenticate, auth_require_tls=False,
        )

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            self.USER.encode(), self.PASSWORD.encode())
        return AuthResult(success=ok)

    @property
    def url(self) -> str:
        return f"smtp://{self.USER}:{self.PASSWORD}@127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[Message]:
        with self.handler.lock:
            return list(self.handler.messages)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
