"""How urgent a case is, as one stored date the staff queue sorts on.

The queue puts first the case whose next act-by date (a refund window's or renewal's last day to act)
comes soonest, or whose company answer is overdue, then the oldest. That order needs "today", which
moves, so each case also stores when its urgency stops being right (the end of the deadline's day in
the consumer's zone); the sweep recomputes the few cases whose moment has come. Everything here is pure:
the ORM hook in :mod:`casework.cases.models` and filing call it with the case's fields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from casework.cases.states import FINISHED, CaseStatus

# Cases with nothing dated to act on sort after every dated one, oldest first among themselves.
NO_DEADLINE = dt.date(9999, 12, 31)
CLOCK_STATUSES = (CaseStatus.SENT, CaseStatus.FOLLOW_UP)

ANSWER_DUE = "answer_due"
ESCALATION_DUE = "escalation_due"
REVIEW_DUE = "review_due"
# Deadline kinds come from the assessment: refund_window_end, trial_end, renewal.


@dataclass(frozen=True)
class Urgency:
    on: dt.date
    kind: str | None
    expires_at: dt.datetime | None


NONE = Urgency(NO_DEADLINE, None, None)


def compute(*, status: CaseStatus, assessment: Mapping[str, Any] | None, timezone: str,
            answer_due_on: dt.date | None, escalation_due_at: dt.datetime | None, now: dt.datetime,
            review_due_on: dt.date | None = None) -> Urgency:
    """The case's urgency now: the earliest of its company-answer date (overdue or not), the day escalation
    became due, the day a caseworker's review was promised, and the act-by date of every deadline whose day has
    not passed in the consumer's zone."""
    if status in FINISHED:
        return NONE
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    best = NONE
    if status in CLOCK_STATUSES:
        if answer_due_on is not None:
            best = Urgency(answer_due_on, ANSWER_DUE, None)
        if escalation_due_at is not None:
            due = escalation_due_at.astimezone(zone).date()
            if due < best.on:
                best = Urgency(due, ESCALATION_DUE, None)
    if review_due_on is not None and review_due_on < best.on:
        best = Urgency(review_due_on, REVIEW_DUE, None)
    for deadline in (assessment or {}).get("deadlines") or ():
        try:
            day = dt.date.fromisoformat(deadline["date"])
            act_by = dt.date.fromisoformat(deadline["act_by"])
        except (KeyError, TypeError, ValueError):
            continue
        if day < today or act_by >= best.on:
            continue
        end_of_day = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
        best = Urgency(act_by, str(deadline.get("kind") or "deadline"), end_of_day)
    return best


def of_case(case: Any, now: dt.datetime) -> Urgency:
    """:func:`compute` for a Case (or anything with its fields)."""
    return compute(status=case.status, assessment=case.assessment, timezone=case.timezone,
                   answer_due_on=case.answer_due_on, escalation_due_at=case.escalation_due_at, now=now,
                   review_due_on=getattr(case, "review_due_on", None))


def apply(case: Any, now: dt.datetime) -> bool:
    """Store the case's urgency; True if it changed (only changed columns are written)."""
    urgency = of_case(case, now)
    changed = False
    for name, value in (("urgency_on", urgency.on), ("urgency_kind", urgency.kind),
                        ("urgency_expires_at", urgency.expires_at)):
        if getattr(case, name, None) != value:
            setattr(case, name, value)
            changed = True
    return changed


def columns(values: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:
    """The urgency columns for a row about to be inserted with ``values`` (filing uses Core inserts)."""
    urgency = compute(status=values["status"], assessment=values.get("assessment"), timezone=values["timezone"],
                      answer_due_on=values.get("answer_due_on"), escalation_due_at=values.get("escalation_due_at"),
                      now=now)
    return {"urgency_on": urgency.on, "urgency_kind": urgency.kind, "urgency_expires_at": urgency.expires_at}
