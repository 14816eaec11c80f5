"""How many cases each status holds, from the rows the database triggers write (migration 0009).

Reading sums a handful of rows; the sweep folds the rows written since into one per status, in a single
statement on PostgreSQL (so a row committed meanwhile is either folded or left, never lost) and inside the
write lock on SQLite.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from casework.cases.models import CaseStatusDelta
from casework.cases.states import CaseStatus
from casework.db import is_postgresql, writing_session
from casework.runtime import Runtime

_FOLD_POSTGRESQL = text(
    "WITH moved AS (DELETE FROM case_status_deltas RETURNING status, delta) "
    "INSERT INTO case_status_deltas (status, delta) SELECT status, SUM(delta) FROM moved GROUP BY status")


def status_counts(session: Session) -> dict[str, int]:
    """Every status with its number of cases (zero included)."""
    counts = {status.value: 0 for status in CaseStatus}
    rows = session.execute(select(CaseStatusDelta.status, func.sum(CaseStatusDelta.delta))
                           .group_by(CaseStatusDelta.status))
    for status, total in rows:
        counts[str(status)] = int(total or 0)
    return counts


def fold(session: Session) -> int:
    """Fold the rows into one per status; the number of rows before."""
    before = int(session.execute(select(func.count(CaseStatusDelta.id))).scalar_one())
    if before <= len(CaseStatus):
        return before
    if is_postgresql(session):
        session.execute(_FOLD_POSTGRESQL)
    else:
        last = session.execute(select(func.max(CaseStatusDelta.id))).scalar_one()
        session.execute(text(
            "INSERT INTO case_status_deltas (status, delta) SELECT status, SUM(delta) FROM case_status_deltas "
            "WHERE id <= :last GROUP BY status"), {"last": last})
        session.execute(text("DELETE FROM case_status_deltas WHERE id <= :last"), {"last": last})
    return before


def run_fold(runtime: Runtime) -> int:
    with writing_session(runtime.sessions) as session, session.begin():
        return fold(session)
