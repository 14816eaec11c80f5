"""Pages: the consumer deletes their details (asked for on their page, confirmed with the e-mailed code)
or downloads everything held on their case; a supervisor downloads everything held about an address."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from casework.access import route_rule
from casework.cases.confirmation import CodeRefused
from casework.cases.link_pages import link_case
from casework.cases.models import Case
from casework.cases.schemas import normalised_email
from casework.cases.transitions import CaseConflict
from casework.db import utcnow
from casework.privacy.export import build_export, cases_of_email, export_filename
from casework.privacy.requests import confirm_erasure, request_erasure
from casework.runtime import runtime_of
from casework.staff.reads import log_read
from casework.web import db, limiter

bp = Blueprint("privacy", __name__)


def _case(token: str) -> Case:
    return link_case(token)


@bp.post("/c/<token>/erasure-request")
@route_rule("consumer")
@limiter.limit("3 per hour")
def erasure_request(token: str) -> ResponseReturnValue:
    case = _case(token)
    session = db()
    try:
        request_erasure(session, runtime_of().settings, case, utcnow())
    except CaseConflict as conflict:
        session.rollback()
        flash(str(conflict))
        return redirect(url_for("consumer.status", token=token), 303)
    session.commit()
    flash("We e-mailed a code to the address you gave. Open the link in that e-mail to delete your details.")
    return redirect(url_for("privacy.erase_page", token=token), 303)


@bp.get("/c/<token>/erase")
@route_rule("consumer")
@limiter.limit("60 per minute")
def erase_page(token: str) -> ResponseReturnValue:
    """Shows what will be deleted and the button. Opening this page (as mail scanners do) deletes nothing."""
    case = _case(token)
    return render_template("privacy/erase.html", case=case, token=token, code=request.args.get("code", "")[:32],
                           error=None)


@bp.post("/c/<token>/erase")
@route_rule("consumer")
@limiter.limit("10 per 15 minutes")
def erase_submit(token: str) -> ResponseReturnValue:
    case = _case(token)
    session = db()
    code = request.form.get("code", "")[:32]
    try:
        confirm_erasure(session, runtime_of().settings, case, code, utcnow())
    except CodeRefused as refused:
        session.commit()  # the attempt counts
        return render_template("privacy/erase.html", case=case, token=token, code=code, error=str(refused)), 422
    session.commit()
    return redirect(url_for("privacy.erase_page", token=token), 303)


@bp.get("/c/<token>/my-data.zip")
@route_rule("consumer")
@limiter.limit("10 per hour")
def consumer_export(token: str) -> ResponseReturnValue:
    """Everything held on this case, for its consumer (other cases of the address need their own links)."""
    case = _case(token)
    now = utcnow()
    exported = build_export(db(), [case], case.consumer_email, now, whole_address=False)
    return _zip(exported.data, export_filename(case.reference, now))


def _zip(data: bytes, filename: str) -> Response:
    response = Response(data, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/staff/personal-data")
@route_rule("supervisor")
def staff_export_form() -> ResponseReturnValue:
    return render_template("privacy/staff_export.html", user=current_user, email="", errors={}, problem=None)


@bp.post("/staff/personal-data/export")
@route_rule("supervisor")
def staff_export() -> ResponseReturnValue:
    """A consumer asked what is held about them: every case of their address, each download logged as a read."""
    raw = request.form.get("email", "").strip()[:254]
    try:
        address = normalised_email(raw)
    except ValueError as error:
        return render_template("privacy/staff_export.html", user=current_user, email=raw,
                               errors={"email": str(error)}, problem=None), 422
    session = db()
    now = utcnow()
    cases = cases_of_email(session, address)
    if not cases:
        return render_template("privacy/staff_export.html", user=current_user, email=address, errors={},
                               problem=f"No case holds personal data for {address}."), 404
    exported = build_export(session, cases, address, now)
    session.commit()  # end the reads before the log rows are written (SQLite)
    for case_id in exported.case_ids:
        log_read(session, case_id, int(current_user.id), "export", now)
    session.commit()
    return _zip(exported.data, export_filename(address, now))
