"""Every caseworker's action on a case: assignment, notes, the company's answer, resolving, closing and
reopening, a question to the consumer, escalation, letters and delivery, merging a duplicate. Every action goes
through ``_staff_action`` (version check, one commit, a flash); the rules live in casework.staff.actions (and
casework.staff.duplicates); a refused form shows the case page again with what was typed."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from casework.access import route_rule
from casework.cases import clock, entered_dates
from casework.cases.answers import UPLOAD_REQUEST_MAX, Upload, refund_amount
from casework.cases.delivery import TRACKING_MAX
from casework.cases.filing import CaseError
from casework.cases.limits import CaseFull, Held
from casework.cases.models import Case
from casework.cases.states import Actor, Outcome
from casework.cases.workflow import CaseConflict, approve_delivery, record_submission, retry_email
from casework.db import utcnow
from casework.mail.models import OutboundEmail
from casework.runtime import runtime_of
from casework.staff import actions, duplicates
from casework.staff.blueprint import bp
from casework.staff.case_page import find_case, render_case_page
from casework.staff.claiming import ClaimRefused, assign
from casework.staff.models import StaffUser
from casework.web import db, too_large_page

# Longer input than any field takes is cut before checking, so the error names the limit, not a crash.
NOTE_READ = 20_000
# Where the answer form shows that the case holds all the answers or files it may (casework.cases.limits).
RESPONSE_FIELDS: dict[Held, str] = {"answers": "response.summary", "files": "response.file"}
ROW_ID_MAX = 2_147_483_647


def _row_id(raw: str) -> int | None:
    """A row id as typed into a URL or form: digits within the columns' 32-bit range, else None."""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 10 and int(raw) <= ROW_ID_MAX else None


def _me(session_db: Session, staff_id: int) -> StaffUser:
    return session_db.get_one(StaffUser, staff_id)


def _staff_action(reference: str, action: Callable[[Session, Case, int, dt.datetime], str]) -> ResponseReturnValue:
    """A caseworker's form: the case's ``version`` must match (else 409 stale), one commit, a flash, back.
    A refused form shows the page again with what was typed."""
    found = find_case(reference)
    session_db = db()
    typed = request.form.to_dict()
    if request.form.get("version", "") != str(found.version):
        return render_case_page(found, {"version": "Someone changed this case since you opened it. Check it again, "
                                             "then repeat your action."}, 409, typed)
    try:
        done = action(session_db, found, int(current_user.id), utcnow())
        session_db.commit()
    except StaleDataError:
        session_db.rollback()
        return render_case_page(find_case(reference), {"version": "Someone changed this case at the same moment. "
                                                             "Check it again."}, 409, typed)
    except ClaimRefused as refused:
        session_db.rollback()
        return render_case_page(find_case(reference), {"assignee": str(refused)}, 403 if refused.forbidden else 409,
                          typed)
    except CaseConflict as conflict:
        session_db.rollback()
        return render_case_page(find_case(reference), {"action": str(conflict)}, 409, typed)
    except CaseError as error:
        session_db.rollback()
        return render_case_page(find_case(reference), dict(error.fields) if error.fields else {"action": str(error)},
                          422, typed)
    flash(done)
    return redirect(url_for("staff.case", reference=found.reference), 303)


@bp.post("/cases/<reference>/emails/<email_id>/retry")
@route_rule("staff")
def retry_failed_email(reference: str, email_id: str) -> ResponseReturnValue:
    """Send a failed e-mail again: the same row, so the same Message-ID."""
    if _row_id(email_id) is None:
        abort(404)

    def run(session_db: Session, found: Case, staff_id: int, now: dt.datetime) -> str:
        email = session_db.get(OutboundEmail, int(email_id))
        if email is None or email.case_id != found.id:
            abort(404)
        retry_email(session_db, found, email, staff_id, now)
        found.updated_at = now
        return "The e-mail is queued again, to the same addresses."  # no address: flashes travel in the cookie

    return _staff_action(reference, run)


