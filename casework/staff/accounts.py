"""Creating staff accounts and checking passwords (argon2)."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casework.staff.models import ROLES, StaffUser

_hasher = PasswordHasher()


class StaffError(Exception):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: StaffUser, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except VerificationError:
        return False


def create_staff(
    session: Session, email: str, name: str, password: str, role: str = "caseworker"
) -> StaffUser:
    email = email.strip().lower()
    if role not in ROLES:
        raise StaffError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 12:
        raise StaffError("passwords have at least 12 characters")
    if session.execute(select(StaffUser.id).where(StaffUser.email == email)).first():
        raise StaffError(f"{email} already has an account")
    user = StaffUser(email=email, name=name, password_hash=hash_password(password), role=role)
    session.add(user)
    session.flush()
    return user


def ensure_first_supervisor(session: Session, email: str) -> tuple[StaffUser, str] | None:
    """Create a supervisor with a random password when there is no staff account at all."""
    if session.execute(select(func.count(StaffUser.id))).scalar_one():
        return None
    password = secrets.token_urlsafe(12)
    return create_staff(session, email, "Supervisor", password, role="supervisor"), password
