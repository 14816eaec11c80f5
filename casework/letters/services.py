"""Requesting letters (a job row) and finishing them (write-once evidence, then the e-mail)."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.cases.models import Case, CaseEvent
from casework.cases.references import CROCKFORD
from casework.cases.states import Actor
from casework.jobs.dispatch import dispatch_after_commit
from casework.letters.models import Letter
from casework.letters.snapshot import cancellation_snapshot

log = logging.getLogger("casework.letters")
RENDER_TASK = "letters.render"


def latest_letter(session: Session, case_id: int, kind: str = "cancellation") -> Letter | None:
    return session.execute(
        select(Letter).where(Letter.case_id == case_id, Letter.kind == kind)
        .order_by(Letter.version.desc()).limit(1)
    ).scalar_one_or_none()


def new_verification_code() -> str:
    """10 random Crockford base32 characters (50 bits), grouped for reading aloud: ``XXXXX-XXXXX``."""
    bits = secrets.randbits(50)
    chars = "".join(CROCKFORD[(bits >> shift) & 0x1F] for shift in range(45, -1, -5))
    return f"{chars[:5]}-{chars[5:]}"


def pending_letter_values(case: Case, kind: str, version: int, now: dt.datetime) -> dict[str, Any]:
    """A letter job's columns: its frozen facts (with its verification code), due for rendering now."""
    code = new_verification_code()
    snapshot = {**cancellation_snapshot(case, version, now), "verification_code": code}
    return {"kind": kind, "version": version, "status": "pending", "verification_code": code,
            "data_snapshot": snapshot, "created_at": now, "relay_at": now}


def request_letter(session: Session, case: Case, kind: str, now: dt.datetime) -> Letter:
    """Add a pending letter of ``kind`` with its frozen facts; the worker renders it after commit.

    A new version supersedes the previous one.
    """
    previous = latest_letter(session, case.id, kind)
    version = previous.version + 1 if previous is not None else 1
    if previous is not None and previous.status in ("pending", "rendered"):
        previous.status = "superseded"
    letter = Letter(case_id=case.id, supersedes_id=previous.id if previous is not None else None,
                    **pending_letter_values(case, kind, version, now))
    session.add(letter)
    session.flush()
    session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.SYSTEM, action="letter_requested",
                          data={"letter_id": letter.id, "kind": kind, "version": version}))
    dispatch_after_commit(session, RENDER_TASK, [letter.id])
    return letter
