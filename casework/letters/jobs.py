"""The render job: claim the letter row, render outside any transaction, store it once.

Whatever the retries, kills or duplicate messages, a letter row is written at most once: the final
update only succeeds for the claim that still holds the row.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import select

from casework.cases.models import Case, CaseEvent
from casework.cases.states import Actor
from casework.cases.workflow import after_letter_rendered
from casework.db import utcnow, writing_session
from casework.jobs.claims import claim, fail_attempt, finish
from casework.letters.models import Letter
from casework.letters.render import renderer
from casework.runtime import Runtime

log = logging.getLogger("casework.letters")


def render_letter(runtime: Runtime, letter_id: int) -> str:
    """Render one letter; returns what happened (``rendered``, ``skipped``, ``retry``, ``failed``)."""
    settings = runtime.settings
    with writing_session(runtime.sessions) as session, session.begin():
        token = claim(session, Letter, letter_id, settings.job_lease_seconds)
        if token is None:
            return "skipped"
        letter = session.execute(select(Letter).where(Letter.id == letter_id)).scalar_one()
        kind, snapshot = letter.kind, letter.data_snapshot
    if settings.fault_pause_after_claim_seconds:
        time.sleep(settings.fault_pause_after_claim_seconds)

    try:
        rendered = renderer().render(kind, snapshot)
    except Exception as exc:
        log.exception("letter %s failed to render", letter_id)
        with writing_session(runtime.sessions) as session, session.begin():
            status = fail_attempt(session, Letter, letter_id, token, f"{type(exc).__name__}: {exc}",
                                  settings.job_max_attempts)
            if status == "failed":
                case_id = session.execute(select(Letter.case_id).where(Letter.id == letter_id)).scalar_one()
                session.add(CaseEvent(case_id=case_id, actor=Actor.SYSTEM, action="letter_failed",
                                      data={"letter_id": letter_id, "error": str(exc)[:500]}))
        return "failed" if status == "failed" else "retry"

    now = utcnow()
    with writing_session(runtime.sessions) as session, session.begin():
        stored = finish(
            session, Letter, letter_id, token,
            status="rendered", pdf=rendered.pdf, sha256=rendered.sha256, pages=rendered.pages,
            template_version=rendered.template_version, rendered_at=now,
        )
        if not stored:
            log.info("letter %s was finished by another claim", letter_id)
            return "skipped"
        letter = session.execute(select(Letter).where(Letter.id == letter_id)).scalar_one()
        case = session.execute(select(Case).where(Case.id == letter.case_id)).scalar_one()
        session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.SYSTEM, action="letter_rendered",
                              data={"letter_id": letter.id, "kind": letter.kind, "version": letter.version,
                                    "sha256": rendered.sha256, "pages": rendered.pages}))
        after_letter_rendered(session, settings, case, letter, now)
    return "rendered"
