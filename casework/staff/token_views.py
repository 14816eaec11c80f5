"""Staff API tokens: each caseworker makes and revokes their own; supervisors can revoke anyone's.

Making one asks for the person's password again: a session someone else got hold of (an unlocked screen, a
copied cookie) must not turn itself into a credential that outlives it. Wrong passwords here count with wrong
sign-ins (:mod:`casework.staff.throttle`). A new token is put in the answer page itself (never in a flash, which
would carry it in the session cookie) and is never logged or stored in clear.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from casework.access import route_rule
from casework.db import utcnow
from casework.runtime import runtime_of
from casework.staff import throttle
from casework.staff.accounts import verify_password
from casework.staff.api_tokens import (
    LIFETIME_DAYS,
    LIFETIME_DAYS_MAX,
    NAME_MAX,
    issue_token,
    may_revoke,
    revoke,
    tokens_for,
)
from casework.staff.models import StaffApiToken, StaffUser
from casework.typed_text import is_one_line
from casework.web import checks_secret, db, wait_in_words

bp = Blueprint("staff_tokens", __name__, url_prefix="/staff/tokens")
LIFETIME_CHOICES = (7, 30, LIFETIME_DAYS, 180, LIFETIME_DAYS_MAX)


def _me() -> StaffUser:
    user = db().get(StaffUser, int(current_user.id))
    if user is None:
        abort(404)
    return user


def _page(values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
          shown: tuple[str, str] | None = None, status: int = 200,
          headers: dict[str, str] | None = None) -> ResponseReturnValue:
    me = _me()
    return render_template("staff/tokens.html", tokens=tokens_for(db(), me),
                           values=values or {"expires_in_days": str(LIFETIME_DAYS)}, errors=errors or {},
                           shown=shown, user=current_user, everyone=me.role == "supervisor", name_max=NAME_MAX,
                           lifetimes=LIFETIME_CHOICES, now=utcnow()), status, headers or {}


@bp.get("")
@route_rule("staff")
def index() -> ResponseReturnValue:
    return _page()


@bp.post("")
@route_rule("staff")
@checks_secret
def create() -> ResponseReturnValue:
    values = {"name": request.form.get("name", "").strip()[:NAME_MAX + 1],
              "expires_in_days": request.form.get("expires_in_days", str(LIFETIME_DAYS)).strip()[:10],
              "read_only": "yes" if request.form.get("read_only") == "yes" else ""}
    password = request.form.get("password", "")[:1000]
    errors = {}
    if not values["name"]:
        errors["name"] = "Give the token a name, such as the program that will use it."
    elif len(values["name"]) > NAME_MAX:
        errors["name"] = f"At most {NAME_MAX} characters."
    elif not is_one_line(values["name"]):
        errors["name"] = "Write the name on one line, without line breaks or hidden characters."
    days = values["expires_in_days"]
    if not (days.isascii() and days.isdigit() and 1 <= int(days) <= LIFETIME_DAYS_MAX):
        errors["expires_in_days"] = f"Choose how long the token works: between 1 and {LIFETIME_DAYS_MAX} days."
    if not password:
        errors["password"] = "Enter your password: a new token acts as you."  # noqa: S105 - a message
    if errors:
        return _page(values, errors, status=422)
    me = _me()
    try:
        throttle.attempt(me.email)
    except throttle.Throttled as wait:
        return _page(values, {"password": f"Too many wrong passwords. Try again in {wait_in_words(wait.seconds)}."},
                     status=429, headers={"Retry-After": str(wait.seconds)})
    if not verify_password(me, password):
        return _page(values, {"password": "That is not your password."}, status=422)
    throttle.forgive(me.email)
    session_db = db()
    token, _ = issue_token(session_db, me, values["name"], runtime_of().settings.secret_key, utcnow(),
                           days=int(days), read_only=values["read_only"] == "yes")
    session_db.commit()
    return _page(shown=(values["name"], token), status=201)


@bp.post("/<token_id>/revoke")
@route_rule("staff")
def revoke_token(token_id: str) -> ResponseReturnValue:
    if not (token_id.isascii() and token_id.isdigit()) or len(token_id) > 10:
        abort(404)
    session_db = db()
    row = session_db.get(StaffApiToken, int(token_id))
    me = _me()
    if row is None:
        abort(404)
    if not may_revoke(row, me):
        abort(403)
    revoke(session_db, row, me, utcnow())
    session_db.commit()
    flash(f"The token “{row.name}” is revoked; programs using it are refused from now on.")
    return redirect(url_for("staff_tokens.index"), 303)
