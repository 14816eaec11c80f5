"""Rules for every staff page, before its view: a session ends after a while without activity and some hours after
signing in (an unlocked screen or a copied cookie does not stay useful for long), and a password someone else saw is
changed first.

The session cookie (signed) carries when its sign-in happened and when it was last used; one without them is not
signed in. The sign-in page says why a session ended.
"""

from __future__ import annotations

from flask import flash, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, logout_user

from casework.db import utcnow
from casework.runtime import runtime_of
from casework.staff.blueprint import bp

SIGNED_IN_AT, SEEN_AT = "staff_signed_in_at", "staff_seen_at"
# What a staff member whose password must change may still reach: that page, signing out, and the sign-in page.
_OPEN_WHILE_CHANGING = {"staff.password", "staff.password_submit", "staff.logout", "staff.login", "staff.login_submit",
                        "static"}


def start() -> None:
    """At sign-in, into the fresh session."""
    session[SIGNED_IN_AT] = session[SEEN_AT] = utcnow().timestamp()


def _why_ended(now: float) -> str | None:
    settings = runtime_of().settings
    signed_in_at, seen_at = session.get(SIGNED_IN_AT), session.get(SEEN_AT)
    if not isinstance(signed_in_at, int | float) or not isinstance(seen_at, int | float):
        return "Your session has ended. Please sign in again."
    hours = settings.staff_session_hours
    if now - signed_in_at > hours * 3600:
        return (f"You were signed out {hours} hour{'' if hours == 1 else 's'} after signing in. Sign in again to "
                "carry on.")
    minutes = settings.staff_idle_minutes
    if now - seen_at > minutes * 60:
        return (f"You were signed out after {minutes} minute{'' if minutes == 1 else 's'} without activity. Sign in "
                "again to carry on.")
    return None


@bp.before_app_request
def _end_stale_sessions() -> None:
    """Only staff pages look at (and refresh) the staff session: a consumer page visited meanwhile is no activity."""
    if not request.path.startswith("/staff") or "_user_id" not in session:
        return
    now = utcnow().timestamp()
    why = _why_ended(now)
    if why is None:
        session[SEEN_AT] = now
        return
    logout_user()
    session.clear()
    flash(why)


@bp.before_app_request
def _password_first() -> ResponseReturnValue | None:
    if not request.path.startswith("/staff") or request.endpoint in _OPEN_WHILE_CHANGING:
        return None
    if current_user.is_authenticated and current_user.must_change_password:
        return redirect(url_for("staff.password"), 303)
    return None
