"""The day by which a caseworker looks at what the consumer told us (a company's answer, a new charge).

The consumer is told this day, so it must be kept: it takes its place in the case's urgency (the staff queue's
order, see :mod:`casework.cases.urgency`), and the queue shows it as overdue once it has passed.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

# Working days (Monday to Friday) from the day the consumer told us to the day a caseworker has looked.
REVIEW_WORKING_DAYS = 2


def add_working_days(day: dt.date, count: int) -> dt.date:
    """``count`` working days after ``day`` (Saturdays and Sundays skipped; public holidays are not known)."""
    while count > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


def review_due(now: dt.datetime, timezone: str) -> dt.date:
    """The review's day for something told at ``now``, in the consumer's calendar."""
    return add_working_days(now.astimezone(ZoneInfo(timezone)).date(), REVIEW_WORKING_DAYS)
