"""The per-status totals kept by database triggers: after filing, status changes and deletes they equal a count
of ``cases``; folding keeps the sums in one row per status; the triggers exist at head."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from casework.cases.filing import file_case
from casework.cases.models import Case, CaseStatusDelta
from casework.cases.states import CaseStatus, Outcome
from casework.cases.status_counts import fold, status_counts
from casework.runtime import Runtime
from tests.support.factories import case_facts
from tests.support.writes import writing

pytestmark = pytest.mark.storage
SECRET = "test-secret-key-" + "x" * 32


def counted(session: Session) -> dict[str, int]:
    """The truth: a GROUP BY over every case, with every status present."""
    counts = {status.value: 0 for status in CaseStatus}
    for status, number in session.execute(select(Case.status, func.count()).group_by(Case.status)):
        counts[CaseStatus(status).value] = int(number)
    return counts


def file(session: Session, count: int) -> list[int]:
    return [file_case(session, case_facts(consumer_email=f"c{n}@example.com"), SECRET).case_id
            for n in range(count)]


def test_filing_counts_each_new_case(db_session: Session) -> None:
    before = status_counts(db_session)
    file(db_session, 3)
    after = status_counts(db_session)
    assert after["new"] == before["new"] + 3
    assert after == counted(db_session)


def test_status_changes_and_deletes_move_the_counts(db_session: Session) -> None:
    ids = file(db_session, 4)
    before = status_counts(db_session)
    first, second, third = (db_session.get_one(Case, case_id) for case_id in ids[:3])
    first.status = CaseStatus.READY
    second.status = CaseStatus.RESOLVED
    second.outcome = Outcome.CANCELLED
    third.consumer_name = "Only The Name Changes"
    db_session.flush()
    after = status_counts(db_session)
    assert (after["new"], after["ready"], after["resolved"]) == (
        before["new"] - 2, before["ready"] + 1, before["resolved"] + 1)
    assert after == counted(db_session)
    db_session.execute(delete(Case).where(Case.id == ids[3]))
    db_session.delete(first)
    db_session.flush()
    gone = status_counts(db_session)
    assert (gone["new"], gone["ready"]) == (after["new"] - 1, after["ready"] - 1)
    assert gone == counted(db_session)


def test_fold_keeps_the_sums_in_one_row_per_status(db_session: Session) -> None:
    ids = file(db_session, 5)
    for case_id in ids[:2]:
        db_session.get_one(Case, case_id).status = CaseStatus.READY
    db_session.flush()
    before = status_counts(db_session)
    rows_before = fold(db_session)
    assert rows_before >= 7  # five filings and two changes of two rows each
    assert status_counts(db_session) == before == counted(db_session)
    statuses = list(db_session.scalars(select(CaseStatusDelta.status)))
    assert sorted(statuses) == sorted(set(statuses))
    assert fold(db_session) == len(statuses)  # nothing more to fold


def test_the_triggers_exist_at_head(db_session: Session) -> None:
    if db_session.get_bind().dialect.name == "postgresql":
        names = set(db_session.scalars(text(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'cases'::regclass AND NOT tgisinternal")))
        assert "cases_status_count" in names
    else:
        names = set(db_session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                            "AND tbl_name = 'cases'")))
        assert {"cases_status_count_insert", "cases_status_count_delete", "cases_status_count_update"} <= names


def test_a_case_filed_during_a_fold_is_not_lost(committed: Runtime) -> None:
    """PostgreSQL folds in one statement without a lock: a row committed meanwhile is left for the next fold."""
    if committed.engine.dialect.name != "postgresql":
        pytest.skip("SQLite folds inside its write lock: nothing is filed meanwhile")
    with writing(committed) as session:
        file(session, 10)  # more rows than statuses, so the fold has work
    with committed.sessions() as folding:
        folding.begin()
        assert fold(folding) == 10  # not committed yet
        with writing(committed) as filing:
            file(filing, 1)
        folding.commit()
    with committed.sessions() as session:
        assert status_counts(session)["new"] == 11
        assert status_counts(session) == counted(session)
