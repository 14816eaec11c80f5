"""Dates people type about what has already happened on a case: the company's answer received, a refund paid, a
letter submitted or posted. None can lie in the future, and an answer or refund more than a year before the case
was filed is a typing slip (the existing rule of the consumer's forms, now the same everywhere).

"Today" depends on who types. A consumer's entry is checked against the day in the consumer's own time zone (the
case's zone), as intake's dates are. Caseworkers may sit in any zone, and the day a company's e-mail shows depends
on the reader's zone, so a caseworker's date is refused only when it is not yet today anywhere on Earth (the zones
run to UTC+14): at most one day's slack over the UTC date, never a date that cannot be true. A delivery is an
instant, the same everywhere, so it may not be later than now (with a few minutes for clocks that differ) nor
before the case was filed.

One place for the rule, the form's words (GOV.UK style, naming the date) and the API's terse ``fields`` reasons.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal
from zoneinfo import ZoneInfo

from casework.cases.errors import CaseError
from casework.cases.models import Case

# The furthest a zone runs ahead of UTC (Kiribati's Line Islands): the last place where a given day is today.
FURTHEST_AHEAD = dt.timedelta(hours=14)
# How far before the filing an answer or a refund may still be dated.
BEFORE_FILING = dt.timedelta(days=366)
# An instant typed to the minute, on a device whose clock may differ a little from ours.
CLOCK_SLACK = dt.timedelta(minutes=5)

Problem = Literal["future", "too_old"]
Who = Literal["consumer", "staff"]

# The API's reasons (API.md: `fields` say why, in a few words).
API_REASONS: dict[str, str] = {
    "future": "must not be in the future",
    "too_old": "must not be more than a year before the case was filed",
    "before_filing": "before the case was filed",
}


def consumer_today(case: Case, now: dt.datetime) -> dt.date:
    """The day it is now in the consumer's time zone."""
    return now.astimezone(ZoneInfo(case.timezone)).date()


def latest_today(now: dt.datetime) -> dt.date:
    """The latest day it is anywhere on Earth now: a caseworker's date after it cannot be true."""
    return (now.astimezone(dt.UTC) + FURTHEST_AHEAD).date()


def filed_on(case: Case) -> dt.date:
    """The day the case was filed, in the consumer's calendar."""
    return case.created_at.astimezone(ZoneInfo(case.timezone)).date()


def past_date_problem(day: dt.date, case: Case, now: dt.datetime, who: Who) -> Problem | None:
    """What is wrong with a date something happened on, if anything (``who`` typed it)."""
    today = consumer_today(case, now) if who == "consumer" else latest_today(now)
    if day > today:
        return "future"
    if day < filed_on(case) - BEFORE_FILING:
        return "too_old"
    return None


def date_message(problem: Problem, what: str) -> str:
    """The form's words for ``problem`` with the date named, e.g. "The date the company answered"."""
    if problem == "future":
        return f"{what} must be today or in the past"
    return f"{what} must be no more than a year before the case was filed"


def answer_date_name(kind: str) -> str:
    """The date an answer form asks for, by what happened: a new charge is no answer."""
    return "The date of the new charge" if kind == "charged_again" else "The date the company answered"


REFUND_DATE = "The date the refund was received"


def delivery_problem(at: dt.datetime, case: Case, now: dt.datetime) -> Literal["future", "before_filing"] | None:
    """What is wrong with the instant a letter was submitted or posted, if anything."""
    if at > now + CLOCK_SLACK:
        return "future"
    if at < case.created_at - CLOCK_SLACK:
        return "before_filing"
    return None


def check_delivery(at: dt.datetime, case: Case, now: dt.datetime) -> None:
    """The services' own guard, whoever calls them: CaseError with the API's reason for ``at``."""
    problem = delivery_problem(at, case, now)
    if problem is not None:
        when = "in the future" if problem == "future" else "before the case was filed"
        raise CaseError(f"The time of submission cannot be {when}.", {"at": API_REASONS[problem]})


def delivery_message(problem: Literal["future", "before_filing"], what: str) -> str:
    """The form's words, e.g. "The time you submitted it must be now or in the past"."""
    if problem == "future":
        return f"{what} must be now or in the past"
    return f"{what} must be after the case was filed"
