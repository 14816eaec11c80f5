"""``flask case file``: a case filed from the command line, its consumer's dates checked as the form and the API
check them (not after today in the consumer's time zone)."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from casework.cases.models import Case
from casework.runtime import Runtime
from tests.support.today import iso_days_ago, iso_days_ahead

pytestmark = pytest.mark.storage
FILE = ["case", "file", "--plan", "coursera-plus-annual", "--name", "Jane Q. Consumer", "--email",
        "jane@example.com", "--country", "AU"]


def cases(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.execute(select(func.count()).select_from(Case)).scalar_one())


@pytest.mark.parametrize("option", ["--payment-date", "--trial-start-date", "--subscription-start-date"])
def test_a_date_after_the_consumers_today_is_refused(app: Flask, committed: Runtime, option: str) -> None:
    dates = {"--payment-date": iso_days_ago(3), option: iso_days_ahead(1)}
    result = app.test_cli_runner().invoke(args=[*FILE, *(part for pair in dates.items() for part in pair)])
    assert result.exit_code == 2, result.output
    assert option in result.output
    assert f"{iso_days_ahead(1)} is after today in Australia/Sydney" in result.output
    assert cases(committed) == 0


def test_a_case_with_past_dates_is_filed(app: Flask, committed: Runtime) -> None:
    result = app.test_cli_runner().invoke(args=[*FILE, "--payment-date", iso_days_ago(3)])
    assert result.exit_code == 0, result.output
    assert "filed CW-" in result.output
    assert cases(committed) == 1
