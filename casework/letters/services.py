"""Requesting letters (a job row) and finishing them (write-once evidence, then the e-mail)."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casework.cases.models import Case, CaseEvent
from casework.cases.states import Actor
from casework.jobs.dispatch import dispatch_after_commit
from casework.letters.models import Letter
from casework.letters.snapshot import cancellation_snapshot

log = logging.getLogger("casework.letters")
RENDER_TASK = "letters.render"


def request_letter(session: Session, case: Case, kind: str, now: dt.datetime) -> Letter:
    """Add a pending letter of ``kind`` with its frozen facts; the worker renders it after commit."""
    latest = session.execute(
        select(func.max(Letter.version)).where(Letter.case_id == case.id, Letter.kind == kind)
    ).scalar_one()
    version = (latest or 0) + 1
    previous = session.execute(
        select(Letter).where(Letter.case_id == case.id, Letter.kind == kind, Letter.version == latest)
    ).scalar_one_or_none()
    if previous is not None and previous.status in ("pending", "rendered"):
        previous.status = "superseded"
    letter = Letter(
        supersedes_id=previous.id if previous is not None else None,
        case_id=case.id,
        kind=kind,
        version=version,
        status="pending",
        data_snapshot=cancellation_snapshot(case, version, now),
        created_at=now,
        relay_at=now,
    )
    session.add(letter)
    session.flush()
    session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.SYSTEM, action="letter_requested",
                          data={"letter_id": letter.id, "kind": kind, "version": version}))
    dispatch_after_commit(session, RENDER_TASK, [letter.id])
    return letter
