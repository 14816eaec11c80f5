"""The evidence pack and the ZIP list a case's letters in the order they were written, not grouped by kind."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy.orm import Session

from casework.cases.filing import file_case
from casework.cases.models import Case
from casework.evidence.bundle import stored_letters
from casework.evidence.pack import build_pack, case_letters, letter_order
from casework.letters.models import Letter
from casework.letters.services import request_letter
from tests.support.factories import case_facts

PAID = dt.date(2026, 11, 20)


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


def stored(session: Session, letter: Letter, day: dt.date) -> None:
    """What the render job stores (a stand-in PDF: the order is under test, not the letter)."""
    pdf = f"%PDF-1.7 {letter.kind} v{letter.version}".encode()
    letter.status, letter.pdf, letter.sha256 = "rendered", pdf, hashlib.sha256(pdf).hexdigest()
    letter.pages, letter.template_version, letter.rendered_at = 1, f"{letter.kind}@test", noon(day)
    session.flush()


def test_letters_are_listed_by_date_then_by_request(db_session: Session) -> None:
    """A cancellation re-issued after the follow-up comes after it: by kind it came before."""
    filed = file_case(db_session, case_facts(payment_date=PAID), "k" * 40, noon(dt.date(2026, 11, 26)))
    case = db_session.get(Case, filed.case_id)
    assert case is not None
    first = db_session.get(Letter, filed.letter_id)
    assert first is not None
    stored(db_session, first, dt.date(2026, 11, 26))
    follow_up = request_letter(db_session, case, "follow_up", noon(dt.date(2026, 12, 9)))
    stored(db_session, follow_up, dt.date(2026, 12, 9))
    reissued = request_letter(db_session, case, "cancellation", noon(dt.date(2026, 12, 10)))
    stored(db_session, reissued, dt.date(2026, 12, 10))
    same_day = request_letter(db_session, case, "cancellation", noon(dt.date(2026, 12, 10)))
    stored(db_session, same_day, dt.date(2026, 12, 10))

    expected = [("cancellation", 1), ("follow_up", 1), ("cancellation", 2), ("cancellation", 3)]
    assert [(letter.kind, letter.version) for letter in case_letters(db_session, case)] == expected
    pack = build_pack(db_session, case, "https://casework.example", noon(dt.date(2026, 12, 11)))
    assert [(row.kind, row.version) for row in pack.letters] == [(k.replace("_", " "), v) for k, v in expected]
    assert [row.letter_date for row in pack.letters] == ["2026-11-26", "2026-12-09", "2026-12-10", "2026-12-10"]
    names = [name for name, _ in stored_letters(db_session, case)]
    assert names == [f"{case.reference}-{kind}-v{version}.pdf" for kind, version in expected]


def test_a_letter_without_a_date_in_its_snapshot_is_placed_by_the_day_it_was_made() -> None:
    dated = Letter(id=2, data_snapshot={"letter_date": "2026-12-01"}, created_at=noon(dt.date(2026, 12, 1)))
    undated = Letter(id=1, data_snapshot={}, created_at=noon(dt.date(2026, 12, 2)))
    assert sorted([undated, dated], key=letter_order) == [dated, undated]
