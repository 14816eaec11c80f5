"""Idempotency-Key for filing (API.md): whose key it is, and how long it lives.

A key belongs to the client that sent it, not to everyone: with one global namespace anybody could use a key
first and make another client's filing a 409. A caseworker's program is known by its staff token; an anonymous
client by the consumer the case is for (their e-mail address), so a repeat with another body by the same
client is still the 409 API.md promises, and nobody can spoil a key without knowing both it and the address.
Scopes are keyed digests (HMAC under the server key): neither the token nor the address is stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from sqlalchemy import delete
from sqlalchemy.orm import Session

from casework.cases.models import IdempotencyKey
from casework.db import utcnow, writing_session
from casework.runtime import Runtime

REPLAY_WINDOW = dt.timedelta(hours=24)


def _digest(secret_key: str, kind: str, value: str) -> str:
    return hmac.new(secret_key.encode(), f"idempotency-scope:{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def client_scope(secret_key: str, *, staff_token: str | None, consumer_email: str) -> str:
    """The namespace of a filing's key: the live staff token that sent it, else the consumer's address."""
    if staff_token is not None:
        return "staff:" + _digest(secret_key, "staff", staff_token)
    return "consumer:" + _digest(secret_key, "consumer", consumer_email.strip().lower())


def purge_expired(session: Session, now: dt.datetime) -> int:
    """Delete the keys past the replay window (over ``ix_idempotency_keys_created_at``); returns how many."""
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now - REPLAY_WINDOW)
                             .execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


def run_purge(runtime: Runtime) -> int:
    """Beat: the periodic sweep purges expired keys in a transaction of its own."""
    with writing_session(runtime.sessions) as session, session.begin():
        return purge_expired(session, utcnow())
