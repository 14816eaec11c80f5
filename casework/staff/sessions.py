"""Rules for every staff page, before its view: a password someone else saw is changed first."""

from __future__ import annotations

from flask import redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from casework.staff.blueprint import bp

# What a staff member whose password must change may still reach: that page, signing out, and the sign-in page.
_OPEN_WHILE_CHANGING = {"staff.password", "staff.password_submit", "staff.logout", "staff.login", "staff.login_submit",
                        "static"}


@bp.before_app_request
def _password_first() -> ResponseReturnValue | None:
    if not request.path.startswith("/staff") or request.endpoint in _OPEN_WHILE_CHANGING:
        return None
    if current_user.is_authenticated and current_user.must_change_password:
        return redirect(url_for("staff.password"), 303)
    return None
