"""Which deadline reminders a case gets: two per deadline, at 09:00 on the consumer's own calendar.

A reminder fires 3 days before the act-by date and on the act-by date itself (POLICY-FACTS §2: act by
the day before the deadline). 09:00 is the consumer's wall-clock time, so the UTC instant follows their
daylight-saving changes. Planning again first cancels what was scheduled, so a corrected fact never
leaves a reminder for a date that no longer applies.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from casework.cases.models import Case, CaseEvent
from casework.cases.states import FINISHED, Actor
from casework.letters.models import has_cancellation_letter
from casework.letters.plan import letter_plan_for_case
from casework.reminders.models import REMINDER_KINDS, Reminder

# Assessment deadline kinds that become consumer reminders (the same names as Reminder.kind).
CONSUMER_KINDS = ("refund_window_end", "trial_end", "renewal")
LEAD_DAYS = (3, 0)
LOCAL_TIME = dt.time(9, 0)
PLANNED_EVENT = "reminders_planned"
# Cases filed without a letter are planned at filing, with the e-mail naming their reminders (casework.cases.tracking);
# the sweep plans any filed without that (no settings at hand), looking this far back.
NO_LETTER_LOOKBACK = dt.timedelta(days=2)


def due_at(day: dt.date, timezone: str) -> dt.datetime:
    """09:00 on ``day`` in the consumer's zone, as a UTC instant (zoneinfo applies that day's offset)."""
    return dt.datetime.combine(day, LOCAL_TIME, tzinfo=ZoneInfo(timezone)).astimezone(dt.UTC)


def receives_reminders(case: Case) -> bool:
    return (case.status not in FINISHED and case.personal_data_deleted_at is None
            and case.reminders_unsubscribed_at is None)


def case_deadlines(case: Case) -> list[dict[str, Any]]:
    """The case's assessed deadlines that a consumer is reminded of."""
    deadlines = (case.assessment or {}).get("deadlines") or []
    return [d for d in deadlines if d.get("kind") in CONSUMER_KINDS]


def cancel_reminders(session: Session, case_id: int, kinds: tuple[str, ...] = CONSUMER_KINDS) -> None:
    """Scheduled reminders of the case are cancelled (sent ones stay as the record).

    Only the consumer's deadline reminders by default: the company-answer clock keeps its own.
    """
    session.execute(
        update(Reminder).where(Reminder.case_id == case_id, Reminder.status == "scheduled", Reminder.kind.in_(kinds))
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )


def plan_reminders(session: Session, case: Case, now: dt.datetime) -> list[Reminder]:
    """Cancel the case's scheduled reminders and plan them anew from its assessment; none in the past."""
    cancel_reminders(session, case.id)
    planned: list[Reminder] = []
    if receives_reminders(case):
        for deadline in case_deadlines(case):
            day = dt.date.fromisoformat(deadline["date"])
            act_by = dt.date.fromisoformat(deadline["act_by"])
            for lead in LEAD_DAYS:
                when = due_at(act_by - dt.timedelta(days=lead), case.timezone)
                if when <= now:
                    continue
                planned.append(Reminder(case_id=case.id, kind=deadline["kind"], deadline=day, lead_days=lead,
                                        due_at=when, recipient=case.consumer_email, status="scheduled",
                                        created_at=now))
    session.add_all(planned)
    session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.SYSTEM, action=PLANNED_EVENT,
                          data={"reminders": [{"kind": r.kind, "due_at": r.due_at.isoformat()} for r in planned]}))
    return planned


def replan_if_open(session: Session, case: Case, now: dt.datetime) -> None:
    """After a change of facts or status: plan again where reminders apply, else just cancel them."""
    if receives_reminders(case):
        plan_reminders(session, case, now)
    else:
        cancel_reminders(session, case.id)


def cancel_if_finished(session: Session, case: Case) -> None:
    """Any way into resolved or closed stops the case's reminders."""
    if case.status in FINISHED:
        cancel_reminders(session, case.id, REMINDER_KINDS)


def plan_new_cases_without_letter(session: Session, now: dt.datetime, batch: int = 200) -> int:
    """Cases without a letter (app-store billing, a one-time purchase with no refund to ask for) are planned at
    filing, so their first e-mail can name the reminders, and the sweep plans those filed lately and still never
    planned. Their reminders are sent only once the address is confirmed (casework.reminders.sweep.claim_due).

    The query walks ``ix_cases_created_at`` over the last two days only, and the ``reminders_planned``
    event marks a case as done, so a case with no deadlines is not looked at again each minute.
    """
    planned_before = exists().where(CaseEvent.case_id == Case.id, CaseEvent.action == PLANNED_EVENT)
    cases = list(session.scalars(
        select(Case).where(Case.created_at >= now - NO_LETTER_LOOKBACK,
                           ~has_cancellation_letter(Case.id), Case.status.not_in(FINISHED),
                           Case.personal_data_deleted_at.is_(None), ~planned_before)
        .order_by(Case.id).limit(batch)
    ))
    for case in cases:
        plan_reminders(session, case, now)
    return len(cases)


def replan(session: Session, case: Case, now: dt.datetime) -> None:
    """After corrected facts or a reopening: plan again once reminders are due for the case at all.

    A letter case is planned from its confirmation on (its address is confirmed then); a case without a
    letter from filing on, its reminders sent once its address is confirmed. One whose corrected facts now
    call for a letter loses the reminders it had until it is confirmed, as every letter case.
    """
    if case.confirmed_at is not None or not letter_plan_for_case(case).letter:
        replan_if_open(session, case, now)
    else:
        cancel_reminders(session, case.id)
