"""The date-sensitive tests pass on the awkward days too, not only on the day the suite happens to run.

Each day below starts a fresh pytest session (its own database) with ``CASEWORK_TEST_TODAY`` set, so the
app, the workers and the assessment all believe it is that day, and runs the tests marked ``dates``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import TEST_DATABASE_URL, drop_database, sibling_database

ROOT = Path(__file__).resolve().parents[2]

DAYS = {
    "a month end after a 31-day month": "2027-01-31",
    "29 February": "2028-02-29",
    "the day Los Angeles starts summer time": "2027-03-14",
    "the day Melbourne and Sydney leave summer time": "2027-04-04",
}


@pytest.mark.timeout(960)  # the subprocess's own limit (900 s), not pytest-timeout's default, ends a stuck run
@pytest.mark.parametrize("day", list(DAYS.values()), ids=list(DAYS))
def test_the_date_sensitive_tests_pass_on(day: str, tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_ADDOPTS"}
    env["CASEWORK_TEST_TODAY"] = day
    database = sibling_database(TEST_DATABASE_URL, "calendar")
    if database:
        env["CASEWORK_TEST_DATABASE_URL"] = database
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "dates", "-q", "-p", "no:cacheprovider", "-x",
         "--basetemp", str(tmp_path / f"pytest-{uuid.uuid4().hex[:6]}")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False,
    )
    if database:
        drop_database(database)
    summary = run.stdout.strip().splitlines()[-1:] or ["(no output)"]
    assert run.returncode == 0, f"on {day}: {summary[0]}\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}"
    assert " passed" in summary[0], summary[0]
    assert "failed" not in summary[0], summary[0]
