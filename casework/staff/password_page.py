"""A staff member changes their own password; one whose password someone else saw (a new account, a reset, the
first supervisor) is sent here at sign-in and reaches nothing else until they have.

The current password is asked even right after signing in with it: whoever finds the page open must not be able
to take the account over. Wrong ones count with wrong sign-ins (:mod:`casework.staff.throttle`). Passwords are
never written back into the page.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user

from casework.access import route_rule
from casework.staff import throttle
from casework.staff.accounts import PASSWORD_MAX, PASSWORD_MIN, change_password, new_password_problem, verify_password
from casework.staff.blueprint import bp
from casework.staff.models import StaffUser
from casework.web import checks_secret, db, wait_in_words

CURRENT, NEW, AGAIN = "current_password", "new_password", "confirm_password"  # the form's fields
LABELS = {CURRENT: "Current password", NEW: "New password", AGAIN: "New password again"}


def _page(errors: dict[str, str] | None = None, status: int = 200,
          headers: dict[str, str] | None = None) -> ResponseReturnValue:
    return render_template("staff/password.html", user=current_user, errors=errors or {}, labels=LABELS,
                           must_change=current_user.must_change_password, password_min=PASSWORD_MIN), \
        status, headers or {}


def _me() -> StaffUser:
    user = db().get(StaffUser, int(current_user.id))
    if user is None:
        abort(404)
    return user


@bp.get("/password")
@route_rule("staff")
def password() -> ResponseReturnValue:
    return _page()


@bp.post("/password")
@route_rule("staff")
@checks_secret
def password_submit() -> ResponseReturnValue:
    current = request.form.get(CURRENT, "")[:PASSWORD_MAX + 1]
    new = request.form.get(NEW, "")[:PASSWORD_MAX + 1]
    again = request.form.get(AGAIN, "")[:PASSWORD_MAX + 1]
    me = _me()
    errors: dict[str, str] = {}
    if not current:
        errors[CURRENT] = "Enter the password you signed in with."
    problem = new_password_problem(me, current, new)
    if problem:
        errors[NEW] = problem
    elif again != new:
        errors[AGAIN] = "This does not match the new password; type it again."
    if errors:
        return _page(errors, 422)
    try:
        throttle.attempt(me.email)
    except throttle.Throttled as wait:
        return _page({CURRENT: f"Too many wrong passwords. Try again in {wait_in_words(wait.seconds)}."},
                     429, {"Retry-After": str(wait.seconds)})
    if not verify_password(me, current):
        return _page({CURRENT: "That is not your current password."}, 422)
    throttle.forgive(me.email)
    change_password(me, new)
    db().commit()
    login_user(me)  # this browser stays signed in under the account's new session token
    flash("Your password is changed. Other browsers signed in to your account are signed out.")
    return redirect(url_for("queue.index"), 303)
