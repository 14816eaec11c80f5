"""Who works on a case: "take next" hands out the most urgent unassigned case atomically; assign, reassign
and release are recorded on the case's timeline.

"Take next" is a single conditional UPDATE whose subquery picks the case: on PostgreSQL the subquery
locks its row with ``FOR UPDATE SKIP LOCKED``, so two caseworkers at the same moment each get a different
case; on SQLite the one statement holds the database's write lock from its start, and the
``assignee_id IS NULL`` condition is checked again by the UPDATE itself. Either way no two people get the
same case, and nobody waits on another's claim.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from casework.cases.models import Case, CaseEvent
from casework.cases.services import CaseError
from casework.cases.states import Actor, CaseStatus
from casework.db import is_postgresql
from casework.staff.models import StaffUser

# The statuses where a caseworker has something to do; unconfirmed new cases wait for the consumer.
TAKE_STATUSES = (CaseStatus.NEEDS_INFO, CaseStatus.READY, CaseStatus.SENT, CaseStatus.FOLLOW_UP,
                 CaseStatus.ESCALATED)
FINISHED = (CaseStatus.RESOLVED, CaseStatus.CLOSED)


class ClaimRefused(CaseError):
    """The assignment is not allowed (HTTP 409 or 403 by ``forbidden``)."""

    def __init__(self, message: str, *, forbidden: bool = False) -> None:
        super().__init__(message)
        self.forbidden = forbidden


def take_next(session: Session, staff_id: int, now: dt.datetime) -> Case | None:
    """Assign the most urgent unassigned open case to ``staff_id`` and return it (None when none is left).

    The caller commits; until then the row stays locked (PostgreSQL) or the database write-locked (SQLite).
    """
    pick = (select(Case.id)
            .where(Case.assignee_id.is_(None), Case.status.in_(TAKE_STATUSES))
            .order_by(Case.urgency_on, Case.id)
            .limit(1))
    if is_postgresql(session):
        pick = pick.with_for_update(skip_locked=True)
    claimed = session.execute(
        update(Case)
        .where(Case.id == pick.scalar_subquery(), Case.assignee_id.is_(None))
        .values(assignee_id=staff_id, assigned_at=now, updated_at=now, version=Case.version + 1)
        .returning(Case.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if claimed is None:
        return None
    session.add(CaseEvent(case_id=claimed, at=now, actor=Actor.STAFF, actor_staff_id=staff_id, action="assigned",
                          data={"to": staff_id, "how": "take_next"}))
    return session.get_one(Case, claimed, populate_existing=True)


def assign(session: Session, case: Case, assignee: StaffUser | None, by: StaffUser, now: dt.datetime) -> None:
    """Give the case to ``assignee`` (None releases it). A caseworker may take an unassigned case or release
    their own; a supervisor may move any case. The caller checked the case's version."""
    if case.status in FINISHED:
        raise ClaimRefused("A resolved or closed case keeps the caseworker who finished it; reopen it to give it "
                           "to someone.")
    previous = case.assignee_id
    target = assignee.id if assignee is not None else None
    if target == previous:
        raise ClaimRefused("The case is already " + ("unassigned." if target is None else "assigned to them."))
    if assignee is not None and not assignee.active:
        raise ClaimRefused("That account is disabled.")
    if by.role != "supervisor":
        own_release = target is None and previous == by.id
        self_take = target == by.id and previous is None
        if not (own_release or self_take):
            raise ClaimRefused("Only a supervisor can move a case that is someone else's, or give one to "
                               "someone else.", forbidden=True)
    case.assignee_id = target
    case.assigned_at = now if target is not None else None
    case.updated_at = now
    action = "released" if target is None else "assigned"
    session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.STAFF, actor_staff_id=by.id, action=action,
                          data={"to": target, "from": previous}))
