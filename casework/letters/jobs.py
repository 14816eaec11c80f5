"""The render job: claim the letter row, render outside any transaction, store it once.

Whatever the retries, kills or duplicate messages, a letter row is written at most once: the final
update only succeeds for the claim that still holds the row. What a rendered letter means for its case
(a confirmation to send, a letter to deliver) is handed in by the process that runs the job, so this
module stays below the case lifecycle.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.cases.models import Case, CaseEvent
from casework.cases.states import Actor
from casework.config import Settings
from casework.jobs.claimed import ClaimedJob, JobFailure, run_claimed
from casework.letters.models import Letter
from casework.letters.render import RenderedLetter, renderer
from casework.runtime import Runtime

log = logging.getLogger("casework.letters")

LetterRendered = Callable[[Session, Settings, Case, Letter, dt.datetime], None]
"""What a stored letter means for its case; runs in the transaction that stores the letter."""


@dataclass(frozen=True)
class _Order:
    case_id: int
    kind: str
    snapshot: dict[str, Any]


@dataclass(frozen=True)
class RenderFailure(JobFailure):
    reason: str


class RenderLetter(ClaimedJob[_Order, RenderedLetter]):
    table = Letter
    done = "rendered"

    def __init__(self, runtime: Runtime, on_rendered: LetterRendered) -> None:
        super().__init__(runtime)
        self.on_rendered = on_rendered

    def load(self, session: Session, job_id: int) -> _Order:
        letter = session.execute(select(Letter).where(Letter.id == job_id)).scalar_one()
        return _Order(letter.case_id, letter.kind, letter.data_snapshot)

    def work(self, job_id: int, prepared: _Order) -> RenderedLetter | JobFailure:
        try:
            return renderer().render(prepared.kind, prepared.snapshot)
        except Exception as exc:
            log.exception("letter %s failed to render", job_id)
            return RenderFailure(f"{type(exc).__name__}: {exc}", permanent=False, reason=str(exc))

    def result(self, result: RenderedLetter, now: dt.datetime) -> dict[str, Any]:
        return {"status": "rendered", "pdf": result.pdf, "sha256": result.sha256, "pages": result.pages,
                "template_version": result.template_version, "rendered_at": now}

    def finished(self, session: Session, job_id: int, prepared: _Order, result: RenderedLetter,
                 now: dt.datetime) -> None:
        letter = session.execute(select(Letter).where(Letter.id == job_id)).scalar_one()
        case = session.execute(select(Case).where(Case.id == letter.case_id)).scalar_one()
        session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.SYSTEM, action="letter_rendered",
                              data={"letter_id": letter.id, "kind": letter.kind, "version": letter.version,
                                    "sha256": result.sha256, "pages": result.pages}))
        self.on_rendered(session, self.runtime.settings, case, letter, now)

    def failed(self, session: Session, job_id: int, prepared: _Order, failure: JobFailure, status: str) -> None:
        if status == "failed":
            reason = failure.reason if isinstance(failure, RenderFailure) else failure.error
            session.add(CaseEvent(case_id=prepared.case_id, actor=Actor.SYSTEM, action="letter_failed",
                                  data={"letter_id": job_id, "error": reason[:500]}))


def render_letter(runtime: Runtime, letter_id: int, on_rendered: LetterRendered) -> str:
    """Render one letter; returns what happened (``rendered``, ``skipped``, ``retry``, ``failed``)."""
    return run_claimed(RenderLetter(runtime, on_rendered), letter_id)
