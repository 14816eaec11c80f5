"""One action on many cases at once, all or nothing.

The selected cases are locked in id order (so two bulk actions at the same moment wait for each other instead
of deadlocking), each goes through the same service as the case page, and any refusal (a stale version, a move
the case does not allow, an assignment the caseworker may not make) rolls the whole selection back: the caller
commits only when :func:`apply` returns. Every event the services write gets ``{"bulk": n}`` in its data, so the
timeline shows the change came from a bulk action.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from casework.cases.filing import CaseError
from casework.cases.models import Case, CaseEvent
from casework.cases.states import ESCALATION_KINDS, Actor, CaseStatus, Outcome
from casework.cases.transitions import CaseConflict
from casework.config import Settings
from casework.db import is_postgresql
from casework.staff import actions
from casework.staff.claiming import ClaimRefused, assign
from casework.staff.models import StaffUser
from casework.typed_text import is_clean_text

MAX_SELECTION = 200
REFERENCE_MAX = 16
READ_MAX = 20_000
ROW_ID_MAX = 2_147_483_647
# The moves a selection can make together: each needs at most one shared field (an outcome, a question, a place).
STATUS_MOVES = (CaseStatus.RESOLVED, CaseStatus.CLOSED, CaseStatus.NEEDS_INFO, CaseStatus.ESCALATED)
STALE = "Someone changed this case since the list was shown; check it again."
UNKNOWN = "No case has this reference."
Kind = Literal["assign", "release", "status"]


@dataclass(frozen=True)
class Selected:
    """A ticked row: the case and the version the caseworker saw."""

    reference: str
    version: int


@dataclass(frozen=True)
class BulkAction:
    """What to do to every selected case, checked before any case is touched."""

    kind: Kind
    assignee_id: int | None = None
    status: CaseStatus | None = None
    outcome: Outcome | None = None
    question: str | None = None
    escalation: actions.Escalation | None = None


@dataclass(frozen=True)
class Refusal:
    reference: str
    reason: str
    http_status: int = 409


class BulkRefused(Exception):
    """Nothing was changed: these cases refused (the caller rolls back)."""

    def __init__(self, refusals: list[Refusal]) -> None:
        super().__init__(f"{len(refusals)} cases refused")
        self.refusals = refusals

    @property
    def http_status(self) -> int:
        statuses = {refusal.http_status for refusal in self.refusals}
        return 403 if statuses == {403} else 409


class BulkFormError(CaseError):
    """The form itself needs correcting (HTTP 422); ``fields`` names the inputs."""


# --- reading the form ----------------------------------------------------------------------------------------


def parse_selection(values: list[str]) -> list[Selected]:
    """The ticked rows ("<reference>:<version>"), each once, in the order ticked."""
    if not values:
        raise BulkFormError("Tick at least one case.", {"case": "Tick at least one case."})
    if len(values) > MAX_SELECTION:
        raise BulkFormError(f"At most {MAX_SELECTION} cases at once.",
                            {"case": f"At most {MAX_SELECTION} cases at once; {len(values)} are ticked."})
    chosen: dict[str, Selected] = {}
    for raw in values:
        reference, _, version = raw.strip().partition(":")
        if not (reference and len(reference) <= REFERENCE_MAX and version.isascii() and version.isdigit()
                and len(version) <= 10 and int(version) <= ROW_ID_MAX):
            raise BulkFormError("A ticked row is not one of the queue's cases.",
                                {"case": "A ticked row is not one of the queue's cases; load the list again."})
        chosen.setdefault(reference.upper(), Selected(reference.upper(), int(version)))
    return list(chosen.values())


def _text(form: Mapping[str, str], name: str, limit: int, what: str, errors: dict[str, str]) -> str:
    text = form.get(name, "")[:READ_MAX].replace("\r\n", "\n").strip()
    if not text:
        errors[name] = f"Write {what}."
    elif len(text) > limit:
        errors[name] = f"At most {limit} characters (this has {len(text)})."
    elif not is_clean_text(text):
        errors[name] = actions.HIDDEN_CHARACTER
    return text


def _assignee(session: Session, form: Mapping[str, str], me: StaffUser) -> StaffUser:
    raw = form.get("assignee", "").strip()[:20]
    if raw == "me":
        return me
    if raw.isascii() and raw.isdigit() and len(raw) <= 10 and int(raw) <= ROW_ID_MAX:
        found = session.get(StaffUser, int(raw))
        if found is not None:
            return found
    raise BulkFormError("Choose who gets the cases.", {"assignee": "Choose a member of staff."})


def _escalation(form: Mapping[str, str], errors: dict[str, str]) -> actions.Escalation:
    kind = form.get("escalation.kind", "").strip()[:40]
    if kind not in ESCALATION_KINDS:
        errors["escalation.kind"] = "Choose a regulator, an ombudsman or the card issuer."
    name = _text(form, "escalation.name", actions.NAME_MAX, "who the cases go to, such as the ACCC", errors)
    if "escalation.name" not in errors and (problem := actions.one_line_problem(name, "who the cases go to")):
        errors["escalation.name"] = problem
    reference = form.get("escalation.reference", "")[:READ_MAX].strip() or None
    if reference is not None and len(reference) > actions.REFERENCE_MAX:
        errors["escalation.reference"] = f"At most {actions.REFERENCE_MAX} characters."
    elif reference is not None and (problem := actions.one_line_problem(reference, "their reference")):
        errors["escalation.reference"] = problem
    return actions.Escalation(kind, name, reference)


def _status_action(form: Mapping[str, str]) -> BulkAction:
    raw = form.get("status", "").strip()
    moves = {status.value: status for status in STATUS_MOVES}
    if raw not in moves:
        raise BulkFormError("Choose the status to move the cases to.", {"status": "Choose a status."})
    status, errors = moves[raw], {}
    outcome, question, escalation = None, None, None
    if status is CaseStatus.RESOLVED:
        raw_outcome = form.get("outcome", "").strip()
        if raw_outcome not in {o.value for o in Outcome if o is not Outcome.WITHDRAWN}:
            errors["outcome"] = "Choose the outcome."
        else:
            outcome = Outcome(raw_outcome)
    elif status is CaseStatus.NEEDS_INFO:
        question = _text(form, "question", actions.QUESTION_MAX, "the question", errors)
    elif status is CaseStatus.ESCALATED:
        escalation = _escalation(form, errors)
    if errors:
        raise BulkFormError("Some fields need correcting.", errors)
    return BulkAction("status", status=status, outcome=outcome, question=question, escalation=escalation)


def parse_action(session: Session, form: Mapping[str, str], me: StaffUser) -> BulkAction:
    """The action and what it needs; a missing or bad field is a BulkFormError before any case is read."""
    kind = form.get("action", "").strip()
    if kind == "assign":
        assignee = _assignee(session, form, me)
        return BulkAction("assign", assignee_id=assignee.id)
    if kind == "release":
        return BulkAction("release")
    if kind == "status":
        return _status_action(form)
    raise BulkFormError("Choose what to do with the ticked cases.", {"action": "Choose an action."})


# --- applying it ---------------------------------------------------------------------------------------------


def _locked(session: Session, references: list[str]) -> dict[str, Case]:
    """The selected cases, read (and on PostgreSQL locked) in id order."""
    query = select(Case).where(Case.reference.in_(references)).order_by(Case.id)
    if is_postgresql(session):
        query = query.with_for_update(of=Case)
    return {case.reference: case for case in session.scalars(query)}


def _apply_one(session: Session, settings: Settings, case: Case, staff: StaffUser, action: BulkAction,
               now: dt.datetime) -> None:
    if action.kind in ("assign", "release"):
        target = session.get(StaffUser, action.assignee_id) if action.assignee_id is not None else None
        assign(session, case, target, staff, now)
    elif action.status is CaseStatus.RESOLVED and action.outcome is not None:
        actions.resolve(session, settings, case, staff, action.outcome, now)
    elif action.status is CaseStatus.CLOSED:
        actions.close(session, case, staff, now)
    elif action.status is CaseStatus.NEEDS_INFO and action.question is not None:
        actions.ask_consumer(session, settings, case, staff, action.question, now)
    elif action.status is CaseStatus.ESCALATED and action.escalation is not None:
        actions.escalate(session, settings, case, staff, action.escalation, now)
    else:  # parse_action never builds one
        raise CaseError("This action cannot be applied.")
    session.flush()


def _refusal(reference: str, error: CaseError) -> Refusal:
    if isinstance(error, ClaimRefused):
        return Refusal(reference, str(error), 403 if error.forbidden else 409)
    return Refusal(reference, str(error), 409 if isinstance(error, CaseConflict) else 422)


def _bulk_marker(case_ids: set[int], staff: StaffUser, count: int) -> Callable[..., None]:
    """A before-flush hook giving every new event of this caseworker on these cases the size of the selection:
    events are append-only once written, and some services flush on their own."""
    def mark(session: Session, flush_context: Any, instances: Any) -> None:
        for obj in session.new:
            if (isinstance(obj, CaseEvent) and obj.case_id in case_ids and obj.actor is Actor.STAFF
                    and obj.actor_staff_id == staff.id):
                obj.data = {**(obj.data or {}), "bulk": count}
    return mark


def _refused(selection: list[Selected], cases: dict[str, Case]) -> list[Refusal]:
    """Unknown references and versions that are no longer the case's, before anything is changed."""
    versions = {item.reference: item.version for item in selection}
    refusals = [Refusal(item.reference, UNKNOWN, 409) for item in selection if item.reference not in cases]
    refusals += [Refusal(ref, STALE, 409) for ref, case in cases.items() if case.version != versions[ref]]
    return sorted(refusals, key=lambda refusal: refusal.reference)


