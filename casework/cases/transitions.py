"""The state machine at the bottom of the case lifecycle: the only place a case's status is written.

Every move here keeps the clocks that hang on the status (``resolved_at``, the company's answer date) and
writes the timeline event in the caller's transaction. It knows nothing of e-mails, letters or the company:
the floors above decide what a move sets off.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from casework.cases.errors import CaseError
from casework.cases.models import Case, CaseEvent
from casework.cases.states import FINISHED, Actor, CaseStatus, Outcome, can_transition
from casework.letters.plan import letter_plan_for_case
from casework.reminders import planning as reminder_planning

__all__ = ["FINISHED", "CaseConflict", "finish", "is_reopen", "reopen", "reopen_refusal", "reopen_target",
           "transition"]


class CaseConflict(CaseError):
    """The case's status does not allow this action (HTTP 409)."""


def _words(status: CaseStatus) -> str:
    return status.value.replace("_", " ")


def _keep_clocks(case: Case, target: CaseStatus, now: dt.datetime) -> None:
    """Keep ``resolved_at`` (the auto-close clock) and the answer clock in step with the status."""
    if target is CaseStatus.RESOLVED:
        case.resolved_at = now
    elif target is not CaseStatus.CLOSED:
        case.resolved_at = None  # reopened: the close clock starts again at the next resolution
    if target in FINISHED:
        case.answer_due_on = None


def _write(session: Session, case: Case, target: CaseStatus, outcome: Outcome | None, actor: Actor, action: str,
           now: dt.datetime, data: dict[str, Any] | None, staff_id: int | None) -> None:
    previous = case.status
    case.status, case.outcome, case.updated_at = target, outcome, now
    _keep_clocks(case, target, now)
    session.add(CaseEvent(case_id=case.id, at=now, actor=actor, actor_staff_id=staff_id, action=action,
                          from_status=previous, to_status=target, data=data or {}))


def transition(session: Session, case: Case, target: CaseStatus, actor: Actor, action: str,
               now: dt.datetime, outcome: Outcome | None = None, data: dict[str, Any] | None = None,
               staff_id: int | None = None) -> None:
    """A move API.md's table allows; any way into a finished status stops the case's reminders."""
    current = case.status
    if not can_transition(current, target, case.status_before_needs_info):
        raise CaseConflict(f"A case that is {_words(current)} cannot become {_words(target)}.")
    if target is CaseStatus.RESOLVED and outcome is None:
        raise CaseError("A resolved case needs an outcome.", {"outcome": "required"})
    _write(session, case, target, outcome if target in FINISHED else None, actor, action, now, data, staff_id)
    reminder_planning.cancel_if_finished(session, case)


def finish(session: Session, case: Case, target: CaseStatus, outcome: Outcome | None, actor: Actor, action: str,
           now: dt.datetime, data: dict[str, Any] | None = None, staff_id: int | None = None) -> None:
    """Straight to resolved or closed from any open status, for moves that are not a caseworker's choice of
    outcome: a withdrawal, an app-store cancellation, an expired unconfirmed case, a merge. The caller
    stops what was going out (its own way), so no reminder is touched here."""
    if case.status in FINISHED:
        raise CaseConflict("This case is already finished.")
    if target not in FINISHED:
        raise ValueError(f"finish() ends a case; {target.value} is not an end")
    _write(session, case, target, outcome, actor, action, now, data, staff_id)


# --- the reopen rule --------------------------------------------------------------------------------------

# Why a case cannot reopen, in the order the rule checks it (each caller says it in its own words).
NOT_FINISHED = "not_finished"
WITHDRAWN = "withdrawn"
MERGED = "merged"
ERASED = "erased"


def reopen_target(case: Case) -> CaseStatus:
    """Letter cases go back to waiting for the company; cases without a letter (app-store billing, a one-time
    purchase with no refund to ask for) to the start."""
    return CaseStatus.SENT if letter_plan_for_case(case).letter else CaseStatus.NEW


def reopen_refusal(case: Case) -> str | None:
    """Why this case cannot reopen (NOT_FINISHED, WITHDRAWN, MERGED, ERASED), or None when it can.

    A withdrawn case stays withdrawn (the consumer files anew); a merged one lives on in its survivor.
    """
    if case.status not in FINISHED:
        return NOT_FINISHED
    if case.outcome is Outcome.WITHDRAWN:
        return WITHDRAWN
    if case.merged_into_id is not None:
        return MERGED
    if case.personal_data_deleted_at is not None:
        return ERASED
    return None


def is_reopen(case: Case, target: CaseStatus) -> bool:
    """Whether moving ``case`` to ``target`` would be a reopening (finished → open)."""
    return case.status in FINISHED and target not in FINISHED


def reopen(session: Session, case: Case, actor: Actor, now: dt.datetime, data: dict[str, Any],
           staff_id: int | None = None) -> CaseStatus:
    """A finished case opens again at :func:`reopen_target`, its outcome cleared and its reminders
    planned anew. The caller has checked :func:`reopen_refusal` (and said why, in its words)."""
    if case.status not in FINISHED:
        raise CaseConflict(f"Only a resolved or closed case can be reopened; this one is {_words(case.status)}.")
    target = reopen_target(case)
    _write(session, case, target, None, actor, "reopened", now, data, staff_id)
    reminder_planning.replan(session, case, now)
    return target
