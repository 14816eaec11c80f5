"""Stopping deadline reminders from the link in a reminder, or in one click from the mail client.

GET only shows a button (link scanners must not unsubscribe anyone); POST unsubscribes. The POST has no
CSRF token because mail clients send RFC 8058 one-click requests without one: the signed token in the
URL is the authority, and the only thing it can do is stop reminders for its own case.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask.typing import ResponseReturnValue

from casework.access import route_rule
from casework.cases.models import Case, CaseEvent
from casework.cases.states import Actor
from casework.db import utcnow
from casework.reminders.links import case_id_from_token
from casework.reminders.planning import cancel_reminders
from casework.runtime import runtime_of
from casework.web import checks_secret, csrf, db, limiter

bp = Blueprint("reminders", __name__)
UNSUBSCRIBE_LIMIT = "20 per minute; 200 per hour"


def _case(token: str) -> Case:
    case_id = case_id_from_token(runtime_of().settings.secret_key, token)
    case = db().get(Case, case_id) if case_id is not None else None
    if case is None or case.personal_data_deleted_at is not None:
        abort(404)
    return case


@bp.get("/reminders/unsubscribe/<token>")
@route_rule("anonymous")
@checks_secret
@limiter.limit(UNSUBSCRIBE_LIMIT)
def unsubscribe_form(token: str) -> ResponseReturnValue:
    case = _case(token)
    return render_template("reminders/unsubscribe.html", case=case, token=token,
                           done=case.reminders_unsubscribed_at is not None)


@bp.post("/reminders/unsubscribe/<token>")
@route_rule("anonymous")
@checks_secret
@limiter.limit(UNSUBSCRIBE_LIMIT)
def unsubscribe(token: str) -> ResponseReturnValue:
    session = db()
    case = _case(token)
    if case.reminders_unsubscribed_at is None:
        now = utcnow()
        case.reminders_unsubscribed_at = now
        cancel_reminders(session, case.id)
        session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.CONSUMER, action="reminders_unsubscribed",
                              data={}))
        session.commit()
    return render_template("reminders/unsubscribe.html", case=case, token=token, done=True)


csrf.exempt(f"{__name__}.unsubscribe")  # this route only: one-click requests carry no CSRF token
