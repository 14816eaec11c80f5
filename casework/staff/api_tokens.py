"""Staff API tokens: ``cwst_`` plus 256 random bits, shown once, stored as HMAC-SHA-256 under the server key.

The same scheme as consumers' tokens (see :mod:`casework.cases.tokens`): the random part makes a slow hash
pointless, and a leaked table is useless without the key. A token is only as good as its owner's account:
disabling the account or resetting its password revokes every token it has (enabling it again brings none back),
and a token whose account is disabled is refused at use whatever its row says. Every token expires (its maker
chooses when, up to a year: a token forgotten in a script does not work for ever), and a read-only one is
refused every change.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from casework.cases.tokens import token_hmac
from casework.staff.models import StaffApiToken, StaffUser

TOKEN_PREFIX = "cwst_"  # noqa: S105 - the public marker of a staff token, not a secret
SHOWN_PREFIX = 10
MAX_TOKEN_LENGTH = 100
NAME_MAX = 100
LIFETIME_DAYS = 90
LIFETIME_DAYS_MAX = 365
# last_used_at is a hint for people ("is this token still in use?"), not an audit trail: writing it on
# every request would turn each API read into a write.
USE_GRANULARITY = dt.timedelta(minutes=1)


class TokenRefused(Exception):
    """This person may not revoke that token (HTTP 403)."""


@dataclasses.dataclass(frozen=True)
class Bearer:
    """Who a live token acts for, and whether it may change anything."""

    user: StaffUser
    read_only: bool


def issue_token(session: Session, user: StaffUser, name: str, secret_key: str, now: dt.datetime, *,
                days: int = LIFETIME_DAYS, read_only: bool = False) -> tuple[str, StaffApiToken]:
    """A new token for ``user`` that lives ``days`` (1 to LIFETIME_DAYS_MAX): the secret (for the caller to show
    once) and its stored row."""
    if not 1 <= days <= LIFETIME_DAYS_MAX:
        raise ValueError(f"a token lives 1 to {LIFETIME_DAYS_MAX} days, not {days}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = StaffApiToken(staff_id=user.id, name=name, token_hmac=token_hmac(secret_key, token),
                        prefix=token[:SHOWN_PREFIX], created_at=now, expires_at=now + dt.timedelta(days=days),
                        read_only=read_only)
    session.add(row)
    session.flush()
    return token, row


def may_revoke(row: StaffApiToken, by: StaffUser) -> bool:
    return row.staff_id == by.id or by.role == "supervisor"


def revoke(session: Session, row: StaffApiToken, by: StaffUser, now: dt.datetime) -> None:
    """Ends the token for good; one's own, or anyone's by a supervisor. Revoking twice changes nothing."""
    if not may_revoke(row, by):
        raise TokenRefused("Only the token's owner or a supervisor can revoke it.")
    if row.revoked_at is None:
        row.revoked_at = now
        session.flush()


def revoke_all(session: Session, staff_id: int, now: dt.datetime) -> None:
    """Every live token of this account ends: its password was reset or it was disabled, so whoever made
    them may no longer be its owner."""
    session.execute(update(StaffApiToken).where(StaffApiToken.staff_id == staff_id, StaffApiToken.revoked_at.is_(None))
                    .values(revoked_at=now).execution_options(synchronize_session=False))


def looks_like_staff_token(token: str) -> bool:
    return token.startswith(TOKEN_PREFIX) and len(token) <= MAX_TOKEN_LENGTH


# Built once (only the digest changes per request): every staff API call runs it.
_LIVE_TOKEN = (
    select(StaffApiToken.id, StaffApiToken.last_used_at, StaffApiToken.read_only, StaffUser)
    .join(StaffUser, StaffUser.id == StaffApiToken.staff_id)
    .where(StaffApiToken.token_hmac == bindparam("digest"), StaffApiToken.revoked_at.is_(None),
           StaffApiToken.expires_at > bindparam("now", type_=StaffApiToken.expires_at.type),
           StaffUser.active.is_(True))
)


def staff_for_token(session: Session, secret_key: str, token: str, now: dt.datetime) -> Bearer | None:
    """The active account behind a live token, or None (unknown, revoked, expired, or the account is
    disabled)."""
    if not looks_like_staff_token(token):
        return None
    found = session.execute(_LIVE_TOKEN, {"digest": token_hmac(secret_key, token), "now": now}).first()
    if found is None:
        return None
    token_id, last_used_at, read_only, user = found
    if last_used_at is None or last_used_at <= now - USE_GRANULARITY:
        _mark_used(session, token_id, now)
    return Bearer(user, read_only)


def _mark_used(session: Session, token_id: int, now: dt.datetime) -> None:
    """A short write transaction of its own, in the request's session: the lookup's read is ended first (on
    SQLite a reading transaction cannot start writing once another connection has written), and no row lock
    is held while the request runs."""
    session.commit()
    session.execute(update(StaffApiToken).where(StaffApiToken.id == token_id).values(last_used_at=now)
                    .execution_options(synchronize_session=False))
    session.commit()


def tokens_for(session: Session, user: StaffUser) -> list[tuple[StaffApiToken, StaffUser]]:
    """The tokens this person may see: their own, or (a supervisor) everyone's, newest first."""
    query = (select(StaffApiToken, StaffUser).join(StaffUser, StaffUser.id == StaffApiToken.staff_id)
             .order_by(StaffApiToken.id.desc()))
    if user.role != "supervisor":
        query = query.where(StaffApiToken.staff_id == user.id)
    return [(row.StaffApiToken, row.StaffUser) for row in session.execute(query)]
