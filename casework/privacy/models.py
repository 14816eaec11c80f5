"""Erasure codes: the consumer proves, from their mailbox, that the deletion of their data is their wish."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from casework.db import Base, utcnow


class ErasureCode(Base):
    """A code e-mailed to the case's address; posting it deletes the case's personal data.

    Stored as an HMAC like a confirmation code; it expires, allows a few attempts, and a new one
    supersedes the old ones.
    """

    __tablename__ = "erasure_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    code_hmac: Mapped[bytes] = mapped_column(LargeBinary(32))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    superseded_at: Mapped[dt.datetime | None]
