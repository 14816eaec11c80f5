"""API v1 cases: filing (with Idempotency-Key), the case document, its letters, consumer actions.

A consumer authenticates with ``Authorization: Bearer <access token>``; a wrong or missing token
is a 404, so nobody learns whether a reference exists. A staff API token (``cwst_…``) reads every case,
with the staff's extras (assignee, urgency, internal notes and events), each read logged; it never works on
the consumer's own actions (404 there, as for any token that is not the case's).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, g, jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from casework.access import route_rule
from casework.api.errors import api_error, register_domain_errors
from casework.api.models import AssessmentOut, NamedRef
from casework.api.openapi import Operation, operation
from casework.api.views import read_json_body
from casework.cases.answers import refund_received
from casework.cases.confirmation import CodeRefused
from casework.cases.intake import BadRequest, IntakeErrors, parse_case_request, validate
from casework.cases.models import Case, CaseEvent, Delivery, IdempotencyKey
from casework.cases.schemas import CaseRequest, Email, normalised_email
from casework.cases.services import assessment_of, file_case
from casework.cases.states import INTERNAL_ACTIONS, Actor
from casework.cases.tokens import case_for_token, issue_token
from casework.cases.urgency import NO_DEADLINE
from casework.cases.workflow import (
    case_as_request,
    confirm,
    confirm_cancelled,
    correct_facts,
    correctable,
    record_response,
    record_submission,
    resend_confirmation,
    withdraw,
)
from casework.catalog import default_catalog
from casework.db import is_postgresql, utcnow
from casework.letters.models import Letter
from casework.reminders.models import Reminder
from casework.runtime import runtime_of
from casework.staff.api_tokens import looks_like_staff_token, staff_for_token
from casework.staff.models import CaseNote, StaffUser
from casework.staff.reads import log_read_now
from casework.web import db, limiter

bp = Blueprint("api_cases", __name__, url_prefix="/api/v1/cases")
register_domain_errors(bp)
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")
REPLAY_WINDOW = dt.timedelta(hours=24)
REF_PARAM = [{"name": "reference", "in": "path", "required": True, "schema": {"type": "string"}}]


class FiledOut(BaseModel):
    reference: str
    status: str
    access_token: str
    status_url: str
    assessment: AssessmentOut


class LetterOut(BaseModel):
    id: int
    kind: Literal["cancellation", "follow_up", "final_notice", "evidence_pack"]
    version: int
    status: Literal["pending", "rendered", "failed", "superseded"]
    sha256: str | None
    pages: int | None
    created_at: str
    sent_at: str | None
    download_url: str | None


class DeliveryOut(BaseModel):
    channel: Literal["email", "web_form", "post"]
    address: str
    at: str
    by: Literal["consumer", "staff", "system"]
    confirmation: str | None


class ReminderOut(BaseModel):
    kind: str
    due_at: str
    status: str


class EventOut(BaseModel):
    at: str
    action: str
    from_status: str | None
    to_status: str | None
    actor: Literal["consumer", "staff", "system"]


class CaseOut(BaseModel):
    reference: str
    status: str
    outcome: str | None
    refund_received: dict[str, Any] | None
    provider: NamedRef
    plan: NamedRef
    created_at: str
    version: int
    email_confirmed: bool
    personal_data_deleted_at: str | None = Field(None, description="When the consumer's personal data was deleted "
                                                 "(the case is then its anonymous record).")
    assessment: AssessmentOut | None
    delivery: list[DeliveryOut]
    letters: list[LetterOut]
    reminders: list[ReminderOut]
    events: list[EventOut]


class AssigneeOut(BaseModel):
    id: int
    name: str


class UrgencyOut(BaseModel):
    on: str | None = Field(description="The queue's date for this case (null: nothing dated to act on).")
    kind: str | None


class NoteOut(BaseModel):
    at: str
    by: str | None
    body: str


class StaffCaseOut(CaseOut):
    """The case as a staff token sees it: the consumer's document plus the caseworkers' view."""

    assignee: AssigneeOut | None
    needs_review: bool
    urgency: UrgencyOut
    notes: list[NoteOut]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ConfirmBody(_Body):
    code: str = Field(min_length=1, max_length=32)


class ResendBody(_Body):
    email: Email | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return normalised_email(value) if value is not None else None


class DeliveryBody(_Body):
    channel: Literal["web_form", "post"]
    at: dt.datetime | None = Field(None, description="When it was submitted (RFC 3339 with offset); default now.")
    confirmation: str | None = Field(None, max_length=500)


def _instant(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value is not None else None


def case_document(session: Session, case: Case, now: dt.datetime, *, internal: bool = False) -> dict[str, Any]:
    """The case as API.md describes it, with each deadline's ``passed`` re-evaluated for today; staff-only
    events (notes, assignment, review) only when ``internal``."""
    provider = default_catalog().get(case.provider_slug)
    plan = provider.plan(case.plan_slug) if provider else None
    company = case.company or {}
    assessment = case.assessment
    if assessment is not None:
        today = now.astimezone(ZoneInfo(case.timezone)).date().isoformat()
        assessment = {**assessment, "today": today,
                      "deadlines": [{**d, "passed": d["date"] < today} for d in assessment["deadlines"]]}
    letters = session.scalars(select(Letter).where(Letter.case_id == case.id).order_by(Letter.id))
    deliveries = session.scalars(select(Delivery).where(Delivery.case_id == case.id).order_by(Delivery.id))
    reminders = session.scalars(select(Reminder).where(Reminder.case_id == case.id).order_by(Reminder.due_at))
    event_query = select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
    if not internal:
        event_query = event_query.where(CaseEvent.action.not_in(INTERNAL_ACTIONS))
    events = session.scalars(event_query)
    base = f"/api/v1/cases/{case.reference}/letters"
    return {
        "reference": case.reference,
        "status": case.status.value,
        "outcome": case.outcome.value if case.outcome else None,
        "refund_received": refund_received(case),
        "provider": {"slug": case.provider_slug, "name": company.get("name") or (provider.name if provider else "")},
        "plan": {"slug": case.plan_slug, "name": company.get("plan_name") or (plan.name if plan else "")},
        "created_at": _instant(case.created_at),
        "version": case.version,
        "email_confirmed": case.email_confirmed_at is not None,
        "personal_data_deleted_at": _instant(case.personal_data_deleted_at),
        "assessment": assessment,
        "delivery": [{"channel": d.channel, "address": d.address, "at": _instant(d.at), "by": d.by.value,
                      "confirmation": d.confirmation} for d in deliveries],
        "letters": [{"id": item.id, "kind": item.kind, "version": item.version, "status": item.status,
                     "sha256": item.sha256, "pages": item.pages, "created_at": _instant(item.created_at),
                     "sent_at": _instant(item.sent_at),
                     "download_url": f"{base}/{item.id}.pdf" if item.status == "rendered" else None}
                    for item in letters],
        "reminders": [{"kind": r.kind, "due_at": _instant(r.due_at), "status": r.status} for r in reminders],
        "events": [{"at": _instant(e.at), "action": e.action,
                    "from_status": e.from_status.value if e.from_status else None,
                    "to_status": e.to_status.value if e.to_status else None, "actor": e.actor.value}
                   for e in events],
    }


def _staff_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u.name for u in session.scalars(select(StaffUser).where(StaffUser.id.in_(wanted)))}


def staff_document(session: Session, case: Case, now: dt.datetime) -> dict[str, Any]:
    """The case for a staff token: every event, plus who has it, how urgent it is, and the internal notes."""
    document = case_document(session, case, now, internal=True)
    notes = list(session.scalars(select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.id)))
    names = _staff_names(session, {case.assignee_id, *(n.staff_id for n in notes)})
    assignee = case.assignee_id
    document["assignee"] = None if assignee is None else {"id": assignee, "name": names.get(assignee, "")}
    document["needs_review"] = case.needs_review
    document["urgency"] = {"on": None if case.urgency_on == NO_DEADLINE else case.urgency_on.isoformat(),
                           "kind": case.urgency_kind}
    document["notes"] = [{"at": _instant(n.created_at), "by": names.get(n.staff_id) if n.staff_id else None,
                          "body": n.body} for n in notes]
    return document


def canonical_sha256(body: bytes) -> str:
    """Two bodies are the same request when their JSON is the same, whatever the spacing or key order."""
    canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _filed(reference: str, status_now: str, assessment: dict[str, Any] | None, token: str, status: int) -> Response:
    settings = runtime_of().settings
    response = jsonify({"reference": reference, "status": status_now, "access_token": token,
                        "status_url": f"{settings.base_url}/c/{token}", "assessment": assessment})
    response.status_code = status
    return response


operation(Operation("POST", "/api/v1/cases", "File a case (optional Idempotency-Key header)",
                    {200: FiledOut, 201: FiledOut, 400: None, 404: None, 409: None, 413: None, 422: None,
                     429: None}, request=CaseRequest,
                    parameters=[{"name": "Idempotency-Key", "in": "header", "required": False,
                                 "schema": {"type": "string", "minLength": 1, "maxLength": 128}}]))


@bp.post("")
@route_rule("anonymous")
@limiter.limit("60 per hour; 10 per minute")
def file() -> ResponseReturnValue:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        return api_error(400, "bad_request", "Idempotency-Key must be 1 to 128 printable ASCII characters.")
    now = utcnow()
    body = read_json_body()
    facts = parse_case_request(body, now)
    digest = canonical_sha256(body) if key is not None else ""
    secret = runtime_of().settings.secret_key
    failure: Exception | None = None
    for _ in range(3):  # a concurrent twin may win the key; then it is a replay
        session = db()
        try:
            if key is not None:
                known = session.execute(select(IdempotencyKey).where(IdempotencyKey.key == key)).scalar_one_or_none()
                if known is not None and known.created_at < now - REPLAY_WINDOW:
                    session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == known.id))
                    known = None
                if known is not None:
                    if not hmac.compare_digest(known.body_sha256, digest):  # a digest of personal data
                        session.rollback()
                        return api_error(409, "conflict", "This Idempotency-Key was used with another body.")
                    case = session.get(Case, known.case_id)
                    if case is None:
                        session.rollback()
                        return api_error(409, "conflict", "This Idempotency-Key no longer names a case.")
                    token = issue_token(session, case, secret)
                    session.commit()
                    return _filed(case.reference, case.status.value, case.assessment, token, 200)
            filed = file_case(session, facts, secret, now)
            if key is not None:
                session.add(IdempotencyKey(key=key, body_sha256=digest, case_id=filed.case_id, created_at=now))
            session.commit()
            return _filed(filed.reference, filed.status.value, filed.assessment, filed.access_token, 201)
        except (IntegrityError, OperationalError) as exc:
            session.rollback()
            if key is None:
                raise
            failure = exc
    if isinstance(failure, OperationalError):
        raise failure  # still failing after the retries: the database is unreachable (503), not a twin (409)
    return api_error(409, "conflict", "A request with this Idempotency-Key is being processed; retry.")


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def bearer_staff() -> StaffUser | None:
    """The caseworker behind a live staff API token in this request, or None (looked up once per request:
    the rate limiter asks too)."""
    if "bearer_staff" in g:
        found: StaffUser | None = g.bearer_staff
        return found
    token = bearer_token()
    if token is None or not looks_like_staff_token(token):
        return None
    session = db()
    staff = staff_for_token(session, runtime_of().settings.secret_key, token, utcnow())
    if not is_postgresql(session):
        session.commit()  # end the lookup's read: a later write then waits its turn instead of failing (SQLite)
    g.bearer_staff = staff
    return staff


def case_by_reference(reference: str) -> Case | None:
    return db().execute(select(Case).where(Case.reference == reference[:16])).scalar_one_or_none()


def consumer_case(reference: str) -> Case | None:
    """The case of a consumer's token; a staff token is never one (consumer-only actions answer 404)."""
    token = bearer_token()
    if token is None:
        return None
    case = case_for_token(db(), runtime_of().settings.secret_key, token)
    return case if case is not None and case.reference == reference else None