def apply(session: Session, settings: Settings, staff: StaffUser, selection: list[Selected], action: BulkAction,
          now: dt.datetime) -> int:
    """Apply ``action`` to every selected case in the caller's transaction; the number of cases changed.

    Raises BulkRefused naming every refused case; the caller then rolls back, so no case is half-done."""
    cases = _locked(session, [item.reference for item in selection])
    refusals = _refused(selection, cases)
    if refusals:
        raise BulkRefused(refusals)
    marker = _bulk_marker({case.id for case in cases.values()}, staff, len(cases))
    event.listen(session, "before_flush", marker)
    try:
        for reference, case in cases.items():  # id order
            try:
                _apply_one(session, settings, case, staff, action, now)
            except CaseError as error:  # the case may be half-changed: the caller rolls everything back
                refusals.append(_refusal(reference, error))
    finally:
        event.remove(session, "before_flush", marker)
    if refusals:
        raise BulkRefused(refusals)
    return len(cases)


def done_message(count: int, action: BulkAction, staff: StaffUser) -> str:
    """The flash after a bulk action: "3 cases resolved (cancelled)."."""
    cases = "1 case" if count == 1 else f"{count} cases"
    if action.kind == "assign":
        # No colleague's name: flashes travel in the cookie (the queue shows whose each case is).
        return f"{cases} assigned to you." if action.assignee_id == staff.id else f"{cases} assigned."
    if action.kind == "release":
        return f"{cases} released."
    if action.status is CaseStatus.RESOLVED and action.outcome is not None:
        return f"{cases} resolved ({action.outcome.value.replace('_', ' ')})."
    if action.status is CaseStatus.NEEDS_INFO:
        return f"{cases} now wait for the consumer's answer; the question is e-mailed."
    if action.status is CaseStatus.ESCALATED and action.escalation is not None:
        return f"{cases} escalated to {action.escalation.name}."
    return f"{cases} closed."
