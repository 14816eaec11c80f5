"""Creating and managing staff accounts and checking passwords (argon2). Wrong passwords slow the guesser down
(:mod:`casework.staff.throttle`); they never lock an account, which anyone could do to anyone."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casework.db import utcnow
from casework.staff.api_tokens import revoke_all
from casework.staff.models import ROLES, StaffUser

_hasher = PasswordHasher()
PASSWORD_MIN = 12
PASSWORD_MAX = 1000


class StaffError(Exception):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: StaffUser, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def authenticate(session: Session, email: str, password: str, now: dt.datetime) -> StaffUser | None:
    """The account if the password is right and the account is usable, else None.

    Unknown, disabled and wrong all take one argon2 verification, so neither the answer nor its timing tells them
    apart.
    """
    user = session.execute(select(StaffUser).where(StaffUser.email == email.strip().lower())).scalar_one_or_none()
    if user is None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_dummy_hash(), password)
        return None
    right = verify_password(user, password)
    if not user.active or not right:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    user.session_token = secrets.token_urlsafe(32)  # every earlier sign-in of this account ends
    return user


def end_sessions(user: StaffUser) -> None:
    """Every signed-in browser of this account is signed out at its next request."""
    user.session_token = None


def find_staff(session: Session, email: str) -> StaffUser:
    email = email.strip().lower()
    user = session.execute(select(StaffUser).where(StaffUser.email == email)).scalar_one_or_none()
    if user is None:
        raise StaffError(f"There is no staff account for {email}.")
    return user


def _active_supervisors(session: Session) -> int:
    return session.execute(select(func.count(StaffUser.id)).where(
        StaffUser.role == "supervisor", StaffUser.active.is_(True))).scalar_one()


def disable_staff(session: Session, user: StaffUser, by: StaffUser | None = None) -> None:
    """Refused for one's own account and for the last active supervisor: nobody could undo it. The account's
    sessions and API tokens end for good."""
    if by is not None and by.id == user.id:
        raise StaffError("You cannot disable your own account; ask another supervisor.")
    if user.active and user.role == "supervisor" and _active_supervisors(session) <= 1:
        raise StaffError(f"{user.email} is the last active supervisor; enable or create another one first.")
    user.active = False
    end_sessions(user)
    revoke_all(session, user.id, utcnow())


def enable_staff(user: StaffUser) -> None:
    user.active = True


def new_password() -> str:
    return secrets.token_urlsafe(15)


def reset_password(session: Session, user: StaffUser) -> str:
    """A new random password (shown once by the caller, changed by its owner at the next sign-in); the account's
    sessions and API tokens end."""
    password = new_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    end_sessions(user)
    revoke_all(session, user.id, utcnow())
    return password


def new_password_problem(user: StaffUser, current: str, new: str) -> str | None:
    """Why ``new`` will not do as this person's own password, or None."""
    if len(new) < PASSWORD_MIN:
        return f"Choose a password of at least {PASSWORD_MIN} characters: a short sentence is easy to remember."
    if len(new) > PASSWORD_MAX:
        return f"At most {PASSWORD_MAX} characters."
    if new == current:
        return "Choose a password different from the one you have now."
    if new.strip().lower() == user.email.lower():
        return "Choose a password other than your e-mail address."
    return None


def change_password(user: StaffUser, new: str) -> None:
    """The person's own password from now on; every other signed-in browser of the account is signed out (the
    caller signs this one in again). API tokens stay: they were made with the account's password asked again."""
    user.password_hash = hash_password(new)
    user.must_change_password = False
    user.session_token = secrets.token_urlsafe(32)


def create_staff(
    session: Session, email: str, name: str, password: str, role: str = "caseworker", *,
    must_change_password: bool = False,
) -> StaffUser:
    """``must_change_password`` for a password made for the person (shown to whoever made the account)."""
    email = email.strip().lower()
    if role not in ROLES:
        raise StaffError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < PASSWORD_MIN:
        raise StaffError(f"passwords have at least {PASSWORD_MIN} characters")
    if session.execute(select(StaffUser.id).where(StaffUser.email == email)).first():
        raise StaffError(f"{email} already has an account")
    user = StaffUser(email=email, name=name, password_hash=hash_password(password), role=role,
                     must_change_password=must_change_password)
    session.add(user)
    session.flush()
    return user


def ensure_first_supervisor(session: Session, email: str) -> tuple[StaffUser, str] | None:
    """Create a supervisor when there is no staff account at all: a random password of 120 bits (printed once by
    the caller), to be replaced by the person's own at the first sign-in."""
    if session.execute(select(func.count(StaffUser.id))).scalar_one():
        return None
    password = new_password()
    user = create_staff(session, email, "Supervisor", password, role="supervisor", must_change_password=True)
    return user, password
