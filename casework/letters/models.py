"""The Letter row: a rendering job first, then a write-once piece of evidence."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    LargeBinary,
    String,
    UniqueConstraint,
    event,
    exists,
    inspect,
)
from sqlalchemy.orm import InstrumentedAttribute, Mapped, Session, deferred, mapped_column

from casework.db import Base, JsonType, partial_index, utcnow
from casework.jobs.models import JobMixin

LETTER_KINDS = ("cancellation", "follow_up", "final_notice", "evidence_pack")
LETTER_STATUSES = ("pending", "rendered", "failed", "superseded")
# A rendered letter has its PDF (until the case's personal data is deleted: its hash stays); a superseded one
# keeps it as evidence; no other letter has one.
LETTER_PDF_RULE = (
    "(status <> 'rendered' OR (sha256 IS NOT NULL AND (pdf IS NOT NULL OR pdf_erased_at IS NOT NULL))) "
    "AND (status IN ('rendered', 'superseded') OR pdf IS NULL)"
)
_WRITE_ONCE = ("pdf", "sha256", "pages", "template_version", "data_snapshot", "kind", "version", "case_id",
               "verification_code")


class Letter(JobMixin, Base):
    __tablename__ = "letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("letters.id", ondelete="SET NULL"))
    # The facts the letter is made from, frozen when the letter was requested.
    data_snapshot: Mapped[dict[str, Any]] = mapped_column(JsonType)
    pdf: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    sha256: Mapped[str | None] = mapped_column(String(64))
    pages: Mapped[int | None]
    template_version: Mapped[str | None] = mapped_column(String(64))
    # Printed in the letter's footer; /verify/<code> confirms reference, date and SHA-256 with no personal data.
    verification_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    rendered_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    # When the PDF went with the case's personal data (casework.privacy.erasure); sha256 and pages stay.
    pdf_erased_at: Mapped[dt.datetime | None]

    __table_args__ = (
        UniqueConstraint("case_id", "kind", "version", name="uq_letters_case_kind_version"),
        CheckConstraint(f"kind IN {LETTER_KINDS}", name="kind"),
        CheckConstraint(f"status IN {LETTER_STATUSES}", name="status"),
        CheckConstraint(LETTER_PDF_RULE, name="rendered_has_pdf"),
        partial_index("ix_letters_relay", "relay_at", "status = 'pending'"),
        partial_index("ix_letters_failed_case", "case_id", "status = 'failed'"),  # the queue's "failed" filter
    )


@event.listens_for(Session, "before_flush")
def _rendered_letters_are_write_once(session: Session, flush_context: Any, instances: Any) -> None:
    for obj in session.dirty:
        if not isinstance(obj, Letter):
            continue
        state = inspect(obj)
        status_history = state.attrs["status"].history
        was = status_history.deleted[0] if status_history.deleted else obj.status
        changed = [name for name in _WRITE_ONCE if state.attrs[name].history.has_changes()]
        if was == "rendered" and changed:
            raise ValueError(f"letter {obj.id} is rendered and write-once: {', '.join(changed)}")


CaseId = ColumnElement[int] | InstrumentedAttribute[int]
"""The id column of the cases being queried, to correlate with (``Case.id``)."""


def has_cancellation_letter(case_id: CaseId) -> ColumnElement[bool]:
    """SQL: the case (``case_id``, e.g. ``Case.id`` in a query on cases) has a cancellation letter in force.

    Filing makes one exactly when the letter plan says a letter is written, and a correction that takes the
    letter away supersedes it, so this is the letter plan where only SQL will do (the sweeps' batches).
    """
    return exists().where(Letter.case_id == case_id, Letter.kind == "cancellation", Letter.status != "superseded")


def first_letter_before(case_id: CaseId, cutoff: dt.datetime) -> ColumnElement[bool]:
    """SQL: the case's first cancellation letter was asked for before ``cutoff``."""
    return exists().where(Letter.case_id == case_id, Letter.kind == "cancellation", Letter.version == 1,
                          Letter.created_at < cutoff)
