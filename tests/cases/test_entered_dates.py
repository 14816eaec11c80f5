"""The rule for dates typed about what already happened, at its edges (the pages and the API use it; their
tests are with each form and endpoint)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from casework.cases.entered_dates import delivery_problem, latest_today, past_date_problem
from casework.cases.models import Case
from tests.support.today import NOW, TODAY

FILED = NOW - dt.timedelta(days=30)


def case(zone: str = "America/New_York") -> Case:
    return Case(timezone=zone, created_at=FILED)


@pytest.mark.parametrize(("utc", "latest"), [
    (dt.time(0, 0), TODAY),
    (dt.time(9, 59), TODAY),  # 23:59 in UTC+14
    (dt.time(10, 0), TODAY + dt.timedelta(days=1)),  # midnight in UTC+14: tomorrow is today there
    (dt.time(23, 59), TODAY + dt.timedelta(days=1)),
])
def test_the_latest_today_on_earth_is_at_most_a_day_after_utcs(utc: dt.time, latest: dt.date) -> None:
    assert latest_today(dt.datetime.combine(TODAY, utc, tzinfo=dt.UTC)) == latest


def test_consumers_and_caseworkers_read_today_differently() -> None:
    late = dt.datetime.combine(TODAY, dt.time(23, 30), tzinfo=dt.UTC)  # 18:30 or 19:30 in New York
    tomorrow = TODAY + dt.timedelta(days=1)
    assert past_date_problem(tomorrow, case(), late, "consumer") == "future"
    assert past_date_problem(tomorrow, case("Australia/Melbourne"), late, "consumer") is None
    assert past_date_problem(tomorrow, case(), late, "staff") is None
    assert past_date_problem(tomorrow + dt.timedelta(days=1), case(), late, "staff") == "future"


def test_a_year_before_the_filing_is_the_earliest_date() -> None:
    filed_on = FILED.astimezone(ZoneInfo("America/New_York")).date()
    assert past_date_problem(filed_on - dt.timedelta(days=366), case(), NOW, "consumer") is None
    assert past_date_problem(filed_on - dt.timedelta(days=367), case(), NOW, "staff") == "too_old"


def test_a_delivery_is_an_instant_between_the_filing_and_now() -> None:
    assert delivery_problem(NOW + dt.timedelta(minutes=4), case(), NOW) is None  # a clock a little ahead
    assert delivery_problem(NOW + dt.timedelta(minutes=6), case(), NOW) == "future"
    assert delivery_problem(FILED - dt.timedelta(minutes=6), case(), NOW) == "before_filing"
    assert delivery_problem(FILED, case(), NOW) is None
