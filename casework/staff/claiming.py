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
from typing import cast

from sqlalchemy import ColumnElement, Table, Update, bindparam, insert, literal_column, select, update
from sqlalchemy.orm import Session

from casework.cases.filing import CaseError
from casework.cases.models import Case, CaseEvent
from casework.cases.states import FINISHED, Actor, CaseStatus
from casework.staff.models import StaffUser
from casework.staff.queue_line import QUEUE_LINE_COLUMNS, QueueLine

# The statuses where a caseworker has something to do; unconfirmed new cases wait for the consumer.
TAKE_STATUSES = (CaseStatus.NEEDS_INFO, CaseStatus.READY, CaseStatus.SENT, CaseStatus.FOLLOW_UP,
                 CaseStatus.ESCALATED)


def waiting_for_someone() -> ColumnElement[bool]:
    """The statuses "take next" hands out, written with literals as the partial index ``ix_cases_take_next``
    says them: only then can either database prove the index fits (a bound parameter proves nothing), and only
    that index leaves out the cases already claimed, which would otherwise pile up at the head of the scan."""
    return Case.status.in_([literal_column(f"'{status.value}'") for status in TAKE_STATUSES])


class ClaimRefused(CaseError):
    """The assignment is not allowed (HTTP 409 or 403 by ``forbidden``)."""

    def __init__(self, message: str, *, forbidden: bool = False) -> None:
        super().__init__(message)
        self.forbidden = forbidden


def _take_next_statement() -> Update:
    """Built once: the statement is the same for every claim (only the caseworker and the time change), and
    building it anew costs more than running it. SQLite has no row locks and renders no FOR UPDATE."""
    pick = (select(Case.id)
            .where(Case.assignee_id.is_(None), waiting_for_someone())
            .order_by(Case.urgency_on, Case.id)
            .limit(1)
            .with_for_update(skip_locked=True))
    cases = cast(Table, Case.__table__)
    return (update(cases)
            .where(cases.c.id == pick.scalar_subquery(), cases.c.assignee_id.is_(None))
            .values(assignee_id=bindparam("staff_id"), assigned_at=bindparam("now"), updated_at=bindparam("now"),
                    version=cases.c.version + 1)
            .returning(*QUEUE_LINE_COLUMNS))


_TAKE_NEXT = _take_next_statement()
_ASSIGNED_EVENT = insert(cast(Table, CaseEvent.__table__))


def take_next(session: Session, staff_id: int, now: dt.datetime) -> QueueLine | None:
    """Assign the most urgent unassigned open case to ``staff_id`` and return its queue line (None when none
    is left): one UPDATE that picks, claims and returns the case, and one INSERT for its timeline.

    The caller commits; until then the row stays locked (PostgreSQL) or the database write-locked (SQLite).
    """
    claimed = session.execute(_TAKE_NEXT, {"staff_id": staff_id, "now": now}).first()
    if claimed is None:
        return None
    # "assigned" leaves urgency and review alone, so the event needs none of the ORM's flush hooks.
    session.execute(_ASSIGNED_EVENT, {"case_id": claimed.id, "at": now, "actor": Actor.STAFF,
                                      "actor_staff_id": staff_id, "action": "assigned",
                                      "data": {"to": staff_id, "how": "take_next"}})
    return cast(QueueLine, claimed)


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
