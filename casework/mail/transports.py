"""Ways an e-mail leaves the system: ``.eml`` files in the outbox folder, or an SMTP server.

Both are safe to repeat: the file transport writes one file per Message-ID (a resend replaces it
atomically), and SMTP resends carry the same Message-ID so they are recognisably one message.
"""

from __future__ import annotations

import hashlib
import os
import smtplib
import ssl
import tempfile
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from casework.config import Settings, smtp_tls_required, starttls_mode


@dataclass(frozen=True)
class Accepted:
    """The server took the message: what it said, and the recipients it refused while taking the rest."""

    confirmation: str
    refused: dict[str, str] = field(default_factory=dict)


def refusal_text(code: int, reason: bytes | str) -> str:
    """``550 no such user``: the server's code and words, kept as evidence."""
    words = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
    return f"{code} {words}".strip()[:300]


def refusals(recipients: dict[str, tuple[int, bytes]]) -> dict[str, str]:
    return {address: refusal_text(code, reason) for address, (code, reason) in recipients.items()}


class Transport(Protocol):
    def send(self, message: EmailMessage) -> Accepted:
        """Hand the message over; return what the other side said, for the record.

        Raises ``smtplib.SMTPRecipientsRefused`` when every recipient is refused, other SMTP errors or
        ``OSError`` when the message was not taken at all.
        """
        ...

    def check(self) -> str:
        """``ok``, ``unreachable`` or ``not_configured``, for /healthz."""
        ...


class FileTransport:
    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox

    def path_for(self, message_id: str) -> Path:
        """One file per Message-ID, so a resend replaces the file instead of adding one."""
        digest = hashlib.sha256(message_id.encode()).hexdigest()[:16]
        return self.outbox / f"{digest}.eml"

    def send(self, message: EmailMessage) -> Accepted:
        self.outbox.mkdir(parents=True, exist_ok=True)
        target = self.path_for(str(message["Message-ID"]))
        # Written under a name that is not *.eml until whole: whatever reads the outbox sees complete messages only.
        fd, tmp = tempfile.mkstemp(dir=self.outbox, prefix=".tmp-", suffix=".part")
        with os.fdopen(fd, "wb") as handle:
            handle.write(message.as_bytes())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        return Accepted(f"written to {target.name}")

    def check(self) -> str:
        return "not_configured"


class TLSRefused(smtplib.SMTPException):
    """The server offers no STARTTLS where encryption is required: nothing, and no password, was sent."""


class SMTPTransport:
    """smtps://host:465, or smtp://host:587 with STARTTLS: required whenever there is a login (the password is
    never sent in clear), used when offered otherwise; ``?starttls=required`` insists even without a login and
    ``?starttls=off`` never asks (a relay on the same machine)."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.starttls_off = starttls_mode(url) == "off"
        self.starttls_required = smtp_tls_required(url)
        self.timeout = timeout

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if self.implicit_tls:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            client.ehlo()
            if client.has_extn("starttls") and not self.starttls_off:
                client.starttls(context=context)
                client.ehlo()
            elif self.starttls_required:
                client.close()
                sent = "the password was not sent and " if self.username or self.password else ""
                raise TLSRefused(f"{self.host}:{self.port} does not offer STARTTLS, so {sent}nothing was sent: "
                                 "CASEWORK_SMTP_URL requires an encrypted connection (smtps://, a relay that "
                                 "offers STARTTLS, or ?starttls=off for a relay on the same machine)")
        if self.username:
            client.login(self.username, self.password or "")
        return client

    def send(self, message: EmailMessage) -> Accepted:
        """smtplib returns the recipients refused while others were accepted, and raises when all were."""
        with self._connect() as client:
            refused = client.send_message(message)
        return Accepted(f"accepted by {self.host}:{self.port}", refusals(refused))

    def check(self) -> str:
        try:
            with self._connect() as client:
                client.noop()
        except (OSError, smtplib.SMTPException):
            return "unreachable"
        return "ok"


def make_transport(settings: Settings) -> Transport:
    if settings.smtp_url:
        return SMTPTransport(settings.smtp_url, settings.smtp_timeout_seconds)
    return FileTransport(settings.outbox)