def _reader(reference: str) -> tuple[Case | None, StaffUser | None]:
    """Who reads the case: a caseworker (any case) or its consumer."""
    staff = bearer_staff()
    if staff is not None:
        return case_by_reference(reference), staff
    return consumer_case(reference), None


def case_not_found() -> Response:
    return api_error(404, "not_found", "No case with this reference for this token.")


operation(Operation("GET", "/api/v1/cases/{reference}", "A case, its letters, deliveries and timeline",
                    {200: CaseOut, 404: None}, parameters=REF_PARAM, security=True))


@bp.get("/<reference>")
@route_rule("consumer")
@limiter.limit("120 per minute")
def get_case(reference: str) -> ResponseReturnValue:
    case, staff = _reader(reference)
    session, now = db(), utcnow()
    if case is None:
        return case_not_found()
    if staff is None:
        return jsonify(case_document(session, case, now))
    log_read_now(session, case.id, staff.id, "api", now)
    return jsonify(staff_document(session, case, now))


operation(Operation("GET", "/api/v1/cases/{reference}/letters/{id}.pdf", "A letter's PDF (ETag: its SHA-256)",
                    {200: None, 304: None, 404: None},
                    parameters=[*REF_PARAM, {"name": "id", "in": "path", "required": True,
                                             "schema": {"type": "integer"}}], security=True))


