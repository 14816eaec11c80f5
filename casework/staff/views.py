"""Staff pages: sign in and out, the list of cases (newest first), a case with its timeline and the
caseworker's delivery actions (approve, record a web-form or postal delivery, send a failed e-mail again,
send the final notice after the company's silence)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from casework.access import route_rule
from casework.cases import clock
from casework.cases.models import Case, CaseEvent, Delivery
from casework.cases.services import CaseError
from casework.cases.states import Actor
from casework.cases.workflow import (
    CaseConflict,
    approve_delivery,
    awaiting_approval,
    delivery_channel,
    record_submission,
    retry_email,
)
from casework.catalog import default_catalog
from casework.db import utcnow
from casework.letters.models import Letter
from casework.letters.services import latest_letter
from casework.mail.models import OutboundEmail
from casework.runtime import runtime_of
from casework.staff.accounts import authenticate, end_sessions
from casework.staff.models import StaffUser
from casework.web import db, limiter, login_manager

bp = Blueprint("staff", __name__, url_prefix="/staff")
PAGE_SIZE = 50


def _load_user(user_id: str) -> StaffUser | None:
    """The session holds "<id>:<token>"; a token that is no longer the account's (signed out, signed in
    elsewhere, password reset, disabled) ends this session."""
    raw_id, _, token = user_id.partition(":")
    if not raw_id.isdigit() or len(raw_id) > 10 or not token:
        return None
    user = db().get(StaffUser, int(raw_id))
    if user is None or not user.active or user.session_token is None:
        return None
    return user if secrets.compare_digest(user.session_token.encode(), token.encode()) else None


login_manager.user_loader(_load_user)


@bp.get("/login")
@route_rule("anonymous")
def login() -> ResponseReturnValue:
    return render_template("staff/login.html", email="", error=None)


@bp.post("/login")
@route_rule("anonymous")
@limiter.limit("5 per minute; 30 per hour", methods=["POST"])
def login_submit() -> ResponseReturnValue:
    email = request.form.get("email", "").strip().lower()[:254]
    password = request.form.get("password", "")[:1000]
    session_db = db()
    user = authenticate(session_db, email, password, utcnow())
    session_db.commit()  # a failure is counted too
    if user is None:
        return render_template("staff/login.html", email=email,
                               error="The e-mail address or password is not right."), 401
    session.clear()  # a fresh session at sign-in: nothing carried over from before
    login_user(user)
    return redirect(url_for("staff.cases"), 303)


@bp.post("/logout")
@route_rule("staff")
def logout() -> ResponseReturnValue:
    user = db().get(StaffUser, int(current_user.id))
    if user is not None:
        end_sessions(user)
        db().commit()
    logout_user()
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("staff.login"), 303)


@bp.get("")
@route_rule("staff")
def cases() -> ResponseReturnValue:
    """Newest first, a page at a time by id (no OFFSET)."""
    before = request.args.get("before", "")
    query = select(Case).order_by(Case.id.desc()).limit(PAGE_SIZE + 1)
    if before.isdigit():
        query = query.where(Case.id < int(before))
    rows = list(db().scalars(query))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return render_template("staff/cases.html", cases=rows, next_before=rows[-1].id if more else None,
                           user=current_user, flags=clock.staff_flags(db(), rows))


def _find_case(reference: str) -> Case:
    found = db().execute(select(Case).where(Case.reference == reference[:16])).scalar_one_or_none()
    if found is None:
        abort(404)
    return found


@bp.get("/cases/<reference>")
@route_rule("staff")
def case(reference: str) -> ResponseReturnValue:
    return _case_page(_find_case(reference))


def _case_page(found: Case, errors: dict[str, str] | None = None, status: int = 200) -> ResponseReturnValue:
    session_db = db()
    events = list(session_db.scalars(select(CaseEvent).where(CaseEvent.case_id == found.id)
                                     .order_by(CaseEvent.id)))
    letters = list(session_db.scalars(select(Letter).where(Letter.case_id == found.id).order_by(Letter.id)))
    emails = list(session_db.scalars(select(OutboundEmail).where(OutboundEmail.case_id == found.id)
                                     .order_by(OutboundEmail.id)))
    deliveries = list(session_db.scalars(select(Delivery).where(Delivery.case_id == found.id)
                                         .order_by(Delivery.id)))
    letter = latest_letter(session_db, found.id)
    settings = runtime_of().settings
    return render_template("staff/case.html", case=found, events=events, letters=letters, emails=emails,
                           deliveries=deliveries, user=current_user, errors=errors or {},
                           channel=delivery_channel(letter) if letter is not None else None,
                           awaiting_approval=found.confirmed_at is not None and awaiting_approval(settings, found),
                           staff_names=_staff_names(events), flags=clock.staff_flags(session_db, [found])[found.id],
                           to_submit=_to_submit(session_db, found)), status


def _to_submit(session_db: Session, found: Case) -> tuple[Letter, str, str] | None:
    """The follow-up or final notice waiting to be submitted by web form or post, with its channel."""
    letter = clock.awaiting_submission(session_db, found)
    return (letter, *delivery_channel(letter)) if letter is not None else None


def _staff_names(events: list[CaseEvent]) -> dict[int, str]:
    """Who did what: the names of the caseworkers in this timeline."""
    ids = {e.actor_staff_id for e in events if e.actor_staff_id is not None}
    if not ids:
        return {}
    return {u.id: u.name for u in db().scalars(select(StaffUser).where(StaffUser.id.in_(ids)))}


def _staff_action(reference: str, action: Callable[[Session, Case, int, dt.datetime], str]) -> ResponseReturnValue:
    """A caseworker's form: the case's ``version`` must match (else 409 stale), one commit, a flash, back."""
    found = _find_case(reference)
    session_db = db()
    if request.form.get("version", "") != str(found.version):
        return _case_page(found, {"version": "Someone changed this case since you opened it. Check it again, "
                                             "then repeat your action."}, 409)
    try:
        done = action(session_db, found, int(current_user.id), utcnow())
        session_db.commit()
    except StaleDataError:
        session_db.rollback()
        return _case_page(_find_case(reference), {"version": "Someone changed this case at the same moment. "
                                                             "Check it again."}, 409)
    except CaseConflict as conflict:
        session_db.rollback()
        return _case_page(_find_case(reference), {"action": str(conflict)}, 409)
    except CaseError as error:
        session_db.rollback()
        return _case_page(_find_case(reference), {**error.fields, "action": str(error)} if error.fields
                          else {"action": str(error)}, 422)
    flash(done)
    return redirect(url_for("staff.case", reference=found.reference), 303)


@bp.post("/cases/<reference>/emails/<email_id>/retry")
@route_rule("staff")
def retry_failed_email(reference: str, email_id: str) -> ResponseReturnValue:
    """Send a failed e-mail again: the same row, so the same Message-ID."""
    if not email_id.isdigit() or len(email_id) > 10:
        abort(404)

    def run(session_db: Session, found: Case, staff_id: int, now: dt.datetime) -> str:
        email = session_db.get(OutboundEmail, int(email_id))
        if email is None or email.case_id != found.id:
            abort(404)
        retry_email(session_db, found, email, staff_id, now)
        found.updated_at = now
        return f"The e-mail to {', '.join(email.recipients)} is queued again."

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
    """A caseworker submitted the web form or posted the letter for the consumer."""
    def run(session_db: Session, found: Case, staff_id: int, now: dt.datetime) -> str:
        at = now
        raw_at = request.form.get("at", "").strip()
        if raw_at:
            try:
                at = dt.datetime.fromisoformat(raw_at).replace(tzinfo=dt.UTC)
            except (ValueError, OverflowError):
                raise CaseError("Enter the date and time in UTC, or leave it empty for now.",
                                {"at": "not a date and time"}) from None
            if at < found.created_at - dt.timedelta(minutes=5):
                raise CaseError("That is before the case was filed.", {"at": "before the case was filed"})
        confirmation = request.form.get("confirmation", "").strip()[:501] or None
        if confirmation and len(confirmation) > 500:
            raise CaseError("At most 500 characters.", {"confirmation": "at most 500 characters"})
        record_submission(session_db, runtime_of().settings, found, request.form.get("channel", ""), at,
                          confirmation, Actor.STAFF, now, staff_id=staff_id)
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


STALE_AFTER = dt.timedelta(days=180)


@bp.get("/catalog")
@route_rule("staff")
def catalog() -> ResponseReturnValue:
    """Every company with every source and when it was last checked; old checks are flagged."""
    today = utcnow().date()
    providers = [p for p in default_catalog().providers.values() if p.slug != "other"]
    return render_template("staff/catalog.html", providers=providers, today=today,
                           stale_before=today - STALE_AFTER, user=current_user)
