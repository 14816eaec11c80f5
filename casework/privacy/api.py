"""API v1: the consumer asks for their personal data to be deleted, then confirms with the e-mailed code.

Consumer token only, like the other consumer actions (a staff token is a 404 here). Both answer the
case document; the deletion answers the anonymous record (``personal_data_deleted_at`` set) and revokes every
token of the case, so any later call with one is a 404.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from pydantic import Field

from casework.access import route_rule
from casework.api.auth import case_not_found, consumer_case, refuse_read_only_writes
from casework.api.bodies import Body, action_body
from casework.api.documents import CaseOut, case_document
from casework.api.domain_errors import register_domain_errors
from casework.api.errors import api_error
from casework.api.openapi import REF_PARAM, Operation, operation
from casework.cases.confirmation import CodeRefused
from casework.db import utcnow
from casework.privacy.requests import confirm_erasure, request_erasure
from casework.runtime import runtime_of
from casework.web import db, limiter

bp = Blueprint("api_privacy", __name__, url_prefix="/api/v1/cases")
bp.before_request(refuse_read_only_writes)
register_domain_errors(bp)


class ErasureBody(Body):
    code: str = Field(min_length=1, max_length=32, description="The code from the deletion e-mail.")


operation(Operation("POST", "/api/v1/cases/{reference}/erasure-request",
                    "Ask to delete my personal data: a code is e-mailed to the case's address",
                    {200: CaseOut, 404: None, 409: None, 429: None}, parameters=REF_PARAM, security=True))
operation(Operation("POST", "/api/v1/cases/{reference}/erasure",
                    "Delete my personal data with the e-mailed code (an open case is withdrawn first)",
                    {200: CaseOut, 400: None, 404: None, 422: None, 429: None}, request=ErasureBody,
                    parameters=REF_PARAM, security=True))


@bp.post("/<reference>/erasure-request")
@route_rule("consumer")
@limiter.limit("3 per hour")
def erasure_request(reference: str) -> ResponseReturnValue:
    case = consumer_case(reference)
    if case is None:
        return case_not_found()
    session, now = db(), utcnow()
    request_erasure(session, runtime_of().settings, case, now)  # CaseConflict → 409
    session.commit()
    return jsonify(case_document(session, case, now))


@bp.post("/<reference>/erasure")
@route_rule("consumer")
@limiter.limit("10 per 15 minutes")
def erasure(reference: str) -> ResponseReturnValue:
    case = consumer_case(reference)
    if case is None:
        return case_not_found()
    body = action_body(ErasureBody)
    session, now = db(), utcnow()
    try:
        confirm_erasure(session, runtime_of().settings, case, body.code, now)
    except CodeRefused as refused:
        session.commit()  # the attempt counts
        return api_error(422, "validation_failed", str(refused), fields={"code": str(refused)})
    session.commit()
    return jsonify(case_document(session, case, now))
