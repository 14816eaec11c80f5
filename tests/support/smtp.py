"""A real SMTP server (aiosmtpd) on a free local port that keeps every message it accepts and every login it is
sent; optionally it insists on STARTTLS before the login, as a production relay does."""

from __future__ import annotations

import email
import gc
import socket
import ssl
import threading
import warnings
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Handler:
    def __init__(self, refuse: dict[str, str] | None = None) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse = {address.lower(): answer for address, answer in (refuse or {}).items()}
        self.lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        """Answer RCPT TO with the configured refusal (``550 ...`` or ``450 ...``) for listed addresses."""
        answer = self.refuse.get(address.lower())
        if answer is not None:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content))
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SMTPServer:
    USER, PASSWORD = "casework", "s3cret-pass"

    def __init__(self, refuse: dict[str, str] | None = None, port: int | None = None,
                 tls_context: ssl.SSLContext | None = None) -> None:
        """``refuse`` maps addresses to the RCPT TO answer they get, e.g. ``{"x@y": "550 5.1.1 no such user"}``.

        With ``tls_context`` (a server context for 127.0.0.1) every command but EHLO and STARTTLS waits for TLS.
        """
        self.handler = _Handler(refuse)
        self.logins: list[tuple[bytes, bytes]] = []  # every AUTH the server was sent: (login, password)
        self.port = port or free_port()
        self.tls = tls_context is not None
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port,
            authenticator=self._authenticate, auth_require_tls=self.tls,
            tls_context=tls_context, require_starttls=self.tls,
        )

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            with self.handler.lock:
                self.logins.append((data.login, data.password))
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            self.USER.encode(), self.PASSWORD.encode())
        return AuthResult(success=ok)

    @property
    def plain_url(self) -> str:
        """The URL with a login and nothing about STARTTLS: TLS is then required."""
        return f"smtp://{self.USER}:{self.PASSWORD}@127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """With STARTTLS insisted on, or (a test server on this machine without TLS) explicitly turned off."""
        return self.plain_url + ("?starttls=required" if self.tls else "?starttls=off")

    @property
    def messages(self) -> list[Message]:
        with self.handler.lock:
            return list(self.handler.messages)

    def refuse(self, address: str, answer: str) -> None:
        """From now on, answer RCPT TO for ``address`` with ``answer`` (e.g. ``550 5.1.1 no such user``)."""
        with self.handler.lock:
            self.handler.refuse[address.lower()] = answer

    @property
    def envelopes(self) -> list[tuple[str, list[str]]]:
        with self.handler.lock:
            return list(self.handler.envelopes)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        # A client killed mid-conversation (a worker under kill -9) leaves its server-side transport
        # open; the stopped loop cannot close it, so it is collected here rather than warning later.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            self.controller.stop()
            gc.collect()
