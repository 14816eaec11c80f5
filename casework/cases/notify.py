"""Keeping the consumer informed: the status e-mails, and the moves that set them off.

Just above the state machine: a move here is a transition plus the consumer's e-mail about it. The
settings are passed in by the caller (a request, a task), never read from the app or the session.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casework.cases.models import Case, CaseEvent
from casework.cases.states import Actor, CaseStatus, Outcome
from casework.cases.tokens import status_link
from casework.cases.transitions import transition
from casework.catalog import default_catalog
from casework.config import Settings
from casework.letters.plan import letter_plan_for_case
from casework.mail.models import OutboundEmail
from casework.mail.services import queue_email
from casework.presentation import outcome_words

log = logging.getLogger("casework.cases.notify")

STATUS_MAILS = frozenset({"delivered", "answer_due", "follow_up", "resolved"})


def move(session: Session, settings: Settings | None, case: Case, target: CaseStatus, actor: Actor, action: str,
         now: dt.datetime, outcome: Outcome | None = None, data: dict[str, Any] | None = None,
         staff_id: int | None = None) -> None:
    """A transition, and the consumer's e-mail when it is one they hear about.

    Without settings (a session made outside the app) the move is made and the e-mail skipped, loudly.
    """
    transition(session, case, target, actor, action, now, outcome=outcome, data=data, staff_id=staff_id)
    if settings is None:
        log.warning("no settings given; no e-mail about case %s becoming %s", case.id, target.value)
        return
    notify_change(session, settings, case, action, now, data)


def notify_change(session: Session, settings: Settings, case: Case, action: str, now: dt.datetime,
                  data: Mapping[str, Any] | None = None) -> None:
    """After a status change: delivery, a delivered follow-up and resolution are e-mailed to the consumer."""
    if case.status is CaseStatus.SENT and action == "delivered":
        what = "delivered"
    elif case.status is CaseStatus.FOLLOW_UP and action == "delivered":
        what = "follow_up"
    elif case.status is CaseStatus.RESOLVED:
        what = "resolved"
    else:
        return
    notify_status(session, settings, case, what, now, answer_due=str((data or {}).get("answer_due") or ""))


def _reopens(session: Session, case: Case) -> int:
    return int(session.execute(select(func.count(CaseEvent.id)).where(
        CaseEvent.case_id == case.id, CaseEvent.action == "reopened")).scalar_one())


def _discriminator(session: Session, case: Case, what: str, now: dt.datetime) -> str:
    if what == "answer_due":
        return (case.answer_due_on or now.date()).isoformat()
    if what == "follow_up":
        return str(case.follow_ups_sent)
    return f"r{_reopens(session, case)}"  # a reopened case is delivered or resolved anew


def notify_status(session: Session, settings: Settings, case: Case, what: str, now: dt.datetime, *,
                  discriminator: str | None = None, answer_due: str = "") -> OutboundEmail | None:
    """Queue the consumer's e-mail for a status change (``delivered``, ``answer_due``, ``follow_up``,
    ``resolved``), once per event: the idempotency key, and so the Message-ID, is stable.

    "filed" has no e-mail here: letter cases get the confirmation e-mail, and filing stays lean.
    """
    if what not in STATUS_MAILS:
        raise ValueError(f"no status e-mail for {what!r}")
    if case.personal_data_deleted_at is not None:
        return None
    if what == "answer_due" and case.reminders_unsubscribed_at is not None:
        return None
    key = f"status:{case.id}:{what}:{discriminator or _discriminator(session, case, what, now)}"
    existing = session.execute(select(OutboundEmail).where(OutboundEmail.idempotency_key == key)).scalar_one_or_none()
    if existing is not None:
        return existing
    provider = default_catalog().get(case.provider_slug)
    company = (case.company or {}).get("name") or (provider.name if provider else case.provider_slug)
    link = status_link(session, settings, case)
    due = answer_due or (case.answer_due_on.isoformat() if case.answer_due_on else "")
    outcome = outcome_words(case.outcome).lower() if isinstance(case.outcome, Outcome) else ""
    return queue_email(
        session, settings, key=key, kind=f"status_{what}", to=[case.consumer_email], template=f"status_{what}",
        context={"case": case, "company": company,
                 "status_url": link, "answer_due": due, "outcome": outcome,
                 "follow_ups": case.follow_ups_sent, "has_letter": letter_plan_for_case(case).letter},
        now=now, case_id=case.id,
    )
