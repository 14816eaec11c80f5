"""Wizard drafts: the answers of a case being filled in, kept on the server under a random key.

Flask's session cookie is signed, not encrypted: anyone who sees it reads it, and a browser drops a cookie over
4 KB (a long "anything else" alone is 5,000 characters). So the cookie carries only the draft's key, 256 random
bits; the table keeps the key's SHA-256, so a copy of the database does not let anyone resume a draft (a plain
hash is enough for a key that random, and it outlives a change of the server's secret key).

A draft lasts ``DRAFT_LIFETIME`` after its last change: older ones are never read, and the minute sweep (worker
``deadlines.sweep``) deletes them. Filing deletes the draft in the filing's own transaction, so a draft never
belongs to a case and erasure (casework.privacy) has none to find: the case's data is erased from the case.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import TypeGuard

from sqlalchemy import LargeBinary, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from casework.db import Base, JsonType, utcnow, writing_session
from casework.runtime import Runtime

DRAFT_LIFETIME = dt.timedelta(hours=24)
DRAFT_SESSION_KEY = "intake_draft"  # the one thing of the wizard's in the cookie: the draft's key
KEY_MAX = 100  # a real key is 43 characters; anything much longer is not one of ours
SWEEP_BATCH = 1000


class IntakeDraft(Base):
    """One browser's unfinished answers, as the wizard's form fields name them."""

    __tablename__ = "intake_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_sha256: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    answers: Mapped[dict[str, str]] = mapped_column(JsonType)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime] = mapped_column(index=True)  # the sweep looks for the old ones


def key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _usable(key: object) -> TypeGuard[str]:
    return isinstance(key, str) and 0 < len(key) <= KEY_MAX


def find_draft(session: Session, key: str | None, now: dt.datetime) -> IntakeDraft | None:
    """The draft behind this key, unless there is none or it has outlived ``DRAFT_LIFETIME``."""
    if not _usable(key):
        return None
    return session.scalars(select(IntakeDraft).where(IntakeDraft.key_sha256 == key_digest(key),
                                                     IntakeDraft.updated_at > now - DRAFT_LIFETIME)).one_or_none()


def save_draft(session: Session, key: str | None, answers: dict[str, str], now: dt.datetime) -> str:
    """Keep these answers under ``key`` while its draft lives, else under a new key: the key to hand back."""
    draft = find_draft(session, key, now)
    if draft is not None and key is not None:
        draft.answers, draft.updated_at = dict(answers), now
        return key
    discard_draft(session, key)  # an expired draft the sweep has not reached yet goes now
    fresh = secrets.token_urlsafe(32)
    session.add(IntakeDraft(key_sha256=key_digest(fresh), answers=dict(answers), created_at=now, updated_at=now))
    return fresh


def discard_draft(session: Session, key: str | None) -> None:
    """Delete the draft behind this key, if any (in the caller's transaction)."""
    if _usable(key):
        session.execute(delete(IntakeDraft).where(IntakeDraft.key_sha256 == key_digest(key)))


def delete_expired(session: Session, now: dt.datetime, batch: int = SWEEP_BATCH) -> int:
    """Delete up to ``batch`` drafts whose last change is ``DRAFT_LIFETIME`` ago or more; how many went.

    One statement: a draft changed meanwhile is no longer old, and stays."""
    cutoff = now - DRAFT_LIFETIME
    oldest = select(IntakeDraft.id).where(IntakeDraft.updated_at <= cutoff).order_by(IntakeDraft.id).limit(batch)
    result = session.execute(delete(IntakeDraft).where(IntakeDraft.id.in_(oldest), IntakeDraft.updated_at <= cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]


def run_draft_expiry(runtime: Runtime, now: dt.datetime | None = None) -> int:
    """The sweep's share: every expired draft, a batch per short transaction."""
    now = now or utcnow()
    total = 0
    while True:
        with writing_session(runtime.sessions) as session, session.begin():
            done = delete_expired(session, now)
        total += done
        if done < SWEEP_BATCH:
            return total
