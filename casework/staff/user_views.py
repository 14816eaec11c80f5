"""Supervisors manage staff accounts: the list, a new account, disabling and enabling, a new password.

A generated password is put in the answer page itself (never in a flash, which would carry it in the
session cookie) and is not stored anywhere in clear.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from casework.access import route_rule
from casework.db import utcnow
from casework.staff.accounts import (
    StaffError,
    create_staff,
    disable_staff,
    enable_staff,
    new_password,
    reset_password,
)
from casework.staff.models import ROLES, StaffUser
from casework.typed_text import is_one_line
from casework.web import db

bp = Blueprint("staff_users", __name__, url_prefix="/staff/users")


def _page(values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
          shown: tuple[str, str] | None = None, problem: str | None = None, status: int = 200) -> ResponseReturnValue:
    users = list(db().scalars(select(StaffUser).order_by(StaffUser.email)))
    return render_template("staff/users.html", users=users, values=values or {"role": "caseworker"},
                           errors=errors or {}, shown=shown, problem=problem, roles=ROLES,
                           user=current_user, now=utcnow()), status


@bp.get("")
@route_rule("supervisor")
def index() -> ResponseReturnValue:
    return _page()


def _form_errors(values: dict[str, str]) -> dict[str, str]:
    errors = {}
    email = values["email"]
    if (not email or "@" not in email.strip("@") or len(email) > 254 or any(c.isspace() for c in email)
            or not is_one_line(email)):
        errors["email"] = "Enter an e-mail address, like name@example.org."
    if not values["name"]:
        errors["name"] = "Enter the person's name."
    elif len(values["name"]) > 200:
        errors["name"] = "At most 200 characters."
    elif not is_one_line(values["name"]):
        errors["name"] = "Write the name on one line, without line breaks or hidden characters."
    if values["role"] not in ROLES:
        errors["role"] = "Choose a role."
    return errors


@bp.post("")
@route_rule("supervisor")
def create() -> ResponseReturnValue:
    values = {"email": request.form.get("email", "").strip().lower()[:255],
              "name": request.form.get("name", "").strip()[:201],
              "role": request.form.get("role", "")}
    errors = _form_errors(values)
    if errors:
        return _page(values, errors, status=422)
    session_db = db()
    password = new_password()
    try:
        created = create_staff(session_db, values["email"], values["name"], password, values["role"],
                               must_change_password=True)
    except StaffError as error:
        session_db.rollback()
        return _page(values, {"email": str(error)}, status=422)
    session_db.commit()
    return _page(shown=(created.email, password), status=201)


def _target(user_id: str) -> StaffUser:
    if not (user_id.isascii() and user_id.isdigit()) or len(user_id) > 10:
        abort(404)
    found = db().get(StaffUser, int(user_id))
    if found is None:
        abort(404)
    return found


@bp.post("/<user_id>/disable")
@route_rule("supervisor")
def disable(user_id: str) -> ResponseReturnValue:
    target, session_db = _target(user_id), db()
    try:
        disable_staff(session_db, target, by=current_user)
    except StaffError as error:
        session_db.rollback()
        return _page(problem=str(error), status=409)
    session_db.commit()
    flash("The account is disabled and signed out everywhere.")  # no address: flashes travel in the cookie
    return redirect(url_for("staff_users.index"), 303)


@bp.post("/<user_id>/enable")
@route_rule("supervisor")
def enable(user_id: str) -> ResponseReturnValue:
    target = _target(user_id)
    enable_staff(target)
    db().commit()
    flash("The account can sign in again.")
    return redirect(url_for("staff_users.index"), 303)


@bp.post("/<user_id>/reset-password")
@route_rule("supervisor")
def reset(user_id: str) -> ResponseReturnValue:
    """A new password for someone else; one's own would also sign oneself out, so it is refused."""
    target = _target(user_id)
    if target.id == current_user.id:
        return _page(problem="To change your own password, ask another supervisor.", status=409)
    session_db = db()
    password = reset_password(session_db, target)
    session_db.commit()
    return _page(shown=(target.email, password))