@bp.post("/cases/<reference>/approve-delivery")
@route_rule("staff")
def approve(reference: str) -> ResponseReturnValue:
    def run(session_db: Session, found: Case, staff_id: int, now: dt.datetime) -> str:
        approve_delivery(session_db, runtime_of().settings, found, staff_id, now)
        return "Delivery approved."

    return _staff_action(reference, run)


@bp.post("/cases/<reference>/delivery")
@route_rule("staff")
def record_delivery(reference: str) -> ResponseReturnValue:
    """A caseworker submitted the web form or posted the letter for the consumer; the time is typed in UTC."""
    def run(session_db: Session, found: Case, staff_id: int, now: dt.datetime) -> str:
        errors: dict[str, str] = {}
        channel = request.form.get("channel", "")
        if channel not in ("web_form", "post"):
            errors["channel"] = "Choose how the letter went: web form or post"
        at = now
        raw_at = request.form.get("at", "").strip()[:40]
        if raw_at:
            try:
                at = dt.datetime.fromisoformat(raw_at).replace(tzinfo=dt.UTC)
            except (ValueError, OverflowError):
                errors["at"] = "Enter the date and time in UTC, such as 2026-12-01 14:30, or leave it empty for now"
            else:
                problem = entered_dates.delivery_problem(at, found, now)
                if problem is not None:
                    errors["at"] = entered_dates.delivery_message(problem, "The time of delivery")
        confirmation = request.form.get("confirmation", "").strip()[:501] or None
        limit = TRACKING_MAX if channel == "post" else 500
        if confirmation and len(confirmation) > limit:
            number = "tracking number" if channel == "post" else "confirmation number"
            errors["confirmation"] = f"The {number} must be {limit} characters or fewer"
        if errors:
            raise CaseError("Some fields need correcting.", errors)
        record_submission(session_db, runtime_of().settings, found, channel, at, confirmation, Actor.STAFF, now,
                          staff_id=staff_id)
        return "Delivery recorded; the company's answer is now due."

    return _staff_action(reference, run)


@bp.post("/cases/<reference>/final-notice")
@route_rule("staff")
def final_notice(reference: str) -> ResponseReturnValue:
    """The caseworker's decision after silence: the final notice, delivered by the letter's channel."""
    def run(session_db: Session, found: Case, staff_id: int, now: dt.datetime) -> str:
        clock.send_final_notice(session_db, runtime_of().settings, found, staff_id, now)
        return "The final notice is being prepared; it goes out by the company's channel once written."

    return _staff_action(reference, run)


@bp.post("/cases/<reference>/assign")
@route_rule("staff")
def assign_case(reference: str) -> ResponseReturnValue:
    """Take, release, or (supervisors) give the case to someone."""
    def run(session_db: Session, found: Case, staff_id: int, now: dt.datetime) -> str:
        me = _me(session_db, staff_id)
        raw = request.form.get("assignee", "").strip()
        if raw == "me":
            target: StaffUser | None = me
        elif raw == "":
            target = None
        elif _row_id(raw) is not None and (chosen := session_db.get(StaffUser, int(raw))) is not None:
            target = chosen
        else:
            raise CaseError("Choose a member of staff.", {"assignee": "Choose a member of staff."})
        assign(session_db, found, target, me, now)
        if target is None:
            return "The case is unassigned now."
        # No colleague's name: flashes travel in the cookie (the case page shows whose it is).
        return "The case is yours now." if target.id == me.id else "The case is assigned to the colleague you chose."

    return _staff_action(reference, run)


@bp.post("/cases/<reference>/notes")
@route_rule("staff")
def add_case_note(reference: str) -> ResponseReturnValue:
    def run(session_db: Session, found: Case, staff_id: int, now: dt.datetime) -> str:
        actions.add_note(session_db, found, _me(session_db, staff_id), request.form.get("note", "")[:NOTE_READ], now)
        return "Note added."

    return _staff_action(reference, run)


def _form_date(field: str, errors: dict[str, str]) -> dt.date | None:
    raw = request.form.get(field, "").strip()[:40]
    if not raw:
        errors[field] = "Enter the date."
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors[field] = "Enter a date such as 2026-12-01."
        return None


