"""Staff-side test helpers: a signed-in caseworker's client, and a filed case put straight into a state."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from casework.cases.filing import file_case
from casework.cases.models import Case
from casework.cases.states import CaseStatus, Outcome
from casework.db import utcnow
from casework.runtime import Runtime
from casework.web import limiter
from tests.support.factories import case_facts
from tests.support.web import post_form
from tests.support.writes import writing

PASSWORD = "correct horse battery staple"


def signed_in(app: Flask, email: str, password: str = PASSWORD) -> FlaskClient:
    """A fresh client signed in as ``email`` (limits reset, so many sign-ins in one test are fine)."""
    limiter.reset()
    client = app.test_client()
    response = post_form(client, "/staff/login", {"email": email, "password": password}, page="/staff/login")
    assert response.status_code == 303
    return client


def case_in_status(runtime: Runtime, status: CaseStatus = CaseStatus.READY, *,
                   deadlines: list[dict[str, Any]] | None = None, answer_due_on: dt.date | None = None,
                   escalation_due_at: dt.datetime | None = None, assignee_id: int | None = None,
                   needs_review: bool = False, **facts: Any) -> str:
    """A filed case put straight into ``status`` (finished ones get an outcome; ``deadlines``, when given,
    replace the assessment's); the flush hook keeps its urgency. Its reference."""
    with writing(runtime) as session:
        filed = file_case(session, case_facts(**facts), runtime.settings.secret_key)
        case = session.get_one(Case, filed.case_id)
        case.status = status
        case.outcome = Outcome.CANCELLED if status in (CaseStatus.RESOLVED, CaseStatus.CLOSED) else None
        if status is not CaseStatus.NEW:
            case.confirmed_at = case.email_confirmed_at = utcnow()
        if deadlines is not None:
            case.assessment = {**(case.assessment or {}), "deadlines": deadlines}
        case.answer_due_on, case.escalation_due_at = answer_due_on, escalation_due_at
        case.assignee_id, case.needs_review = assignee_id, needs_review
        return filed.reference
