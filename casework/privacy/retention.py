"""Retention: cases finished long enough ago lose their personal data, batch by batch.

A case is finished when it is resolved or closed; it finished when it was resolved (``resolved_at``,
kept when it is closed later), or, for a case closed without being resolved (a merged duplicate), at
its last change. Each batch is its own transaction, walked by id, so a run can be stopped and started
again, and running it twice deletes nothing twice.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from casework.cases.models import Case
from casework.cases.states import FINISHED
from casework.db import is_postgresql, writing_session
from casework.privacy.erasure import erase_cases
from casework.runtime import Runtime


def due_condition(cutoff: dt.datetime) -> ColumnElement[bool]:
    return (Case.status.in_(FINISHED) & Case.personal_data_deleted_at.is_(None)
            & (func.coalesce(Case.resolved_at, Case.updated_at) < cutoff))


def count_due(session: Session, cutoff: dt.datetime) -> int:
    return int(session.execute(select(func.count(Case.id)).where(due_condition(cutoff))).scalar_one())


def purge_batch(runtime: Runtime, cutoff: dt.datetime, after_id: int, size: int,
                now: dt.datetime) -> tuple[int, int, int]:
    """Erase the next ``size`` due cases after ``after_id``: (erased, last id seen, cases seen)."""
    with writing_session(runtime.sessions) as session, session.begin():
        query = select(Case).where(Case.id > after_id, due_condition(cutoff)).order_by(Case.id).limit(size)
        if is_postgresql(session):
            query = query.with_for_update(skip_locked=True)  # a case being changed now is left for the next run
        cases = list(session.scalars(query))
        erased = erase_cases(session, cases, "retention", now, outbox=runtime.settings.outbox)
        last = cases[-1].id if cases else after_id
    return erased, last, len(cases)
