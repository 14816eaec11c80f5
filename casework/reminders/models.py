"""Reminder rows, swept over ``due_at`` by one beat task."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from casework.db import Base, partial_index, utcnow

REMINDER_KINDS = ("refund_window_end", "trial_end", "renewal", "company_answer_due")
REMINDER_STATUSES = ("scheduled", "sent", "cancelled", "failed")


class Reminder(Base):
    __tablename__ = "reminders"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    deadline: Mapped[dt.date | None]
    # How many days before the act-by date this reminder fires (3 and 0 for each deadline).
    lead_days: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[dt.datetime]
    recipient: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    outbound_email_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbound_emails.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]

    __table_args__ = (
        CheckConstraint(f"kind IN {REMINDER_KINDS}", name="kind"),
        CheckConstraint(f"status IN {REMINDER_STATUSES}", name="status"),
        partial_index("ix_reminders_due", "due_at", "status = 'scheduled'"),
    )
