"""The staff side of the API (staff API token): the queue, taking and assigning cases, and case actions.

A caseworker's program sends ``Authorization: Bearer cwst_…``; a missing, unknown or revoked token, or one
whose account is disabled, is a 401. Changes name the case's version in ``If-Match`` (409 ``stale`` when
it moved on). The rules live in the services (:mod:`casework.staff.actions`, :mod:`casework.staff.claiming`);
these views only translate HTTP to them and back.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Sequence
from typing import Annotated, Any, Literal, cast

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import AfterValidator, BaseModel, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.access import route_rule
from casework.api.auth import refuse_read_only_writes, staff_token, token_key
from casework.api.bodies import Body
from casework.api.documents import StaffCaseOut
from casework.api.domain_errors import register_domain_errors
from casework.api.errors import api_error
from casework.api.openapi import REF_PARAM, Operation, operation
from casework.api.staff_changes import Change, change_case
from casework.cases import clock, entered_dates
from casework.cases.intake import IntakeErrors
from casework.cases.models import Case
from casework.cases.schemas import AMOUNT_RE, currencies
from casework.cases.states import ESCALATION_KINDS, CaseStatus, Outcome
from casework.cases.transitions import CaseConflict, is_reopen, reopen_target
from casework.cases.urgency import NO_DEADLINE
from casework.db import utcnow
from casework.runtime import runtime_of
from casework.staff import actions
from casework.staff.claiming import ClaimRefused, assign, take_next
from casework.staff.models import StaffUser
from casework.staff.queue import parse_filters, queue_page
from casework.staff.queue_line import QueueLine
from casework.typed_text import multi_line, single_line
from casework.web import csrf, db, limiter

bp = Blueprint("api_staff", __name__, url_prefix="/api/v1")
bp.before_request(refuse_read_only_writes)
register_domain_errors(bp)
csrf.exempt(bp)  # a bearer token authenticates these calls, never a cookie

STAFF_ERRORS: dict[int, type[BaseModel] | None] = {
    400: None, 401: None, 403: None, 404: None, 409: None, 413: None, 422: None, 429: None}


@bp.errorhandler(ClaimRefused)
def _claim_refused(error: ClaimRefused) -> Response:
    if error.forbidden:
        return api_error(403, "forbidden", str(error))
    return api_error(409, "conflict", str(error))


# --- the case summary of the queue --------------------------------------------------------------------------


class QueueCaseOut(BaseModel):
    reference: str
    status: str
    outcome: str | None
    version: int
    provider: dict[str, str]
    consumer: dict[str, str]
    assignee: dict[str, Any] | None
    urgency: dict[str, str | None]
    needs_review: bool
    flags: list[str]
    created_at: str
    url: str


class QueueOut(BaseModel):
    cases: list[QueueCaseOut]
    next_cursor: str | None
    counts: dict[str, int]
    counts_capped: bool = Field(description="More cases match than were counted: each count is a lower bound.")
    notices: list[str]


class TakenOut(BaseModel):
    case: QueueCaseOut | None


def _names(session: Session, cases: Sequence[QueueLine], known: dict[int, str]) -> dict[int, str]:
    ids = {c.assignee_id for c in cases if c.assignee_id is not None} - known.keys()
    if not ids:
        return known
    found = session.execute(select(StaffUser.id, StaffUser.name).where(StaffUser.id.in_(ids)))
    return {**known, **{staff_id: name for staff_id, name in found}}


def summaries(session: Session, cases: Sequence[QueueLine], flags: dict[int, list[str]],
              known_names: dict[int, str] | None = None) -> list[dict[str, Any]]:
    """The queue's lines as JSON; ``known_names`` (staff id → name) spares looking up the caller's own name."""
    names = _names(session, cases, known_names or {})
    return [{
        "reference": c.reference,
        "status": c.status.value,
        "outcome": c.outcome.value if c.outcome else None,
        "version": c.version,
        "provider": {"slug": c.provider_slug, "name": (c.company or {}).get("name") or c.provider_slug},
        "consumer": {"name": c.consumer_name, "email": c.consumer_email},
        "assignee": None if c.assignee_id is None else {"id": c.assignee_id, "name": names.get(c.assignee_id, "")},
        "urgency": {"on": None if c.urgency_on == NO_DEADLINE else c.urgency_on.isoformat(), "kind": c.urgency_kind},
        "needs_review": c.needs_review,
        "flags": flags.get(c.id, []),
        "created_at": c.created_at.astimezone(dt.UTC).isoformat(),
        "url": f"/api/v1/cases/{c.reference}",
    } for c in cases]


QUEUE_ARGS = [{"name": name, "in": "query", "required": False, "schema": schema} for name, schema in (
    ("status", {"type": "array", "items": {"type": "string"}}), ("company", {"type": "string"}),
    ("assignee", {"type": "string", "description": '"mine", "unassigned" or a staff id'}),
    ("overdue", {"type": "string", "enum": ["1"]}), ("within", {"type": "integer"}),
    ("failed", {"type": "string", "enum": ["1"]}), ("review", {"type": "string", "enum": ["1"]}),
    ("q", {"type": "string"}), ("after", {"type": "string", "description": "next_cursor of the page before"}))]
operation(Operation("GET", "/api/v1/queue", "The queue, most urgent first (the staff page's filters)",
                    {200: QueueOut, 401: None, 429: None}, parameters=QUEUE_ARGS, security=True))


@bp.get("/queue")
@route_rule("staff_token")
@limiter.limit("240 per minute", key_func=token_key)
@staff_token
def queue(staff: StaffUser) -> ResponseReturnValue:
    """Garbage filter values are ignored with a notice, as on the page; never an error."""
    session = db()
    filters, notices = parse_filters(request.args)
    after = request.args.get("after") or None
    page = queue_page(session, filters, me=staff.id, cursor=after, now=utcnow())
    return jsonify({"cases": summaries(session, page.rows, page.flags), "next_cursor": page.next_cursor,
                    "counts": page.counts, "counts_capped": page.counts_capped,
                    "notices": [*notices, *page.notices]})


operation(Operation("POST", "/api/v1/queue/take-next", "Take the most urgent unassigned case (null when none waits)",
                    {200: TakenOut, 401: None, 429: None}, security=True))


@bp.post("/queue/take-next")
@route_rule("staff_token")
@limiter.limit("60 per minute", key_func=token_key)
@staff_token
def take_next_case(staff: StaffUser) -> ResponseReturnValue:
    """The answer is built before the commit, from the row the claim returned: no second read of the case."""
    session = db()
    case = take_next(session, staff.id, utcnow())
    body = None if case is None else summaries(session, [case], clock.staff_flags(session, [case]),
                                               {staff.id: staff.name})[0]
    session.commit()
    return jsonify({"case": body})


# --- changes to one case --------------------------------------------------------------------------------------


class AssignBody(Body):
    assignee: int | Literal["me"] | None = Field(description='A staff id, "me", or null to release the case.')

    @field_validator("assignee", mode="before")
    @classmethod
    def _one_of(cls, value: object) -> object:
        """One sentence for any wrong value, rather than one per member of the union."""
        if value is None or value == "me" or type(value) is int:
            return value
        raise ValueError('a staff id, "me", or null')


OneLine = Annotated[str, AfterValidator(single_line)]
Text = Annotated[str, AfterValidator(multi_line)]


class NoteBody(Body):
    body: Text = Field(min_length=1, max_length=actions.NOTE_MAX)


class RefundedIn(Body):
    amount: str = Field(description="A decimal string greater than 0 with at most 2 decimals.")
    currency: str = Field(description="ISO 4217 code.")
    on: dt.date

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: str) -> str:
        if not AMOUNT_RE.fullmatch(value) or decimal.Decimal(value) <= 0:
            raise ValueError("a positive amount with at most 2 decimals, such as 599.00")
        return value

    @field_validator("currency")
    @classmethod
    def _iso(cls, value: str) -> str:
        if value.upper() not in currencies():
            raise ValueError("not an ISO 4217 currency code")
        return value.upper()


class EscalationIn(Body):
    kind: Literal["regulator", "ombudsman", "card_issuer"] = Field(description=f"One of {ESCALATION_KINDS}.")
    name: OneLine = Field(min_length=1, max_length=200)
    reference: OneLine | None = Field(None, max_length=100)


class StatusBody(Body):
    status: Literal["new", "needs_info", "ready", "sent", "follow_up", "escalated", "resolved", "closed"]
    outcome: Literal["cancelled", "cancelled_refunded", "cancelled_partial_refund", "refund_denied", "refused",
                     "no_response", "redirected_app_store", "withdrawn"] | None = None
    refunded: RefundedIn | None = None
    question: Text | None = Field(None, max_length=actions.QUESTION_MAX)
    escalation: EscalationIn | None = None
    final_notice: bool = False
    reason: Text | None = Field(None, max_length=2000)


CASE_CHANGE: dict[int, type[BaseModel] | None] = {**STAFF_ERRORS, 200: StaffCaseOut}
IF_MATCH_PARAM = {"name": "If-Match", "in": "header", "required": True,
                  "schema": {"type": "string", "examples": ['"3"']},
                  "description": "The case's version as read; a case that changed since is 409 stale."}
operation(Operation("POST", "/api/v1/cases/{reference}/assign", 'Assign the case to a caseworker, "me", or release it',
                    CASE_CHANGE, request=AssignBody, parameters=[*REF_PARAM, IF_MATCH_PARAM], security=True))


def _assignee(session: Session, staff: StaffUser, wanted: int | Literal["me"] | None) -> StaffUser | None:
    if wanted is None:
        return None
    if wanted == "me":
        return staff
    found = session.get(StaffUser, wanted) if 0 < wanted < 2**31 else None
    if found is None:
        raise IntakeErrors({"assignee": "no staff account with this id"})
    return found


@bp.post("/cases/<reference>/assign")
@route_rule("staff_token")
@limiter.limit("120 per minute", key_func=token_key)
@staff_token
def assign_case(reference: str, staff: StaffUser) -> ResponseReturnValue:
    def run(session: Session, case: Case, by: StaffUser, body: AssignBody, now: dt.datetime) -> None:
        assign(session, case, _assignee(session, by, body.assignee), by, now)

    return change_case(reference, staff, AssignBody, run, if_match=True)


operation(Operation("POST", "/api/v1/cases/{reference}/notes", "Add an internal note (never shown to the consumer)",
                    CASE_CHANGE, request=NoteBody, parameters=REF_PARAM, security=True))


@bp.post("/cases/<reference>/notes")
@route_rule("staff_token")
@limiter.limit("120 per minute", key_func=token_key)
@staff_token
def add_note(reference: str, staff: StaffUser) -> ResponseReturnValue:
    def run(session: Session, case: Case, by: StaffUser, body: NoteBody, now: dt.datetime) -> None:
        if not body.body.strip():
            raise IntakeErrors({"body": "required"})
        actions.add_note(session, case, by, body.body.strip(), now)

    return change_case(reference, staff, NoteBody, run, if_match=False)


operation(Operation("POST", "/api/v1/cases/{reference}/status",
                    "Move the case: resolve, close, reopen, ask the consumer, escalate, follow up now",
                    CASE_CHANGE, request=StatusBody, parameters=[*REF_PARAM, IF_MATCH_PARAM], security=True))

# What each target needs in the body; anything else given is a field error.
NEEDS = {CaseStatus.RESOLVED: ("outcome",), CaseStatus.NEEDS_INFO: ("question",),
         CaseStatus.ESCALATED: ("escalation",)}
ALLOWED = {CaseStatus.RESOLVED: {"outcome", "refunded"}, CaseStatus.NEEDS_INFO: {"question"},
           CaseStatus.ESCALATED: {"escalation", "final_notice"}}
WHY = {"outcome": "required to resolve a case", "question": "required to ask the consumer",
       "escalation": "required to escalate a case", "reason": "required to reopen a case"}


def _check_fields(case: Case, target: CaseStatus, body: StatusBody) -> None:
    """Each status takes its own fields: 422 for a missing one or one that belongs to another move."""
    reopen = is_reopen(case, target)
    needed = ("reason",) if reopen else NEEDS.get(target, ())
    allowed = {"reason"} if reopen else ALLOWED.get(target, set())
    errors = IntakeErrors()
    given = {name for name in ("outcome", "refunded", "question", "escalation", "reason")
             if getattr(body, name) not in (None, "")}
    if body.final_notice:
        given.add("final_notice")
    for name in needed:
        value = getattr(body, name)
        if value is None or (isinstance(value, str) and not value.strip()):
            errors.add(name, WHY[name])
    for name in sorted(given - allowed):
        errors.add(name, f"not used when moving a case to {target.value}")
    if errors.fields:
        raise errors


def _check_transition(case: Case, target: CaseStatus) -> None:
    if target is case.status:
        raise CaseConflict(f"The case is already {target.value}.")
    if is_reopen(case, target):
        reopens_to = reopen_target(case)
        if target is not reopens_to:
            raise CaseConflict(f"A {case.status.value} case reopens to {reopens_to.value}, not {target.value}.")
        return
    allowed = actions.transitions_for(case)
    if target not in allowed:
        options = ", ".join(s.value for s in allowed) or "no other status"
        raise CaseConflict(f"A case that is {case.status.value} cannot move to {target.value}; "
                           f"from here it can move to: {options}.")
    if target not in MOVES:
        raise CaseConflict(f"A case moves to {target.value} by its own step (a recorded delivery or the "
                           "consumer's answer), not by setting its status.")


def _resolve(session: Session, case: Case, staff: StaffUser, body: StatusBody, now: dt.datetime) -> None:
    refunded = body.refunded
    money = None if refunded is None else actions.Refunded(decimal.Decimal(refunded.amount), refunded.currency,
                                                           refunded.on)
    problem = None if refunded is None else entered_dates.past_date_problem(refunded.on, case, now, "staff")
    if problem is not None:
        raise IntakeErrors({"refunded.on": entered_dates.API_REASONS[problem]})
    actions.resolve(session, runtime_of().settings, case, staff, Outcome(cast(str, body.outcome)), now, money)


def _escalate(session: Session, case: Case, staff: StaffUser, body: StatusBody, now: dt.datetime) -> None:
    where = cast(EscalationIn, body.escalation)
    actions.escalate(session, runtime_of().settings, case, staff,
                     actions.Escalation(where.kind, where.name.strip(), (where.reference or "").strip() or None),
                     now, final_notice=body.final_notice)


MOVES: dict[CaseStatus, Change] = {
    CaseStatus.RESOLVED: _resolve,
    CaseStatus.CLOSED: lambda session, case, staff, body, now: actions.close(session, case, staff, now),
    CaseStatus.NEEDS_INFO: lambda session, case, staff, body, now: actions.ask_consumer(
        session, runtime_of().settings, case, staff, body.question.strip(), now),
    CaseStatus.ESCALATED: _escalate,
    CaseStatus.FOLLOW_UP: lambda session, case, staff, body, now: actions.send_follow_up_now(
        session, runtime_of().settings, case, staff, now),
}


def _move(session: Session, case: Case, staff: StaffUser, body: StatusBody, now: dt.datetime) -> None:
    target = CaseStatus(body.status)
    _check_fields(case, target, body)
    _check_transition(case, target)
    if is_reopen(case, target):
        actions.reopen(session, runtime_of().settings, case, staff, (body.reason or "").strip(), now)
    else:
        MOVES[target](session, case, staff, body, now)


@bp.post("/cases/<reference>/status")
@route_rule("staff_token")
@limiter.limit("120 per minute", key_func=token_key)
@staff_token
def move_case(reference: str, staff: StaffUser) -> ResponseReturnValue:
    return change_case(reference, staff, StatusBody, _move, if_match=True)
