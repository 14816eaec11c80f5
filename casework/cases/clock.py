"""The company's clock: when its answer is due, what its silence sets off, and when a resolved case closes.

Delivering a letter starts the clock and a recorded answer stops it. The sweep (beat, every minute) sends
one follow-up for the first silence and only flags escalation for the next: the final notice and the
evidence pack are a caseworker's decision. Follow-ups and final notices go out by the letter's channel
without a new confirmation, because the consumer already confirmed sending in their name.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.orm import Session

from casework.cases import entered_dates
from casework.cases.deadlines import act_by_words
from casework.cases.delivery import (
    LETTER_TO_COMPANY,
    TRACKING_MAX,
    answer_due,
    channel_address,
    delivery_channel,
    letter_filename,
    queue_letter_to_company,
    snapshot_channel,
)
from casework.cases.errors import CaseError
from casework.cases.models import Case, CaseEvent, CompanyResponse, Delivery
from casework.cases.notify import move, notify_status
from casework.cases.states import Actor, CaseStatus
from casework.cases.tokens import status_link
from casework.cases.transitions import FINISHED, CaseConflict, transition
from casework.config import Settings
from casework.db import utcnow, writing_session
from casework.letters.models import Letter
from casework.letters.services import latest_letter, request_letter
from casework.mail.services import queue_email
from casework.runtime import Runtime

log = logging.getLogger("casework.clock")

REMINDER_KINDS = ("follow_up", "final_notice")
REMINDER_TO_COMPANY = "reminder_to_company"
REMINDER_TO_SUBMIT = "reminder_to_submit"
CLOCK_STATUSES = (CaseStatus.SENT, CaseStatus.FOLLOW_UP)
SWEEP_BATCH = 50


def start_clock(case: Case, delivered_at: dt.datetime) -> None:
    case.answer_due_on = answer_due(case, delivered_at)


def stop_clock(case: Case) -> None:
    """The company answered: whatever it said, the silence rules no longer apply."""
    case.answer_due_on = None


def answered_since_delivery(session: Session, case: Case) -> bool:
    """Any answer recorded after the first delivery (responses are only recorded for confirmed cases)."""
    first = session.execute(select(func.min(Delivery.at)).where(Delivery.case_id == case.id)).scalar_one()
    if first is None:
        return False
    return bool(session.execute(select(exists().where(
        CompanyResponse.case_id == case.id, CompanyResponse.created_at >= first))).scalar_one())


# --- delivery of follow-ups and final notices -------------------------------------------------------------


def letter_delivered(session: Session, settings: Settings | None, case: Case, letter: Letter, at: dt.datetime,
                     now: dt.datetime, data: dict[str, Any], actor: Actor = Actor.SYSTEM,
                     staff_id: int | None = None) -> None:
    """A letter reached the company: the clock (re)starts; a delivered follow-up moves the case to follow_up."""
    if letter.kind == "cancellation":
        if case.status is CaseStatus.SENT:
            start_clock(case, at)
        return
    if letter.kind not in REMINDER_KINDS:
        return
    info = {**data, "letter_id": letter.id, "kind": letter.kind, "at": at.isoformat()}
    if case.status in FINISHED or answered_since_delivery(session, case):
        session.add(CaseEvent(case_id=case.id, at=now, actor=actor, actor_staff_id=staff_id, action="delivered",
                              data=info))
        return
    due = answer_due(case, at)
    case.answer_due_on = due
    info["answer_due"] = due.isoformat()
    if case.status is CaseStatus.SENT and letter.kind == "follow_up":
        move(session, settings, case, CaseStatus.FOLLOW_UP, actor, "delivered", now, data=info,
             staff_id=staff_id)
    else:
        session.add(CaseEvent(case_id=case.id, at=now, actor=actor, actor_staff_id=staff_id, action="delivered",
                              data=info))


def letter_rendered(session: Session, settings: Settings, case: Case, letter: Letter, now: dt.datetime) -> None:
    """A rendered follow-up or final notice goes out by its channel: e-mailed to the company, or handed
    to the consumer to submit by web form or post (and flagged to caseworkers)."""
    if letter.kind not in REMINDER_KINDS or case.status in FINISHED or case.personal_data_deleted_at is not None:
        return
    kind, address = delivery_channel(letter)
    if kind == "email":
        queue_letter_to_company(session, settings, case, letter, now, template=REMINDER_TO_COMPANY,
                                kind=LETTER_TO_COMPANY)
        return
    attachment = [{"letter_id": letter.id, "filename": letter_filename(case, letter)}]
    status_url = status_link(session, settings, case)
    queue_email(
        session, settings, key=f"letter:{letter.id}:to_submit", kind=REMINDER_TO_SUBMIT, to=[case.consumer_email],
        template=REMINDER_TO_SUBMIT,
        context={"case": case, "letter": letter, "snapshot": letter.data_snapshot, "channel": kind,
                 "address": address, "status_url": status_url, "act_by": act_by_words(case, now)},
        now=now, case_id=case.id, attachments=attachment,
    )
    session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.SYSTEM, action=f"{letter.kind}_to_submit",
                          data={"letter_id": letter.id, "channel": kind}))


def awaiting_submission(session: Session, case: Case) -> Letter | None:
    """The rendered follow-up or final notice the consumer (or a caseworker) still has to submit."""
    if case.status in FINISHED:
        return None
    for kind in ("final_notice", "follow_up"):
        letter = latest_letter(session, case.id, kind)
        if (letter is not None and letter.status == "rendered" and letter.sent_at is None
                and delivery_channel(letter)[0] != "email"):
            return letter
    return None


def record_reminder_submission(session: Session, settings: Settings, case: Case, letter: Letter, channel: str,
                               at: dt.datetime, confirmation: str | None, actor: Actor, now: dt.datetime,
                               staff_id: int | None = None) -> Delivery:
    """"I have submitted it" for a follow-up or final notice: its delivery, and the clock restarts."""
    entered_dates.check_delivery(at, case, now)
    if channel == "post" and confirmation and len(confirmation) > TRACKING_MAX:
        raise CaseError("A tracking number has at most 100 characters.",
                        {"confirmation": f"at most {TRACKING_MAX} characters for a tracking number"})
    delivery = Delivery(case_id=case.id, letter_id=letter.id, channel=channel,
                        address=channel_address(case, letter, channel)[:2000], at=at, by=actor,
                        by_staff_id=staff_id, confirmation=confirmation,
                        tracking_number=confirmation if channel == "post" else None)
    session.add(delivery)
    letter.sent_at = at
    data: dict[str, Any] = {"channel": channel}
    if channel == "post" and confirmation:
        data["tracking_number"] = confirmation
    letter_delivered(session, settings, case, letter, at, now, data, actor, staff_id)
    return delivery


def send_final_notice(session: Session, settings: Settings, case: Case, staff_id: int, now: dt.datetime) -> Letter:
    """A caseworker's decision after silence: the final notice, delivered like the follow-up once rendered."""
    if case.status not in (CaseStatus.SENT, CaseStatus.FOLLOW_UP, CaseStatus.ESCALATED):
        raise CaseConflict("A final notice goes only to a company that has the letter and has not "
                           "settled the case.")
    previous = latest_letter(session, case.id, "final_notice")
    if previous is not None and previous.status != "failed":
        raise CaseConflict("A final notice was already requested for this case.")
    try:
        letter = request_letter(session, case, "final_notice", now, base_url=settings.base_url)
    except ValueError:
        raise CaseConflict("The case has no rendered cancellation letter to refer to.") from None
    case.updated_at = now
    session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.STAFF, actor_staff_id=staff_id,
                          action="final_notice_requested", data={"letter_id": letter.id}))
    return letter