@bp.get("/<reference>/letters/<int(max=2147483647):letter_id>.pdf")
@route_rule("consumer")
@limiter.limit("60 per minute")
def letter_pdf(reference: str, letter_id: int) -> ResponseReturnValue:
    case, staff = _reader(reference)
    session = db()
    letter = None if case is None else session.execute(
        select(Letter).where(Letter.id == letter_id, Letter.case_id == case.id, Letter.status == "rendered")
    ).scalar_one_or_none()
    if case is None or letter is None or letter.pdf is None:
        return case_not_found()
    if staff is not None:
        log_read_now(session, case.id, staff.id, "letter", utcnow())
    etag = f'"{letter.sha256}"'
    if request.headers.get("If-None-Match") == etag:
        return "", 304, {"ETag": etag}
    return letter.pdf, 200, {"Content-Type": "application/pdf", "ETag": etag,
                             "Content-Disposition": f'attachment; filename="{case.reference}-v{letter.version}.pdf"'}


B = TypeVar("B", bound=BaseModel)


def action_body(model: type[B]) -> B:
    """An action's JSON body validated by ``model``; an empty body is ``{}`` (every field optional)."""
    raw = request.get_data(cache=False)
    if not raw.strip():
        raw = b"{}"
    elif request.mimetype != "application/json":
        raise BadRequest("Send JSON with Content-Type: application/json.")
    return validate(model, raw, utcnow())