def _upload() -> Upload | None:
    storage = request.files.get("response.file")
    if storage is None or not storage.filename:
        return None
    return Upload(storage.filename, storage.stream.read(UPLOAD_REQUEST_MAX))


@bp.url_value_preprocessor
def _allow_uploads(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Only the answer form may carry a file; it gets the larger limit before the CSRF check reads the form."""
    if endpoint == "staff.record_response" and request.method == "POST":
        request.max_content_length = UPLOAD_REQUEST_MAX


@too_large_page("staff.record_response")
def _response_too_large() -> ResponseReturnValue:
    """Over the size limit the form is never read; a signed-in caseworker sees the case with the file's error."""
    if not current_user.is_authenticated:
        abort(413)
    found = find_case(str((request.view_args or {}).get("reference", "")))
    return render_case_page(found, {"response.file": "The file is larger than we accept (at most 5 MB); nothing was "
                                               "saved."}, 413)


@bp.post("/cases/<reference>/responses")
@route_rule("staff")
def record_response(reference: str) -> ResponseReturnValue:
    """The company's answer as it reached a caseworker, with an optional copy of it."""
    def run(session_db: Session, found: Case, staff_id: int, now: dt.datetime) -> str:
        errors: dict[str, str] = {}
        received_on = _form_date("response.received_on", errors)
        if errors or received_on is None:
            raise CaseError("Some fields need correcting.", errors)
        try:
            actions.record_company_response(session_db, found, _me(session_db, staff_id),
                                            request.form.get("response.type", ""), received_on,
                                            request.form.get("response.summary", "")[:NOTE_READ], now, _upload())
        except CaseFull as full:  # on the field it is about, with what was typed kept
            raise CaseError(str(full), {RESPONSE_FIELDS[full.what]: str(full)}) from None
        return "The company's answer is recorded."

    return _staff_action(reference, run)


def _refunded() -> actions.Refunded | None:
    """The optional refund with the outcome: nothing typed is no refund; anything typed must be whole."""
    raw_amount = request.form.get("refund.amount", "").strip().replace(",", "")[:20]
    raw_currency = request.form.get("refund.currency", "").strip().upper()[:10]
    if not raw_amount and not request.form.get("refund.on", "").strip():
        return None
    errors: dict[str, str] = {}
    amount = refund_amount(raw_amount)
    if amount is None:
        errors["refund.amount"] = "Enter the amount, such as 12.00."
    if len(raw_currency) != 3:
        errors["refund.currency"] = "Enter a three-letter currency code, such as AUD."
    on = _form_date("refund.on", errors)
    if errors or on is None:
        raise CaseError("The refund needs correcting.", errors)
    return actions.Refunded(amount or decimal.Decimal(0), raw_currency, on)


@bp.post("/cases/<reference>/resolve")
@route_rule("staff")
def resolve_case(reference: str) -> ResponseReturnValue:
    def run(session_db: Session, found: Case, staff_id: int, now: dt.datetime) -> str:
        raw = request.form.get("outcome", "")
        if raw not in {o.value for o in Outcome}:
            raise CaseError("A resolved case needs an outcome.", {"outcome": "Choose the outcome."})
        actions.resolve(session_db, runtime_of().settings, found, _me(session_db, staff_id), Outcome(raw), now,
                        _refunded())
        return "The case is resolved."

    return _staff_action(reference, run)


@bp.post("/cases/<reference>/close")
@route_rule("staff")
def close_case(reference: str) -> ResponseReturnValue:
    def run(session_db: Session, found: Case, staff_id: int, now: dt.datetime) -> str:
        actions.close(session_db, found, _me(session_db, staff_id), now)
        return "The case is closed."

    return _staff_action(reference, run)


@bp.post("/cases/<reference>/reopen")
@route_rule("staff")
def reopen_case(reference: str) -> ResponseReturnValue:
    def run(session_db: Session, found: Case, staff_id: int, now: dt.datetime) -> str:
        actions.reopen(session_db, runtime_of().settings, found, _me(session_db, staff_id),
                       request.form.get("reason", "")[:NOTE_READ], now)
        return f"The case is reopened ({found.status.value.replace('_', ' ')})."

    return _staff_action(reference, run)


@bp.post("/cases/<reference>/ask")
@route_rule("staff")
def ask_consumer(reference: str) -> ResponseReturnValue:
    def run(session_db: Session, found: Case, staff_id: int, now: dt.datetime) -> str:
        actions.ask_consumer(session_db, runtime_of().settings, found, _me(session_db, staff_id),
                             request.form.get("question", "")[:NOTE_READ], now)
        return "The question is e-mailed to the consumer; the case waits for their answer."

    return _staff_action(reference, run)


@bp.post("/cases/<reference>/escalate")
@route_rule("staff")
def escalate_case(reference: str) -> ResponseReturnValue:
    def run(session_db: Session, found: Case, staff_id: int, now: dt.datetime) -> str:
        where = actions.Escalation(request.form.get("escalation.kind", "")[:40],
                                   request.form.get("escalation.name", "")[:NOTE_READ],
                                   request.form.get("escalation.reference", "")[:NOTE_READ] or None)
        final = request.form.get("final_notice", "") == "1"
        actions.escalate(session_db, runtime_of().settings, found, _me(session_db, staff_id), where, now,
                         final_notice=final)
        return f"The case is escalated to {found.escalated_to_name}." + (
            " The final notice is being written." if final else "")

    return _staff_action(reference, run)


@bp.post("/cases/<reference>/follow-up")
@route_rule("staff")
def follow_up_now(reference: str) -> ResponseReturnValue:
    def run(session_db: Session, found: Case, staff_id: int, now: dt.datetime) -> str:
        actions.send_follow_up_now(session_db, runtime_of().settings, found, _me(session_db, staff_id), now)
        return "The follow-up is being written; it goes out by the company's channel once written."

    return _staff_action(reference, run)


@bp.post("/cases/<reference>/letters/regenerate")
@route_rule("staff")
def regenerate_letter(reference: str) -> ResponseReturnValue:
    def run(session_db: Session, found: Case, staff_id: int, now: dt.datetime) -> str:
        letter = actions.regenerate_letter(session_db, runtime_of().settings, found, _me(session_db, staff_id), now)
        return f"Version {letter.version} of the letter is being written."

    return _staff_action(reference, run)


@bp.post("/cases/<reference>/letters/resend")
@route_rule("staff")
def resend_letter(reference: str) -> ResponseReturnValue:
    def run(session_db: Session, found: Case, staff_id: int, now: dt.datetime) -> str:
        actions.resend_letter(session_db, runtime_of().settings, found, _me(session_db, staff_id), now)
        return "The letter is e-mailed to the company again."

    return _staff_action(reference, run)


@bp.post("/cases/<reference>/merge")
@route_rule("staff")
def merge_case(reference: str) -> ResponseReturnValue:
    """Fold a duplicate (``absorb``, its reference) into this case; both cases' versions must be current."""
    def run(session_db: Session, found: Case, staff_id: int, now: dt.datetime) -> str:
        raw = request.form.get("absorb", "").strip().upper()[:16]
        other = session_db.execute(select(Case).where(Case.reference == raw)).scalar_one_or_none() if raw else None
        if other is None:
            raise CaseError("Choose a case to merge into this one.")
        if request.form.get("absorb_version", "") != str(other.version):
            raise CaseConflict(f"Someone changed {other.reference} since you opened this page. Check it again, "
                               "then repeat the merge.")
        duplicates.merge(session_db, runtime_of().settings, found, other, _me(session_db, staff_id), now)
        return f"{other.reference} is merged into this case; its timeline is shown here."

    return _staff_action(reference, run)


@bp.post("/cases/<reference>/reviewed")
@route_rule("staff")
def mark_reviewed(reference: str) -> ResponseReturnValue:
    def run(session_db: Session, found: Case, staff_id: int, now: dt.datetime) -> str:
        actions.mark_reviewed(session_db, found, _me(session_db, staff_id), now)
        return "Marked reviewed."

    return _staff_action(reference, run)

