"""A caseworker's change to one case over the API: its version in ``If-Match``, the body, the service, one
commit, and the staff document back.

Its own module because two blueprints use it: the staff endpoints, and the cases blueprint's
``POST …/responses``, which a staff token may call as well as the consumer.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from flask import Response, jsonify, request
from pydantic import BaseModel
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from casework.api.auth import case_by_reference
from casework.api.bodies import action_body
from casework.api.documents import staff_document
from casework.api.errors import api_error
from casework.cases import entered_dates
from casework.cases.intake import BadRequest, IntakeErrors
from casework.cases.models import Case
from casework.db import utcnow
from casework.staff import actions
from casework.staff.models import StaffUser
from casework.web import db

IF_MATCH = re.compile(r'^(?:W/)?"?([0-9]{1,10})"?$')

Change = Callable[[Session, Case, StaffUser, Any, dt.datetime], object]


def _expected_version(required: bool) -> int | None:
    raw = request.headers.get("If-Match")
    if raw is None:
        if required:
            raise BadRequest('Send the case\'s version in an If-Match header, such as If-Match: "3".')
        return None
    match = IF_MATCH.match(raw.strip())
    if match is None:
        raise BadRequest('If-Match must be the case\'s version in quotes, such as "3".')
    return int(match.group(1))


def _stale(version: int | None = None) -> Response:
    now_at = f" (it is at version {version} now)" if version is not None else ""
    return api_error(409, "stale", f"The case changed since the version you sent{now_at}. Fetch it again, check "
                                   "it, then repeat your change.")


def change_case(reference: str, staff: StaffUser, model: type[BaseModel], action: Change, *,
                if_match: bool) -> Response:
    """One change: the case, its version (If-Match), the body, the service, one commit, the case back."""
    case = case_by_reference(reference)
    if case is None:
        return api_error(404, "not_found", "No case with this reference.")
    expected = _expected_version(if_match)
    body = action_body(model)
    if expected is not None and expected != case.version:
        return _stale(case.version)
    session, now = db(), utcnow()
    try:
        action(session, case, staff, body, now)
        session.commit()
    except StaleDataError:
        session.rollback()
        return _stale()
    return jsonify(staff_document(session, case, now))


def record_answer(reference: str, staff: StaffUser, model: type[BaseModel]) -> Response:
    """POST …/responses with a staff token: the company's answer as a caseworker got it (If-Match optional); its
    date is a caseworker's, so it may be today anywhere (casework.cases.entered_dates)."""
    def run(session: Session, case: Case, by: StaffUser, body: Any, now: dt.datetime) -> None:
        problem = entered_dates.past_date_problem(body.received_on, case, now, "staff")
        if problem is not None:
            raise IntakeErrors({"received_on": entered_dates.API_REASONS[problem]})
        actions.record_company_response(session, case, by, body.type, body.received_on, body.summary.strip(), now)

    return change_case(reference, staff, model, run, if_match=False)