def _act(reference: str, model: type[_Body] | None, action: Any) -> Response:
    case = consumer_case(reference)
    if case is None:
        return case_not_found()
    session = db()
    body = action_body(model) if model is not None else None
    try:
        action(session, case, body)
    except CodeRefused as refused:
        session.commit()  # the attempt counts
        return api_error(422, "validation_failed", str(refused), fields={"code": str(refused)})
    session.commit()
    return jsonify(case_document(session, case, utcnow()))


for _path, _summary, _body in (
    ("confirm", "Confirm the e-mail address and the letter in one act (→ ready)", ConfirmBody),
    ("resend-confirmation", "Send a new confirmation code (optionally to a corrected address)", ResendBody),
    ("delivery", "I have submitted it: record a web-form or postal delivery (→ sent)", DeliveryBody),
    ("withdraw", "Withdraw the case (→ resolved, withdrawn)", None),
):
    operation(Operation("POST", f"/api/v1/cases/{{reference}}/{_path}", _summary,
                        {200: CaseOut, 400: None, 404: None, 409: None, 422: None}, request=_body,
                        parameters=REF_PARAM, security=True))


@bp.post("/<reference>/confirm")
@route_rule("consumer")
@limiter.limit("10 per 15 minutes")
def confirm_case(reference: str) -> ResponseReturnValue:
    def run(session: Session, case: Case, body: ConfirmBody) -> None:
        confirm(session, runtime_of().settings, case, body.code, utcnow())

    return _act(reference, ConfirmBody, run)


@bp.post("/<reference>/resend-confirmation")
@route_rule("consumer")
@limiter.limit("3 per hour")
def resend(reference: str) -> ResponseReturnValue:
    def run(session: Session, case: Case, body: ResendBody) -> None:
        resend_confirmation(session, runtime_of().settings, case, utcnow(), body.email)

    return _act(reference, ResendBody, run)


