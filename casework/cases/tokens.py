"""Consumer access tokens: random, shown once, stored as HMAC-SHA-256 under the server key.

An HMAC (not a slow password hash) because the token already has 256 random bits: the lookup is
an index probe, and a leaked table is useless without the key.

A link lives while it is used: one not followed for CONSUMER_LINK_IDLE_DAYS stops working. Links are revoked
when the case's personal data is deleted, when the consumer confirms (the links made before then may have been
seen by whoever typed the address), when the consumer signs out everywhere, and when new links are e-mailed.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from casework.cases.models import AccessToken, Case
from casework.config import Settings
from casework.db import SQLITE_BUSY_MS, WRITE_INTENT, utcnow
from casework.mail.sealed import remember

log = logging.getLogger("casework.cases")

CONSUMER_LINK_IDLE_DAYS = 90
# Following a link renews it at most this often: most page views write nothing.
RENEW_EVERY = dt.timedelta(days=1)
# How long a page view waits for a concurrent write before it leaves the renewal for another day.
RENEW_WAIT_MS = 1000


def token_hmac(secret_key: str, token: str) -> bytes:
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).digest()


def new_token(secret_key: str) -> tuple[str, bytes]:
    """A fresh token and the digest that is stored in its place."""
    token = secrets.token_urlsafe(32)
    return token, token_hmac(secret_key, token)


def issue_token(session: Session, case: Case, secret_key: str, now: dt.datetime | None = None) -> str:
    token, digest = new_token(secret_key)
    now = now or utcnow()
    session.add(AccessToken(case_id=case.id, token_hmac=digest, created_at=now, last_used_at=now))
    return remember(session, token)


def status_url(base_url: str, token: str) -> str:
    """The consumer's private page for a case: the one place its address is spelled."""
    return f"{base_url}/c/{token}"


def status_link(session: Session, settings: Settings, case: Case) -> str:
    """A fresh private link to the case's page, for an e-mail (the token is shown once, so each gets its own)."""
    return status_url(settings.base_url, issue_token(session, case, settings.secret_key))


class LinkState(enum.Enum):
    LIVE = "live"
    EXPIRED = "expired"  # not used for CONSUMER_LINK_IDLE_DAYS
    REVOKED = "revoked"
    ERASED = "erased"  # the case's personal data is deleted: whatever the token, nothing more is done with it


@dataclass(frozen=True)
class FoundToken:
    """A token that was once issued, its case, and whether it works now."""

    case: Case
    token_id: int
    state: LinkState


def idle_cutoff(now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(days=CONSUMER_LINK_IDLE_DAYS)


def find_token(session: Session, secret_key: str, token: str, now: dt.datetime) -> FoundToken | None:
    """The issued token and its state, or None for a string that was never a token; renews a live one."""
    if not token or len(token) > 100:
        return None
    row = session.execute(
        select(Case, AccessToken.id, AccessToken.revoked_at, AccessToken.last_used_at)
        .join(AccessToken, AccessToken.case_id == Case.id)
        .where(AccessToken.token_hmac == token_hmac(secret_key, token))
    ).one_or_none()
    if row is None:
        return None
    case, token_id, revoked_at, last_used_at = row
    if case.personal_data_deleted_at is not None:
        state = LinkState.ERASED
    elif revoked_at is not None:
        state = LinkState.REVOKED
    elif last_used_at < idle_cutoff(now):
        state = LinkState.EXPIRED
    else:
        state = LinkState.LIVE
        if last_used_at < now - RENEW_EVERY:
            _renew(session, token_id, now)
    return FoundToken(case, token_id, state)


def case_for_token(session: Session, secret_key: str, token: str) -> Case | None:
    """The case of a live token: never an expired or revoked one, nor one whose personal data is deleted."""
    found = find_token(session, secret_key, token, utcnow())
    return found.case if found is not None and found.state is LinkState.LIVE else None


def _renew(session: Session, token_id: int, now: dt.datetime) -> None:
    """Mark the link used. A request that writes does it in its own transaction; a read (which commits nothing,
    and on SQLite must not turn into a write) in a short one of its own that waits at most RENEW_WAIT_MS for a
    concurrent write and is given up after: the link then stays as it was, at worst a day short of its life."""
    renewal = (update(AccessToken).where(AccessToken.id == token_id, AccessToken.last_used_at < now - RENEW_EVERY)
               .values(last_used_at=now))
    if session.connection().get_execution_options().get(WRITE_INTENT):
        session.execute(renewal.execution_options(synchronize_session=False))
        return
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.connect() as connection:
            if sqlite:  # set before the transaction begins: BEGIN IMMEDIATE is where it waits
                _busy_timeout(connection, RENEW_WAIT_MS)
            try:
                connection.execution_options(**{WRITE_INTENT: True})
                if not sqlite:
                    connection.exec_driver_sql(f"SET LOCAL lock_timeout = {RENEW_WAIT_MS}")
                connection.execute(renewal)
                connection.commit()
            finally:
                if sqlite:  # the pooled connection goes back with the usual wait
                    _busy_timeout(connection, SQLITE_BUSY_MS)
    except DBAPIError as error:
        log.info("link use not recorded now: %s", type(error).__name__)


def _busy_timeout(connection: Connection, milliseconds: int) -> None:
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"PRAGMA busy_timeout={milliseconds}")
    finally:
        cursor.close()


def revoke_tokens(session: Session, case_ids: list[int], now: dt.datetime, *, keep: int | None = None) -> None:
    """Every live link of these cases stops working (but ``keep``, a token id)."""
    if not case_ids:
        return
    condition: list[ColumnElement[bool]] = [AccessToken.case_id.in_(case_ids), AccessToken.revoked_at.is_(None)]
    if keep is not None:
        condition.append(AccessToken.id != keep)
    session.execute(update(AccessToken).where(*condition).values(revoked_at=now)
                    .execution_options(synchronize_session=False))
