"""The sweep's share of the queue order: cases whose urgency date has gone by get it recomputed.

Only the urgency columns change (a Core UPDATE, no version bump): the order of the queue moves on with
the calendar without making a caseworker's open form stale.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from casework.cases import urgency
from casework.cases.models import Case
from casework.db import writing_session
from casework.runtime import Runtime

BATCH = 500


def refresh_batch(session: Session, now: dt.datetime) -> int:
    """Recompute up to BATCH cases whose urgency ran out; the number done."""
    rows = session.execute(
        select(Case.id, Case.status, Case.assessment, Case.timezone, Case.answer_due_on, Case.escalation_due_at,
               Case.review_due_on)
        .where(Case.urgency_expires_at.is_not(None), Case.urgency_expires_at <= now)
        .order_by(Case.urgency_expires_at).limit(BATCH)
    ).all()
    for row in rows:
        fresh = urgency.compute(status=row.status, assessment=row.assessment, timezone=row.timezone,
                                answer_due_on=row.answer_due_on, escalation_due_at=row.escalation_due_at, now=now,
                                review_due_on=row.review_due_on)
        session.execute(update(Case).where(Case.id == row.id)
                        .values(urgency_on=fresh.on, urgency_kind=fresh.kind, urgency_expires_at=fresh.expires_at,
                                updated_at=Case.updated_at)  # the case's facts did not change
                        .execution_options(synchronize_session=False))
    return len(rows)


def refresh_expired(runtime: Runtime, now: dt.datetime) -> int:
    """Every case whose urgency ran out, a batch per transaction."""
    done = 0
    while True:
        with writing_session(runtime.sessions) as session, session.begin():
            count = refresh_batch(session, now)
        done += count
        if count < BATCH:
            return done
