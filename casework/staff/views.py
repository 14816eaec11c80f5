"""Staff pages: sign in and out, the list of cases (newest first) and a case's timeline."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from casework.access import route_rule
from casework.cases.models import Case, CaseEvent, Delivery
from casework.catalog import default_catalog
from casework.db import utcnow
from casework.letters.models import Letter
from casework.mail.models import OutboundEmail
from casework.staff.accounts import verify_password
from casework.staff.models import StaffUser
from casework.web import db, limiter, login_manager

bp = Blueprint("staff", __name__, url_prefix="/staff")
PAGE_SIZE = 50


def _load_user(user_id: str) -> StaffUser | None:
    if not user_id.isdigit():
        return None
    user = db().get(StaffUser, int(user_id))
    return user if user is not None and user.active else None


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
    user = session_db.execute(select(StaffUser).where(StaffUser.email == email)).scalar_one_or_none()
    if user is None or not user.active or not verify_password(user, password):
        return render_template("staff/login.html", email=email,
                               error="The e-mail address or password is not right."), 401
    user.last_login_at = utcnow()
    session_db.commit()
    session.clear()  # a fresh session at sign-in: nothing carried over from before
    login_user(user)
    return redirect(url_for("staff.cases"), 303)


@bp.post("/logout")
@route_rule("staff")
def logout() -> ResponseReturnValue:
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
                           user=current_user)


@bp.get("/cases/<reference>")
@route_rule("staff")
def case(reference: str) -> ResponseReturnValue:
    session_db = db()
    found = session_db.execute(select(Case).where(Case.reference == reference[:16])).scalar_one_or_none()
    if found is None:
        abort(404)
    events = list(session_db.scalars(select(CaseEvent).where(CaseEvent.case_id == found.id)
                                     .order_by(CaseEvent.id)))
    letters = list(session_db.scalars(select(Letter).where(Letter.case_id == found.id).order_by(Letter.id)))
    emails = list(session_db.scalars(select(OutboundEmail).where(OutboundEmail.case_id == found.id)
                                     .order_by(OutboundEmail.id)))
    deliveries = list(session_db.scalars(select(Delivery).where(Delivery.case_id == found.id)
                                         .order_by(Delivery.id)))
    return render_template("staff/case.html", case=found, events=events, letters=letters, emails=emails,
                           deliveries=deliveries, user=current_user)


STALE_AFTER = dt.timedelta(days=180)


@bp.get("/catalog")
@route_rule("staff")
def catalog() -> ResponseReturnValue:
    """Every company with every source and when it was last checked; old checks are flagged."""
    today = utcnow().date()
    providers = [p for p in default_catalog().providers.values() if p.slug != "other"]
    return render_template("staff/catalog.html", providers=providers, today=today,
                           stale_before=today - STALE_AFTER, user=current_user)
