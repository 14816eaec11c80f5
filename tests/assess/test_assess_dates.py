"""Date arithmetic of POLICY-FACTS §2 and the consumer's "today" in their own time zone."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework.assess import AssessmentFacts, assess, consumer_today
from casework.assess.dates import PERIOD_MONTHS, add_months, add_years, roll_forward
from casework.catalog import default_catalog

DAYS = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))


@pytest.mark.parametrize(("day", "months", "expected"), [
    (date(2026, 1, 31), 1, date(2026, 2, 28)),
    (date(2028, 1, 31), 1, date(2028, 2, 29)),
    (date(2026, 3, 31), 1, date(2026, 4, 30)),
    (date(2026, 12, 31), 2, date(2027, 2, 28)),
    (date(2026, 11, 20), 1, date(2026, 12, 20)),
    (date(2026, 12, 15), 1, date(2027, 1, 15)),
    (date(2026, 3, 31), -1, date(2026, 2, 28)),
])
def test_add_months_clamps_to_the_month_end(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


@pytest.mark.parametrize(("day", "years", "expected"), [
    (date(2028, 2, 29), 1, date(2029, 2, 28)),
    (date(2028, 2, 29), 4, date(2032, 2, 29)),
    (date(2100, 2, 28), 0, date(2100, 2, 28)),
    (date(2026, 11, 20), 1, date(2027, 11, 20)),
])
def test_add_years_clamps_feb_29(day: date, years: int, expected: date) -> None:
    assert add_years(day, years) == expected


@given(DAYS, st.integers(min_value=-240, max_value=240))
def test_add_months_lands_in_the_target_month(day: date, months: int) -> None:
    result = add_months(day, months)
    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == months
    last = calendar.monthrange(result.year, result.month)[1]
    assert result.day <= last
    assert result.day == min(day.day, last)  # the original day when it exists, else the last day


@given(DAYS, st.integers(min_value=-20, max_value=20))
def test_add_years_is_twelve_months(day: date, years: int) -> None:
    assert add_years(day, years) == add_months(day, 12 * years)
    assert add_years(day, years).month == day.month


@given(DAYS, st.integers(min_value=0, max_value=4000), st.sampled_from(sorted(PERIOD_MONTHS.values())))
def test_roll_forward_finds_the_first_renewal_not_before_today(start: date, gap: int, months: int) -> None:
    today = start + timedelta(days=gap)
    renewal, periods = roll_forward(start, months, today)
    assert periods >= 1
    assert renewal == add_months(start, periods * months)  # each step from the original day
    assert renewal >= today
    assert periods == 1 or add_months(start, (periods - 1) * months) < today  # the first such renewal
    assert renewal <= add_months(today, months)  # within one period (equal only where the month end clamps)
    assert (renewal - today).days <= (31 if months == 1 else 366)


def test_roll_forward_can_equal_today_plus_one_clamped_period() -> None:
    assert roll_forward(date(2026, 1, 30), 1, date(2026, 1, 31)) == (date(2026, 2, 28), 1)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)


def test_roll_forward_does_not_accumulate_clamping() -> None:
    assert roll_forward(date(2026, 1, 31), 1, date(2026, 3, 2)) == (date(2026, 3, 31), 2)
    assert roll_forward(date(2026, 1, 31), 1, date(2026, 12, 1)) == (date(2026, 12, 31), 11)
    assert roll_forward(date(2024, 2, 29), 12, date(2027, 3, 1)) == (date(2028, 2, 29), 4)


# --- The consumer's today ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("now", "zone", "expected"), [
    (datetime(2026, 11, 27, 10, 30, tzinfo=UTC), "Pacific/Kiritimati", date(2026, 11, 28)),  # UTC+14
    (datetime(2026, 11, 27, 10, 30, tzinfo=UTC), "Pacific/Pago_Pago", date(2026, 11, 26)),  # UTC-11
    (datetime(2026, 11, 27, 10, 30, tzinfo=UTC), "UTC", date(2026, 11, 27)),
    (datetime(2026, 11, 27, 13, 30, tzinfo=UTC), "Australia/Sydney", date(2026, 11, 28)),
    (datetime(2026, 11, 27, 23, 59), "UTC", date(2026, 11, 27)),  # naive means UTC
    (datetime(2026, 11, 28, 1, 0, tzinfo=timezone(timedelta(hours=5))), "Europe/London", date(2026, 11, 27)),
])
def test_consumer_today_is_the_date_in_their_zone(now: datetime, zone: str, expected: date) -> None:
    assert consumer_today(now, zone) == expected


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)))
def test_kiritimati_and_pago_pago_straddle_utc(now: datetime) -> None:
    """UTC+14 and UTC-11 are 25 hours apart: one calendar day, or two during the 10 o'clock UTC hour."""
    ahead, behind = consumer_today(now, "Pacific/Kiritimati"), consumer_today(now, "Pacific/Pago_Pago")
    assert (ahead - behind).days == (2 if now.hour == 10 else 1)
    assert behind <= now.date() <= ahead


@pytest.mark.parametrize(("zone", "eligibility", "passed"), [
    ("Pacific/Kiritimati", "not_eligible", True),  # already 2026-12-05 there
    ("Pacific/Pago_Pago", "eligible", False),  # still 2026-12-04
])
def test_the_last_refund_day_depends_on_the_consumers_zone(zone: str, eligibility: str, passed: bool) -> None:
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    coursera = default_catalog().get("coursera")
    assert coursera is not None
    facts = AssessmentFacts(provider="coursera", plan="course-one-time", billing_channel="direct", country="US",
                            requested_outcome="cancel_and_refund", timezone=zone, payment_date=date(2026, 11, 20))
    result = assess(facts, coursera, consumer_today(now, zone))
    assert result["refund"]["eligibility"] == eligibility
    assert result["deadlines"][0]["passed"] is passed
