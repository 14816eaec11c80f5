"""Unconfirmed letter cases expire: after 7 days without the consumer's confirmation nothing was sent in
their name, so the case is closed and its personal data deleted, keeping the anonymous record.

It lives with the rest of erasure (not in the workflow) because what it does is delete personal data.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.cases.models import Case
from casework.cases.states import Actor, CaseStatus, Outcome
from casework.cases.transitions import finish
from casework.db import utcnow, writing_session
from casework.letters.models import first_letter_before, has_cancellation_letter
from casework.privacy.erasure import erase_case
from casework.runtime import Runtime

UNCONFIRMED_LIFETIME = dt.timedelta(days=7)


def expire_unconfirmed(session: Session, now: dt.datetime, batch: int = 200, outbox: Path | None = None) -> int:
    """Letter cases never confirmed within 7 days: closed, personal data deleted, the anonymous record kept.

    Cases without a letter (app-store billing, a one-time purchase with no refund to ask for) have nothing to
    confirm: they stay open, with their reminders, until the consumer says they cancelled or withdraws. A case
    whose corrected facts first called for a letter later counts its 7 days from that letter.
    """
    cutoff = now - UNCONFIRMED_LIFETIME
    cases = list(session.scalars(
        select(Case).where(Case.status == CaseStatus.NEW, Case.confirmed_at.is_(None),
                           Case.personal_data_deleted_at.is_(None), Case.created_at < cutoff,
                           has_cancellation_letter(Case.id), first_letter_before(Case.id, cutoff))
        .order_by(Case.id).limit(batch)
    ))
    for case in cases:
        finish(session, case, CaseStatus.CLOSED, Outcome.WITHDRAWN, Actor.SYSTEM, "expired_unconfirmed", now)
        erase_case(session, case, "expired", now, outbox=outbox)
    return len(cases)


def run_expiry(runtime: Runtime) -> int:
    """Beat: expire unconfirmed cases, batch by batch, each batch its own transaction."""
    total = 0
    while True:
        with writing_session(runtime.sessions) as session, session.begin():
            done = expire_unconfirmed(session, utcnow(), outbox=runtime.settings.outbox)
        total += done
        if done == 0:
            return total
