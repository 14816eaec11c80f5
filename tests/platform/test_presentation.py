"""Dates on pages: ISO for machines, the reader's own English for people."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from casework.presentation import local_time, long_date, reader_locale


@pytest.mark.parametrize(("country", "words"), [
    ("US", "December 4, 2026"),
    ("AU", "4 December 2026"),
    ("GB", "4 December 2026"),
    ("CA", "December 4, 2026"),
    ("DE", "4 December 2026"),  # no en_DE in Babel's data: British English
    (None, "4 December 2026"),
])
def test_a_date_is_written_in_the_english_of_the_consumers_country(country: str | None, words: str) -> None:
    assert long_date("2026-12-04", country) == f'<time datetime="2026-12-04">{words}</time>'


def test_without_a_country_the_browser_decides(app: Flask) -> None:
    with app.test_request_context(headers={"Accept-Language": "fr-FR, en-US;q=0.8"}):
        assert str(reader_locale()) == "en_US"
        assert "December 4, 2026" in long_date(dt.date(2026, 12, 4))
    with app.test_request_context(headers={"Accept-Language": "de"}):
        assert str(reader_locale()) == "en_GB"


def test_odd_values_are_shown_as_text_not_markup() -> None:
    assert long_date("<script>", "US") == "&lt;script&gt;"
    assert long_date(None) == ""


def test_a_time_is_local_to_the_case() -> None:
    instant = dt.datetime(2026, 12, 4, 23, 30, tzinfo=dt.UTC)
    assert local_time(instant, ZoneInfo("Australia/Sydney"), "AU") == "5 December 2026, 10:30\u202fam (AEDT)"
    assert local_time(instant, ZoneInfo("America/New_York"), "US").startswith("December 4, 2026, 6:30")
