"""A case's evidence pack as the worker rendered it: a job row first, then the stored download.

``digest`` names what the pack shows (every event, letter, delivery, e-mail and answer it lists, and the
templates that draw it), so a request serves a stored pack only while its digest is still the one the case's
records give now; anything else is stale and is rendered again. ``data`` is the pack as built when it was asked
for: the worker renders exactly that, so the stored PDF is what the digest names.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column

from casework.db import Base, JsonType, partial_index, utcnow
from casework.jobs.models import JobMixin

PACK_STATUSES = ("pending", "rendered", "failed")


class StoredPack(JobMixin, Base):
    __tablename__ = "evidence_packs"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    digest: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    data: Mapped[dict[str, Any]] = mapped_column(JsonType)
    pdf: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    # The ZIP: this PDF with the stored letters it lists, byte for byte (casework.evidence.bundle).
    archive: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    rendered_at: Mapped[dt.datetime | None]

    __table_args__ = (
        # One job per case and contents: concurrent requests for the same pack meet here.
        UniqueConstraint("case_id", "digest", name="uq_evidence_packs_case_digest"),
        CheckConstraint(f"status IN {PACK_STATUSES}", name="status"),
        CheckConstraint("status <> 'rendered' OR (pdf IS NOT NULL AND archive IS NOT NULL)", name="rendered_has_files"),
        partial_index("ix_evidence_packs_relay", "relay_at", "status = 'pending'"),
    )
