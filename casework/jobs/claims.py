"""Atomic claims on job rows.

One conditional ``UPDATE ... RETURNING``: only a pending row whose lease is free can be claimed,
so two workers handed the same id never both proceed. On PostgreSQL the candidate row is picked
with ``FOR UPDATE SKIP LOCKED`` so a claimer never waits behind another; on SQLite the single
writer lock gives the same guarantee.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from casework.db import is_postgresql, utcnow

PENDING = "pending"


def claim(session: Session, model: type[Any], job_id: int, lease_seconds: float) -> str | None:
    """Claim a pending job for ``lease_seconds``; return the claim token, or None if not claimable."""
    now = utcnow()
    token = secrets.token_hex(16)
    free = or_(model.lease_until.is_(None), model.lease_until < now)
    if is_postgresql(session):
        target = (
            select(model.id)
            .where(model.id == job_id, model.status == PENDING, free)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        condition = model.id == target
    else:
        condition = (model.id == job_id) & (model.status == PENDING) & free
    lease_until = now + dt.timedelta(seconds=lease_seconds)
    stmt = (
        update(model)
        .where(condition)
        .values(
            lease_until=lease_until,
            claim_token=token,
            attempts=model.attempts + 1,
            relay_at=lease_until,
        )
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    claimed = session.execute(stmt).scalar_one_or_none()
    return token if claimed is not None else None


def finish(session: Session, model: type[Any], job_id: int, token: str, **values: Any) -> bool:
    """Write a job's result only if this claim still holds it; False means another claim won."""
    stmt = (
        update(model)
        .where(model.id == job_id, model.status == PENDING, model.claim_token == token)
        .values(lease_until=None, claim_token=None, last_error=None, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(session.execute(stmt).rowcount == 1)  # type: ignore[attr-defined]


def backoff_seconds(attempts: int) -> float:
    """Retry delay after ``attempts`` tries: 1, 2, 4 ... minutes, at most an hour."""
    return float(min(60 * 2 ** max(attempts - 1, 0), 3600))


def fail_attempt(
    session: Session, model: type[Any], job_id: int, token: str, error: str, max_attempts: int
) -> str:
    """Record a failed try: schedule a retry through the relay, or give up after ``max_attempts``.

    Returns the row's new status (``pending`` or ``failed``).
    """
    row = session.execute(
        select(model.attempts).where(model.id == job_id, model.claim_token == token)
    ).scalar_one_or_none()
    if row is None:
        return "lost"
    attempts = int(row)
    status = "failed" if attempts >= max_attempts else PENDING
    relay_at = utcnow() + dt.timedelta(seconds=backoff_seconds(attempts))
    session.execute(
        update(model)
        .where(model.id == job_id, model.claim_token == token)
        .values(status=status, lease_until=None, claim_token=None, last_error=error[:2000], relay_at=relay_at)
        .execution_options(synchronize_session=False)
    )
    return status
