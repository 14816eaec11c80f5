"""Claim → work → finish, once for every kind of job row.

The row is claimed in one short transaction, the slow work (rendering, talking to SMTP) runs outside any
transaction, and the result is written in a second one only if this claim still holds the row, together with
whatever that result means to the layer above (:meth:`ClaimedJob.finished`), so the two commit or fail as one.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy.orm import Session

from casework.db import utcnow, writing_session
from casework.jobs.claims import claim, fail_attempt, finish
from casework.runtime import Runtime

log = logging.getLogger("casework.jobs")

Prepared = TypeVar("Prepared")
Result = TypeVar("Result")


@dataclass(frozen=True)
class JobFailure:
    """Why a try did not work, and whether trying again could help (a permanent failure fails the row at once)."""

    error: str
    permanent: bool


class ClaimedJob(ABC, Generic[Prepared, Result]):
    """One kind of job: what to read under the claim, the work, and what its result and its failure write."""

    table: ClassVar[type[Any]]
    done: ClassVar[str]  # what run_claimed returns when the result was stored

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @abstractmethod
    def load(self, session: Session, job_id: int) -> Prepared:
        """Read what the work needs, in the claim's transaction."""

    @abstractmethod
    def work(self, job_id: int, prepared: Prepared) -> Result | JobFailure:
        """Do the slow part outside any transaction; expected failures are returned, not raised."""

    @abstractmethod
    def result(self, result: Result, now: dt.datetime) -> dict[str, Any]:
        """The row's columns that hold the result."""

    @abstractmethod
    def finished(self, session: Session, job_id: int, prepared: Prepared, result: Result, now: dt.datetime) -> None:
        """Record what the result means, in the transaction that stores it."""

    def failed(self, session: Session, job_id: int, prepared: Prepared, failure: JobFailure, status: str) -> None:
        """Record a failed try (the row is already ``pending`` again or ``failed``), in the same transaction."""


def run_claimed(job: ClaimedJob[Prepared, Result], job_id: int) -> str:
    """Run one job row; returns ``job.done``, ``skipped`` (not claimable, or another claim won), ``retry`` or
    ``failed``."""
    runtime = job.runtime
    settings = runtime.settings
    with writing_session(runtime.sessions) as session, session.begin():
        token = claim(session, job.table, job_id, settings.job_lease_seconds)
        if token is None:
            return "skipped"
        prepared = job.load(session, job_id)
    if settings.fault_pause_after_claim_seconds:
        time.sleep(settings.fault_pause_after_claim_seconds)

    outcome = job.work(job_id, prepared)
    if isinstance(outcome, JobFailure):
        with writing_session(runtime.sessions) as session, session.begin():
            status = fail_attempt(session, job.table, job_id, token, outcome.error,
                                  0 if outcome.permanent else settings.job_max_attempts)
            if status == "lost":
                return "skipped"
            job.failed(session, job_id, prepared, outcome, status)
        return "failed" if status == "failed" else "retry"

    now = utcnow()
    with writing_session(runtime.sessions) as session, session.begin():
        if not finish(session, job.table, job_id, token, **job.result(outcome, now)):
            log.info("%s %s was finished by another claim", job.table.__tablename__, job_id)
            return "skipped"
        job.finished(session, job_id, prepared, outcome, now)
    return job.done
