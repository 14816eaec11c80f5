"""The SMTP server the drills deliver to: keeps every message it accepts, and can refuse everything (4xx).

Each accepted DATA is one raw delivery; a resend of the same e-mail (allowed by at-least-once SMTP) is a
second delivery under the same Message-ID, so deliveries and distinct Message-IDs are counted apart.
"""

from __future__ import annotations

import email
import threading
import warnings
from dataclasses import dataclass
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.smtp import free_port

TRY_LATER = "451 4.3.2 System not accepting network messages; try again later"


@dataclass(frozen=True)
class Delivery:
    message_id: str
    to: list[str]
    subject: str
    text: str


def _plain_text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            return payload.decode(errors="replace") if isinstance(payload, bytes) else ""
    return ""


class _Handler:
    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.refusing = False
        self.refused = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        """A temporary refusal of every recipient, as a server that is not taking mail answers."""
        with self.lock:
            if self.refusing:
                self.refused += 1
                return TRY_LATER
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content)
        delivery = Delivery(str(message["Message-ID"] or ""), list(envelope.rcpt_tos),
                            str(message.get("Subject", "")), _plain_text(message))
        with self.lock:
            self.deliveries.append(delivery)
        return "250 Message accepted for delivery"


class Sink:
    def __init__(self) -> None:
        self.handler = _Handler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def deliveries(self) -> list[Delivery]:
        with self.handler.lock:
            return list(self.handler.deliveries)

    def refuse(self, refusing: bool) -> None:
        with self.handler.lock:
            self.handler.refusing = refusing

    @property
    def refused(self) -> int:
        with self.handler.lock:
            return self.handler.refused

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        with warnings.catch_warnings():  # clients killed mid-conversation leave transports behind
            warnings.simplefilter("ignore", ResourceWarning)
            self.controller.stop()
