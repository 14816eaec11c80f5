"""Staff sign-in and sign-out, and the session loader that ends a session whose account moved on.

Guessing is slowed, never locked (:mod:`casework.staff.throttle`): per account and client, and across networks per
account; on top, one client may try at most SIGN_IN_LIMIT, whatever the accounts.
"""

from __future__ import annotations

import secrets

from flask import flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user

from casework.access import route_rule
from casework.db import utcnow
from casework.staff import sessions, throttle
from casework.staff.accounts import authenticate, end_sessions
from casework.staff.blueprint import bp
from casework.staff.models import StaffUser
from casework.web import checks_secret, db, limiter, login_manager, wait_in_words

# Per client, whatever the accounts (trying many accounts at once); a single account's guesses are held back sooner.
SIGN_IN_LIMIT = "10 per minute; 30 per hour"
WRONG = "The e-mail address or password is not right."


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
@checks_secret
@limiter.limit(SIGN_IN_LIMIT, methods=["POST"])
def login_submit() -> ResponseReturnValue:
    email = request.form.get("email", "").strip().lower()[:254]
    password = request.form.get("password", "")[:1000]
    try:
        throttle.attempt(email)
    except throttle.Throttled as wait:
        error = f"Too many attempts to sign in to this account. Try again in {wait_in_words(wait.seconds)}."
        return render_template("staff/login.html", email=email, error=error), 429, {"Retry-After": str(wait.seconds)}
    session_db = db()
    user = authenticate(session_db, email, password, utcnow())
    if user is None:
        return render_template("staff/login.html", email=email, error=WRONG), 401
    throttle.forgive(email)
    session_db.commit()
    session.clear()  # a fresh session at sign-in: nothing carried over from before
    login_user(user)
    sessions.start()
    response = redirect(url_for("staff.password" if user.must_change_password else "queue.index"), 303)
    throttle.remember_device(response, email)
    return response


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
