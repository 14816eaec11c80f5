"""Claims, write-once results and the relay, against the real database."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from casework.cases.filing import file_case
from casework.db import utcnow
from casework.jobs.claims import claim, fail_attempt, finish
from casework.letters.models import Letter
from tests.support.factories import case_facts
from worker.jobs import relay_due

pytestmark = pytest.mark.storage
KEY = "k" * 40


def _letter(db_session: Session) -> Letter:
    filed = file_case(db_session, case_facts(), KEY)
    return db_session.execute(select(Letter).where(Letter.case_id == filed.case_id)).scalar_one()


def test_a_claim_is_exclusive_until_its_lease_runs_out(db_session: Session) -> None:
    letter = _letter(db_session)
    first = claim(db_session, Letter, letter.id, lease_seconds=60)
    assert first is not None
    assert claim(db_session, Letter, letter.id, lease_seconds=60) is None
    db_session.execute(update(Letter).where(Letter.id == letter.id)
                       .values(lease_until=utcnow() - dt.timedelta(seconds=1)))
    second = claim(db_session, Letter, letter.id, lease_seconds=60)
    assert second is not None
    assert second != first
    # The first claim lost the row: its result is refused, the second one's is stored.
    assert not finish(db_session, Letter, letter.id, first, status="rendered", pdf=b"%PDF-a", sha256="a" * 64)
    assert finish(db_session, Letter, letter.id, second, status="rendered", pdf=b"%PDF-b", sha256="b" * 64)
    assert claim(db_session, Letter, letter.id, lease_seconds=60) is None  # done rows are never claimed
    attempts = db_session.execute(select(Letter.attempts).where(Letter.id == letter.id)).scalar_one()
    assert attempts == 2


def test_a_rendered_letter_is_write_once(db_session: Session) -> None:
    letter = _letter(db_session)
    token = claim(db_session, Letter, letter.id, lease_seconds=60)
    assert token is not None
    assert finish(db_session, Letter, letter.id, token, status="rendered", pdf=b"%PDF", sha256="c" * 64)
    db_session.expire_all()
    stored = db_session.get(Letter, letter.id)
    assert stored is not None
    stored.pdf = b"%PDF-forged"
    with pytest.raises(ValueError, match="write-once"):
        db_session.flush()


def test_failures_retry_then_give_up(db_session: Session) -> None:
    letter = _letter(db_session)
    for attempt in (1, 2, 3):
        token = claim(db_session, Letter, letter.id, lease_seconds=60)
        assert token is not None
        status = fail_attempt(db_session, Letter, letter.id, token, "boom", max_attempts=3)
        assert status == ("failed" if attempt == 3 else "pending")
    row = db_session.execute(select(Letter.status, Letter.last_error).where(Letter.id == letter.id)).one()
    assert tuple(row) == ("failed", "boom")


def test_relay_picks_due_unleased_rows_once(db_session: Session) -> None:
    letter = _letter(db_session)
    db_session.info.pop("casework.dispatch.pending", None)
    # A fresh row was dispatched as it was committed: the relay leaves it alone until the threshold ...
    assert relay_due(db_session, relay_after_seconds=60, now=utcnow() + dt.timedelta(seconds=5)) == {}
    now = utcnow() + dt.timedelta(seconds=61)
    assert relay_due(db_session, relay_after_seconds=60, now=now) == {"letters.render": 1}
    assert db_session.info["casework.dispatch.pending"] == [("letters.render", [letter.id])]
    # Not again before the threshold passes ...
    assert relay_due(db_session, relay_after_seconds=60, now=now + dt.timedelta(seconds=30)) == {}
    # ... and never while a live claim holds it.
    claim(db_session, Letter, letter.id, lease_seconds=600)
    assert relay_due(db_session, relay_after_seconds=60, now=now + dt.timedelta(seconds=120)) == {}