# --- the sweep -------------------------------------------------------------------------------------------


@dataclass
class _Batch:
    done: int = 0
    last_id: int = 0


def run_clock_sweep(runtime: Runtime, now: dt.datetime | None = None) -> dict[str, int]:
    """Beat: act on every passed answer date, then close old resolved cases; each batch its own transaction.

    A batch killed before its commit leaves nothing behind; the next sweep does it once, because everything
    it does also clears the condition that selected the case.
    """
    now = now or utcnow()
    counts = {"follow_ups": 0, "escalations": 0, "closed": 0}
    last_id = 0
    while True:
        with writing_session(runtime.sessions) as session, session.begin():
            batch = overdue_batch(session, runtime.settings, now, counts, last_id)
        if batch.done < SWEEP_BATCH:
            break
        last_id = batch.last_id
    while True:
        with writing_session(runtime.sessions) as session, session.begin():
            closed = close_batch(session, runtime.settings, now)
        counts["closed"] += closed
        if closed < SWEEP_BATCH:
            break
    return counts


def overdue_batch(session: Session, settings: Settings, now: dt.datetime, counts: dict[str, int],
                  after_id: int = 0) -> _Batch:
    """One batch of cases whose answer date may have passed (checked precisely in each consumer's zone)."""
    horizon = now.astimezone(dt.UTC).date() + dt.timedelta(days=1)
    cases = list(session.scalars(
        select(Case).where(Case.answer_due_on.is_not(None), Case.answer_due_on < horizon,
                           Case.status.in_(CLOCK_STATUSES), Case.id > after_id)
        .order_by(Case.id).limit(SWEEP_BATCH).with_for_update(skip_locked=True)
    ))
    for case in cases:
        due = case.answer_due_on
        if due is None or due >= now.astimezone(ZoneInfo(case.timezone)).date():
            continue
        if answered_since_delivery(session, case):
            stop_clock(case)
            continue
        on_silence(session, settings, case, due, now, counts)
    return _Batch(len(cases), cases[-1].id if cases else after_id)