@bp.post("/<reference>/delivery")
@route_rule("consumer")
@limiter.limit("20 per hour")
def delivery(reference: str) -> ResponseReturnValue:
    def run(session: Session, case: Case, body: DeliveryBody) -> None:
        now = utcnow()
        at = body.at or now
        if at.tzinfo is None:
            raise IntakeErrors({"at": "give the time with its offset, such as 2026-11-27T10:30:00+11:00"})
        if at < case.created_at - dt.timedelta(minutes=5):
            raise IntakeErrors({"at": "before the case was filed"})
        record_submission(session, runtime_of().settings, case, body.channel, at.astimezone(dt.UTC),
                          body.confirmation, Actor.CONSUMER, now)

    return _act(reference, DeliveryBody, run)


@bp.post("/<reference>/withdraw")
@route_rule("consumer")
@limiter.limit("20 per hour")
def withdraw_case(reference: str) -> ResponseReturnValue:
    def run(session: Session, case: Case, body: None) -> None:
        withdraw(session, case, Actor.CONSUMER, utcnow())

    return _act(reference, None, run)


class ResponseBody(_Body):
    type: Literal["confirmed_cancellation", "refund_offered", "refused", "retention_offer",
                  "asked_for_information", "charged_again"]
    received_on: dt.date
    summary: str = Field(min_length=1, max_length=2000)


def _merge(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A correction names only what changes; nested objects are merged a level down."""
    merged = dict(current)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


operation(Operation("PATCH", "/api/v1/cases/{reference}", "Correct facts before delivery (a new letter version)",
                    {200: CaseOut, 400: None, 404: None, 409: None, 422: None}, request=CaseRequest,
                    parameters=REF_PARAM, security=True))


@bp.patch("/<reference>")
@route_rule("consumer")
@limiter.limit("20 per hour")
def correct(reference: str) -> ResponseReturnValue:
    case = consumer_case(reference)
    if case is None:
        return case_not_found()
    session = db()
    now = utcnow()
    try:
        changes = json.loads(read_json_body())
    except ValueError:
        raise BadRequest("The body is not valid JSON.") from None
    if not isinstance(changes, dict):
        raise BadRequest("The body must be a JSON object.")
    correctable(session, case)
    facts = parse_case_request(json.dumps(_merge(case_as_request(case), changes)), now)
    correct_facts(session, case, facts, assessment_of(facts, now), now)
    session.commit()
    return jsonify(case_document(session, case, now))


operation(Operation("POST", "/api/v1/cases/{reference}/responses", "Record the company's answer",
                    {200: CaseOut, 400: None, 404: None, 409: None, 422: None}, request=ResponseBody,
                    parameters=REF_PARAM, security=True))
operation(Operation("POST", "/api/v1/cases/{reference}/confirm-cancelled",
                    "App-store billing: I cancelled with Apple or Google (→ resolved)",
                    {200: CaseOut, 404: None, 409: None}, parameters=REF_PARAM, security=True))


@bp.post("/<reference>/responses")
@route_rule("consumer")
@limiter.limit("30 per hour")
def responses(reference: str) -> ResponseReturnValue:
    staff = bearer_staff()
    if staff is not None:
        from casework.api.staff import record_answer  # the staff API builds on this module

        return record_answer(reference, staff, ResponseBody)

    def run(session: Session, case: Case, body: ResponseBody) -> None:
        now = utcnow()
        if body.received_on > now.astimezone(ZoneInfo(case.timezone)).date():
            raise IntakeErrors({"received_on": "must not be in the future"})
        record_response(session, case, body.type, body.received_on, body.summary, Actor.CONSUMER, now)

    return _act(reference, ResponseBody, run)


@bp.post("/<reference>/confirm-cancelled")
@route_rule("consumer")
@limiter.limit("20 per hour")
def confirm_cancelled_case(reference: str) -> ResponseReturnValue:
    def run(session: Session, case: Case, body: None) -> None:
        confirm_cancelled(session, case, utcnow())

    return _act(reference, None, run)
