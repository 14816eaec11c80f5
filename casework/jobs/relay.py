"""The relay: every pending job row whose wake-up was lost, or whose retry is due, is dispatched again.

Run by beat (one process). Rows are picked over the partial ``relay_at`` index, with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL so overlapping sweeps never pick the same rows, and each
picked row's ``relay_at`` moves forward so it is not dispatched again before the threshold. The tables
are handed in by the process that runs beat, so the relay knows no feature's models.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import create_engine, or_, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from casework.db import is_postgresql, utcnow, writing_session
from casework.jobs.claims import PENDING
from casework.jobs.dispatch import dispatch_after_commit
from casework.runtime import Runtime

log = logging.getLogger("casework.jobs")

BATCH = 500


class JobKind(NamedTuple):
    """A table of job rows (with :class:`~casework.jobs.models.JobMixin`) and the task that works one row by id."""

    table: type[Any]
    task: str


def relay_due(session: Session, kinds: Sequence[JobKind], relay_after_seconds: float,
              now: dt.datetime | None = None) -> dict[str, int]:
    """Mark due rows as dispatched and queue their wake-ups for after commit; returns counts by task."""
    now = now or utcnow()
    next_relay = now + dt.timedelta(seconds=relay_after_seconds)
    # A new row was dispatched when it was committed: it is only lost if still untouched after the threshold.
    # (Without this, a busy queue had every fresh row dispatched twice, and the extra tasks slowed it more.)
    made_before = now - dt.timedelta(seconds=relay_after_seconds)
    counts: dict[str, int] = {}
    for model, task in kinds:
        query = (
            select(model.id)
            .where(model.status == PENDING, model.relay_at <= now,
                   or_(model.attempts > 0, model.created_at <= made_before),
                   or_(model.lease_until.is_(None), model.lease_until < now))
            .order_by(model.relay_at)
            .limit(BATCH)
        )
        if is_postgresql(session):
            query = query.with_for_update(skip_locked=True)
        ids = list(session.execute(query).scalars())
        if not ids:
            continue
        session.execute(
            update(model).where(model.id.in_(ids)).values(relay_at=next_relay)
            .execution_options(synchronize_session=False)
        )
        for job_id in ids:
            dispatch_after_commit(session, task, [job_id])
        counts[task] = len(ids)
    return counts


def run_relay(runtime: Runtime, kinds: Sequence[JobKind]) -> dict[str, int]:
    with writing_session(runtime.sessions) as session, session.begin():
        counts = relay_due(session, kinds, runtime.settings.relay_after_seconds)
    if counts:
        log.info("relay dispatched %s", counts)
    if runtime.settings.embedded_broker:
        purge_delivered_messages(runtime.settings.broker_url)
    return counts


def purge_delivered_messages(broker_url: str, older_than_minutes: int = 10) -> int:
    """The embedded SQLite broker keeps delivered messages forever; drop the old ones."""
    engine = _broker_engine(broker_url)
    cutoff = dt.datetime.now() - dt.timedelta(minutes=older_than_minutes)  # kombu stores local naive time
    try:
        with engine.begin() as connection:
            result = connection.execute(
                text("DELETE FROM kombu_message WHERE visible = 0 AND timestamp < :cutoff"),
                {"cutoff": cutoff},
            )
            return int(result.rowcount)
    except SQLAlchemyError as exc:  # the table may not exist yet
        log.debug("broker housekeeping skipped: %s", exc)
        return 0


@cache
def _broker_engine(broker_url: str) -> Engine:
    return create_engine(broker_url.split("+", 1)[1], connect_args={"timeout": 30}, hide_parameters=True)
