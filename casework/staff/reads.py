"""Who on the staff looked at a case, and how: a row per read, kept apart from the case's timeline."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from casework.staff.models import CaseRead

VIAS = ("page", "api", "letter", "evidence", "export")  # export: everything held about a consumer


def log_read(session: Session, case_id: int, staff_id: int, via: str, now: dt.datetime) -> None:
    """Record the read in the caller's transaction (the caller commits, also on a read-only page)."""
    if via not in VIAS:
        raise ValueError(f"unknown read channel {via!r}")
    session.add(CaseRead(case_id=case_id, staff_id=staff_id, via=via, at=now))


def log_read_now(session: Session, case_id: int, staff_id: int, via: str, now: dt.datetime) -> None:
    """For pages that only read: end the reading transaction, then write the log row in one of its own.

    On SQLite a transaction that has read cannot start writing once another connection has written since,
    so the log row must not come after the page's reads in the same transaction.
    """
    session.commit()
    log_read(session, case_id, staff_id, via, now)
    session.commit()
