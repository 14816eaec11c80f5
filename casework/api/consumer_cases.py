"""API v1 cases for the consumer: filing (with Idempotency-Key), reading the case and its letters, and the
consumer's actions on it.

Filing is anonymous; everything else takes the case's access token (see :mod:`casework.api.auth`). A staff
token reads every case here too, with the staff document, each read logged, and may record the company's answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from typing import Annotated, Any, Literal

from flask import Blueprint, Response, g, jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import AfterValidator, BaseModel, Field, field_validator
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from casework.access import route_rule
from casework.api.auth import (
    bearer_staff,
    bearer_token,
    case_not_found,
    case_reader,
    consumer_access,
    consumer_case,
    refuse_read_only_writes,
)
from casework.api.bodies import (
    Body,
    action_body,
    case_as_request,
    merge_changes,
    read_json_body,
    read_json_object,
)
from casework.api.documents import CaseOut, case_document, staff_document
from casework.api.domain_errors import register_domain_errors
from casework.api.errors import api_error
from casework.api.models import AssessmentOut
from casework.api.openapi import REF_PARAM, Operation, operation
from casework.api.staff_changes import record_answer
from casework.cases import entered_dates
from casework.cases.confirmation import CodeRefused
from casework.cases.filing import assessment_of, file_case
from casework.cases.idempotency import REPLAY_WINDOW, client_scope
from casework.cases.intake import IntakeErrors, parse_case_request
from casework.cases.models import Case, IdempotencyKey
from casework.cases.schemas import CaseRequest, Email, normalised_email
from casework.cases.states import Actor
from casework.cases.tokens import issue_token, status_url
from casework.cases.workflow import (
    confirm,
    confirm_cancelled,
    correct_facts,
    correctable,
    record_response,
    record_submission,
    resend_confirmation,
    withdraw,
)
from casework.db import utcnow
from casework.letters.models import Letter
from casework.runtime import runtime_of
from casework.staff.reads import log_read_now
from casework.typed_text import multi_line, single_line
from casework.web import db, limiter

bp = Blueprint("api_cases", __name__, url_prefix="/api/v1/cases")
bp.before_request(refuse_read_only_writes)
register_domain_errors(bp)
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,128}")


class FiledOut(BaseModel):
    reference: str
    status: str
    access_token: str
    status_url: str
    assessment: AssessmentOut


class ConfirmBody(Body):
    code: str = Field(min_length=1, max_length=32)


class ResendBody(Body):
    email: Email | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return normalised_email(value) if value is not None else None


class DeliveryBody(Body):
    channel: Literal["web_form", "post"]
    at: dt.datetime | None = Field(None, description="When it was submitted (RFC 3339 with offset); default now.")
    confirmation: Annotated[str, AfterValidator(single_line)] | None = Field(None, max_length=500)


def canonical_sha256(body: bytes) -> str:
    """Two bodies are the same request when their JSON is the same, whatever the spacing or key order."""
    canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _filed(reference: str, status_now: str, assessment: dict[str, Any] | None, token: str, status: int) -> Response:
    settings = runtime_of().settings
    response = jsonify({"reference": reference, "status": status_now, "access_token": token,
                        "status_url": status_url(settings.base_url, token), "assessment": assessment})
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
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        return api_error(400, "bad_request", "Idempotency-Key must be 1 to 128 printable ASCII characters.")
    now = utcnow()
    body = read_json_body()
    facts = parse_case_request(body, now)
    digest = canonical_sha256(body) if key is not None else ""
    settings = runtime_of().settings
    secret = settings.secret_key
    scope = "" if key is None else client_scope(
        secret, staff_token=bearer_token() if bearer_staff() is not None else None,
        consumer_email=facts.consumer_email)
    failure: Exception | None = None
    for _ in range(3):  # a concurrent twin may win the key; then it is a replay
        session = db()
        try:
            if key is not None:
                known = session.execute(select(IdempotencyKey).where(
                    IdempotencyKey.scope == scope, IdempotencyKey.key == key)).scalar_one_or_none()
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
                    if case.email_confirmed_at is not None:  # confirming revoked the filing's links: no new one
                        session.rollback()
                        return api_error(409, "conflict", "This case was confirmed since it was filed: its links go "
                                                          "only to the confirmed e-mail address now.")
                    token = issue_token(session, case, secret)
                    session.commit()
                    return _filed(case.reference, case.status.value, case.assessment, token, 200)
            filed = file_case(session, facts, secret, now, settings=settings)
            if key is not None:
                session.add(IdempotencyKey(scope=scope, key=key, body_sha256=digest, case_id=filed.case_id,
                                           created_at=now))
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


operation(Operation("GET", "/api/v1/cases/{reference}", "A case, its letters, deliveries and timeline",
                    {200: CaseOut, 404: None}, parameters=REF_PARAM, security=True))


@bp.get("/<reference>")
@route_rule("consumer")
@limiter.limit("120 per minute")
def get_case(reference: str) -> ResponseReturnValue:
    case, staff = case_reader(reference)
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
    case, staff = case_reader(reference)
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


def _act(reference: str, model: type[Body] | None, action: Any) -> Response:
    found = consumer_access(reference)
    if found is None:
        return case_not_found()
    case = found.case
    session = db()
    body = action_body(model) if model is not None else None
    g.consumer_token_id = found.token_id
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
        # The other links made before confirmation are revoked; the caller's token showed the code and the answer
        # has no place for a new one, so it is the one kept.
        confirm(session, runtime_of().settings, case, body.code, utcnow(), keep_token=g.consumer_token_id)

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
        problem = entered_dates.delivery_problem(at, case, now)
        if problem is not None:
            raise IntakeErrors({"at": entered_dates.API_REASONS[problem]})
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


class ResponseBody(Body):
    type: Literal["confirmed_cancellation", "refund_offered", "refused", "retention_offer",
                  "asked_for_information", "charged_again"]
    received_on: dt.date
    summary: Annotated[str, AfterValidator(multi_line)] = Field(min_length=1, max_length=2000)


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
    changes = read_json_object()
    correctable(session, case)
    facts = parse_case_request(json.dumps(merge_changes(case_as_request(case), changes)), now)
    correct_facts(session, case, facts, assessment_of(facts, now), now, runtime_of().settings)
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
        return record_answer(reference, staff, ResponseBody)

    def run(session: Session, case: Case, body: ResponseBody) -> None:
        now = utcnow()
        problem = entered_dates.past_date_problem(body.received_on, case, now, "consumer")
        if problem is not None:
            raise IntakeErrors({"received_on": entered_dates.API_REASONS[problem]})
        record_response(session, case, body.type, body.received_on, body.summary, Actor.CONSUMER, now)

    return _act(reference, ResponseBody, run)


@bp.post("/<reference>/confirm-cancelled")
@route_rule("consumer")
@limiter.limit("20 per hour")
def confirm_cancelled_case(reference: str) -> ResponseReturnValue:
    def run(session: Session, case: Case, body: None) -> None:
        confirm_cancelled(session, case, utcnow())

    return _act(reference, None, run)
