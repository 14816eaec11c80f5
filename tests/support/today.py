"""The day the tests run on: ``CASEWORK_TEST_TODAY`` (YYYY-MM-DD) if set, else the real date in UTC.

The app, the worker processes and the assessment all read one clock (``casework.timesource``); the
test session moves it to 10:30 UTC on this day, an hour at which the calendar date is the same in
every zone the tests file cases from (Los Angeles 02:30, Melbourne 21:30), and hands the same offset to
every process it starts. Tests write their dates relative to ``TODAY``, so the suite gives the same
answers on any day it runs; ``tests/platform/test_calendar.py`` runs the date-sensitive tests on several days.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager

from casework.timesource import offset_to, set_offset

TODAY_VARIABLE = "CASEWORK_TEST_TODAY"
CLOCK_TIME = dt.time(10, 30, tzinfo=dt.UTC)


def _today() -> dt.date:
    raw = os.environ.get(TODAY_VARIABLE, "").strip()
    if not raw:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise SystemExit(f"{TODAY_VARIABLE} must be a date such as 2028-02-29, not {raw!r}") from None


TODAY = _today()
NOW = dt.datetime.combine(TODAY, CLOCK_TIME)
CLOCK_OFFSET_SECONDS = offset_to(NOW)
TODAY_ISO = TODAY.isoformat()


def days_ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


def days_ahead(days: int) -> dt.date:
    return TODAY + dt.timedelta(days=days)


def iso_days_ago(days: int) -> str:
    return days_ago(days).isoformat()


def iso_days_ahead(days: int) -> str:
    return days_ahead(days).isoformat()


def long_date(day: dt.date) -> str:
    """A date as letters and pages write it: 20 November 2026."""
    return f"{day.day} {day:%B %Y}"


@contextmanager
def clock_on(day: dt.date) -> Iterator[None]:
    """Move this process's clock (the in-process app's too) to ``day`` for a while, then back to ``TODAY``."""
    with clock_at(dt.datetime.combine(day, CLOCK_TIME)):
        yield


@contextmanager
def clock_at(moment: dt.datetime) -> Iterator[None]:
    """Move this process's clock to ``moment`` (an hour at which zones disagree on the date, say), then back."""
    set_offset(offset_to(moment))
    try:
        yield
    finally:
        set_offset(CLOCK_OFFSET_SECONDS)
