"""Staff accounts; passwords are argon2 hashes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from casework.db import Base, utcnow

ROLES = ("caseworker", "supervisor")


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="caseworker")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]
    # Rotated at every sign-in and cleared at sign-out: a copied session cookie dies with it.
    session_token: Mapped[str | None] = mapped_column(String(64))
    # The password was made for the person and someone else saw it (a new account, a reset): they choose their own
    # at the next sign-in, before anything else.
    must_change_password: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (CheckConstraint(f"role IN {ROLES}", name="role"),)

    # What Flask-Login asks of a user object.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        """What the login session holds: the id and this sign-in's token, checked on every request."""
        return f"{self.id}:{self.session_token or ''}"


class StaffApiToken(Base):
    """A caseworker's token for the API (integrations, scripts): shown once, stored as HMAC-SHA-256,
    revocable, expiring, optionally read-only, and only as good as its owner's account."""

    __tablename__ = "staff_api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hmac: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    # The first characters of the token, so a person can tell their tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    # Chosen at minting (casework.staff.api_tokens.LIFETIME_DAYS): a forgotten token does not work for ever.
    expires_at: Mapped[dt.datetime]
    # Reads only: every change over the API is refused (403).
    read_only: Mapped[bool] = mapped_column(default=False)


class CaseNote(Base):
    """A caseworker's internal note on a case: on the staff case page and in the staff API, never shown to
    the consumer."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CaseRead(Base):
    """A member of staff opened a case (page, API or a document): who looked at a person's data, and when."""

    __tablename__ = "case_reads"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # page, api, letter, evidence
    via: Mapped[str] = mapped_column(String(16))

    __table_args__ = (Index("ix_case_reads_case_id_at", "case_id", "at"),)


class SavedView(Base):
    """A caseworker's named queue filter (the query string of the queue page), listed on their queue."""

    __tablename__ = "saved_views"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    query: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("staff_id", "name", name="uq_saved_views_staff_id_name"),)