def on_silence(session: Session, settings: Settings, case: Case, due: dt.date, now: dt.datetime,
               counts: dict[str, int]) -> None:
    """First silence: the follow-up. Any later one: escalation is due, and nothing more goes out by itself."""
    case.answer_due_on = None
    case.updated_at = now
    data = {"answer_due": due.isoformat(), "follow_ups_sent": case.follow_ups_sent}
    if case.follow_ups_sent == 0:
        try:
            with session.begin_nested():
                letter = request_letter(session, case, "follow_up", now, base_url=settings.base_url)
        except ValueError as exc:
            log.warning("case %s: no follow-up possible: %s", case.id, exc)
        else:
            case.follow_ups_sent = 1
            session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.SYSTEM, action="answer_overdue",
                                  data={**data, "letter_id": letter.id}))
            notify_status(session, settings, case, "answer_due", now, discriminator=due.isoformat(),
                          answer_due=due.isoformat())
            counts["follow_ups"] += 1
            return
    case.escalation_due_at = now
    session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.SYSTEM, action="escalation_due", data=data))
    counts["escalations"] += 1


def close_batch(session: Session, settings: Settings, now: dt.datetime) -> int:
    """Resolved cases untouched for the configured days are closed (oldest resolution first)."""
    cutoff = now - dt.timedelta(days=settings.resolved_close_days)
    cases = list(session.scalars(
        select(Case).where(Case.status == CaseStatus.RESOLVED, Case.resolved_at < cutoff)
        .order_by(Case.resolved_at, Case.id).limit(SWEEP_BATCH).with_for_update(skip_locked=True)
    ))
    for case in cases:
        transition(session, case, CaseStatus.CLOSED, Actor.SYSTEM, "closed_automatically", now,
                   outcome=case.outcome,
                   data={"resolved_at": case.resolved_at.isoformat() if case.resolved_at else None,
                         "after_days": settings.resolved_close_days})
    return len(cases)


# --- what caseworkers see --------------------------------------------------------------------------------


# Built once: it runs for every queue page and every "take next".
_LETTERS_TO_SUBMIT = (
    select(Letter.case_id, Letter.kind, Letter.data_snapshot)
    .where(Letter.case_id.in_(bindparam("case_ids", expanding=True)), Letter.kind.in_(REMINDER_KINDS),
           Letter.status == "rendered", Letter.sent_at.is_(None))
    .order_by(Letter.id)
)


class FlaggedCase(Protocol):
    """What :func:`staff_flags` reads of a case (a queue line is enough)."""

    @property
    def id(self) -> int: ...
    @property
    def status(self) -> CaseStatus: ...
    @property
    def escalation_due_at(self) -> dt.datetime | None: ...


def staff_flags(session: Session, cases: Sequence[FlaggedCase]) -> dict[int, list[str]]:
    """Per case on a staff list: "Escalation due" and "Follow-up to submit" (or final notice)."""
    flags: dict[int, list[str]] = {case.id: [] for case in cases}
    open_ids = [case.id for case in cases if case.status not in FINISHED]
    for case in cases:
        if case.escalation_due_at is not None and case.status in CLOCK_STATUSES:
            flags[case.id].append("Escalation due")
    if open_ids:
        for case_id, kind, snapshot in session.execute(_LETTERS_TO_SUBMIT, {"case_ids": open_ids}):
            label = ("Follow-up to submit" if kind == "follow_up" else "Final notice to submit")
            if snapshot_channel(snapshot)[0] != "email" and label not in flags[case_id]:
                flags[case_id].append(label)
    return flags
