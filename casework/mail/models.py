"""OutboundEmail: one row per message, whatever the retries.

The Message-ID is derived from the idempotency key when the row is made, so a resend after a
crash between the server's acceptance and our commit is recognisably the same message.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from casework.db import Base, JsonType, partial_index, utcnow
from casework.jobs.models import JobMixin

EMAIL_STATUSES = ("pending", "sent", "failed", "cancelled")


class OutboundEmail(JobMixin, Base):
    __tablename__ = "outbound_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    message_id: Mapped[str] = mapped_column(String(250), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    # The letter this e-mail delivers to a company, if any: its sending is the letter's delivery.
    letter_id: Mapped[int | None] = mapped_column(ForeignKey("letters.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))
    sender: Mapped[str] = mapped_column(String(320))
    recipients: Mapped[list[str]] = mapped_column(JsonType)
    cc: Mapped[list[str]] = mapped_column(JsonType, default=list)
    reply_to: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    # The live secrets of the message (private links, codes), encrypted under the server key, until it is sent:
    # the bodies hold placeholders (see casework.mail.sealed).
    sealed_secrets: Mapped[str | None] = mapped_column(Text)
    # References to stored files, e.g. [{"letter_id": 3}]; bytes are read at send time.
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    headers: Mapped[dict[str, str]] = mapped_column(JsonType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # When the SMTP server accepted the message (or the file transport wrote it).
    sent_at: Mapped[dt.datetime | None]
    # Recipients the server refused while accepting the others: {"address": "code message"}.
    recipients_refused: Mapped[dict[str, str]] = mapped_column(JsonType, default=dict)
    # Where the recipient address came from, e.g. "catalog:coursera@2026-02-06" or "consumer".
    address_source: Mapped[str | None] = mapped_column(String(100))
    transport_confirmation: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        CheckConstraint(f"status IN {EMAIL_STATUSES}", name="status"),
        partial_index("ix_outbound_emails_relay", "relay_at", "status = 'pending'"),
        partial_index("ix_outbound_emails_failed_case", "case_id", "status = 'failed'"),  # the queue's "failed"
    )
