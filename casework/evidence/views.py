"""Checking a letter by its code (anyone), and the case's evidence downloads (its consumer, caseworkers).

A download never renders: it serves the stored pack that shows the case as it is now, or queues its render
for the worker and answers 202 with a page that asks again by itself.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from casework.access import route_rule
from casework.cases.link_pages import found_or_404, gone_page
from casework.cases.models import Case
from casework.cases.tokens import LinkState
from casework.db import utcnow, writing_session
from casework.evidence.pack import build_pack, pack_filename
from casework.evidence.stored import Extension, pack_data, pack_digest, request_pack, stored_file
from casework.evidence.verify import check_letter, normalise_code, normalise_sha256
from casework.runtime import runtime_of
from casework.staff.reads import log_read_now, opened_from_our_site
from casework.web import checks_secret, db, limiter

bp = Blueprint("evidence", __name__)
VERIFY_LIMIT = "30 per minute; 300 per hour"
DOWNLOAD_LIMIT = "20 per minute"
# How often the "being prepared" page asks again; a pack takes a few seconds to render.
PREPARING_RETRY_SECONDS = 5


def _wants_json() -> bool:
    """JSON only when the client prefers it to HTML (a browser's ``*/*`` gets the page)."""
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


@bp.get("/verify")
@route_rule("anonymous")
def verify_form() -> ResponseReturnValue:
    """A box to type the code from a letter; a well-formed code goes to its page."""
    raw = request.args.get("code", "")
    if raw:
        code = normalise_code(raw)
        if code is not None:
            return redirect(url_for("evidence.verify", code=code), 303)
        return render_template("evidence/verify_form.html", code=raw[:40],
                               error="A code has 10 letters and digits, like 7K2QF-M9XZA."), 422
    return render_template("evidence/verify_form.html", code="", error=None)


@bp.get("/verify/<code>")
@route_rule("anonymous")
@checks_secret
@limiter.limit(VERIFY_LIMIT)
def verify(code: str) -> ResponseReturnValue:
    """The public facts of a letter; ``?sha256=`` compares a digest someone computed with the stored one."""
    normal = normalise_code(code)
    found = check_letter(db(), normal) if normal is not None else None
    raw_sha = request.args.get("sha256", "")
    given = normalise_sha256(raw_sha) if raw_sha else None
    matches = None if found is None or given is None else given == found.sha256
    if _wants_json():
        if found is None:
            response = jsonify({"error": "not_found", "message": "No letter has this verification code."})
            response.status_code = 404
        else:
            body = found.as_json()
            if given is not None:
                body["sha256_checked"] = given
                body["sha256_matches"] = matches
            response = jsonify(body)
    elif found is None:
        response = Response(render_template("evidence/verify_unknown.html", code=code[:40]), 404)
    else:
        response = Response(render_template("evidence/verify.html", letter=found, given=given, matches=matches,
                                            bad_sha=bool(raw_sha) and given is None, raw_sha=raw_sha[:100]))
    response.vary.add("Accept")  # one address, two representations
    return response


def _download(case: Case, extension: Extension, back: str, *, staff_id: int | None = None) -> ResponseReturnValue:
    """The stored pack (or the pack with the stored letters) as an attachment, if it shows the case as it is now;
    else its render is queued (once) and a page says it is being prepared. Never cached by the browser."""
    if case.personal_data_deleted_at is not None:
        abort(404)
    session = db()
    data = pack_data(build_pack(session, case, runtime_of().settings.base_url, utcnow()))
    status, body = stored_file(session, case.id, pack_digest(data), extension)
    if body is None:
        session.commit()  # the reads end here; the job is written in a transaction of its own
        if status != "pending":
            with writing_session(runtime_of().sessions) as writer, writer.begin():
                request_pack(writer, case.id, data, utcnow())
        return _preparing(case, extension, back)
    if staff_id is not None:
        log_read_now(session, case.id, staff_id, "evidence", utcnow())
    response = Response(body, mimetype="application/pdf" if extension == "pdf" else "application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{pack_filename(case.reference, extension)}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _preparing(case: Case, extension: Extension, back: str) -> ResponseReturnValue:
    """202 with a page that asks again by itself (no script needed) and links back to the case."""
    staff = request.path.startswith("/staff/")
    page = render_template("evidence/preparing.html", extension=extension, reference=case.reference,
                           again=request.path, back=back, staff=staff, retry=PREPARING_RETRY_SECONDS,
                           user=current_user if staff else None)
    response = Response(page, 202)
    response.headers["Retry-After"] = str(PREPARING_RETRY_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


def _consumer_case(token: str) -> Case:
    found = found_or_404(token)
    if found.state is LinkState.ERASED:
        abort(404)  # no pack is made of a case whose details are deleted
    if found.state is not LinkState.LIVE:
        abort(gone_page(found.state))
    return found.case


def _staff_case(reference: str) -> Case:
    case = db().execute(select(Case).where(Case.reference == reference[:16])).scalar_one_or_none()
    if case is None:
        abort(404)
    return case


def _consumer_download(token: str, extension: Extension) -> ResponseReturnValue:
    return _download(_consumer_case(token), extension, url_for("consumer.status", token=token))


def _staff_download(reference: str, extension: Extension) -> ResponseReturnValue:
    """Each copy a caseworker takes is logged: evidence holds the consumer's personal data."""
    case = _staff_case(reference)
    return _download(case, extension, url_for("staff.case", reference=case.reference),
                     staff_id=int(current_user.id))


@bp.get("/c/<token>/evidence.pdf")
@route_rule("consumer")
@limiter.limit(DOWNLOAD_LIMIT)
def consumer_pack(token: str) -> ResponseReturnValue:
    return _consumer_download(token, "pdf")


@bp.get("/c/<token>/evidence.zip")
@route_rule("consumer")
@limiter.limit(DOWNLOAD_LIMIT)
def consumer_zip(token: str) -> ResponseReturnValue:
    return _consumer_download(token, "zip")


@bp.get("/staff/cases/<reference>/evidence.pdf")
@route_rule("staff")
@opened_from_our_site
def staff_pack(reference: str) -> ResponseReturnValue:
    return _staff_download(reference, "pdf")


@bp.get("/staff/cases/<reference>/evidence.zip")
@route_rule("staff")
@opened_from_our_site
def staff_zip(reference: str) -> ResponseReturnValue:
    return _staff_download(reference, "zip")
