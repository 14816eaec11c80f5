"""Calendar arithmetic of POLICY-FACTS §2: months and years keep the day of month, clamped to the month's end."""

from __future__ import annotations

import calendar
import datetime as dt

PERIOD_MONTHS = {"monthly": 1, "annual": 12}


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day of month ``months`` later, clamped (Jan 31 + 1 month = Feb 28/29), as billing systems do."""
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    return dt.date(year, month0 + 1, min(day.day, calendar.monthrange(year, month0 + 1)[1]))


def add_years(day: dt.date, years: int) -> dt.date:
    """The same date ``years`` later; Feb 29 becomes Feb 28 in a common year."""
    return add_months(day, 12 * years)


def roll_forward(start: dt.date, months: int, today: dt.date) -> tuple[dt.date, int]:
    """The first renewal on or after ``today``: ``start`` plus k whole periods (k >= 1), and k.

    Every step is counted from the original day (Jan 31 → Feb 28 → Mar 31), never from the clamped previous
    renewal, so a short month does not shift later renewals.
    """
    periods = 1
    if add_months(start, months) < today:
        months_between = (today.year - start.year) * 12 + today.month - start.month
        periods = max(1, months_between // months)  # never past the answer: that month is <= today's month
        while add_months(start, periods * months) < today:
            periods += 1
    return add_months(start, periods * months), periods
