"""How much one case may hold of what people add to it: the company's answers and the files sent with them.

Every answer and file is on the case's pages, in its evidence pack and in its ZIP; unbounded, one person could
make each of those as large as they liked. The numbers live here only. The services that add answers
(casework.cases.workflow.record_response) and files (casework.cases.answers.store_attachment) check them in the
transaction that adds, whoever adds (the consumer's form or the API, a caseworker's form or the API), so a refused
answer leaves nothing behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casework.cases.models import Case, CaseAttachment, CompanyResponse
from casework.cases.transitions import CaseConflict
from casework.db import is_postgresql

ANSWERS_PER_CASE = 50
FILES_PER_CASE = 20
FILE_BYTES_PER_CASE = 25 * 1024 * 1024  # five files at the largest one file may be (5 MB)
MEGABYTE = 1024 * 1024

Held = Literal["answers", "files"]


class CaseFull(CaseConflict):
    """The case holds as many answers or files as it may (the API's 409 ``conflict``); forms show it on the field
    that ``what`` names."""

    def __init__(self, message: str, what: Held) -> None:
        super().__init__(message)
        self.what: Held = what


@dataclass(frozen=True)
class Holdings:
    answers: int
    files: int
    file_bytes: int


def holdings(session: Session, case_id: int) -> Holdings:
    answers = session.execute(select(func.count()).select_from(CompanyResponse)
                              .where(CompanyResponse.case_id == case_id)).scalar_one()
    files, size = session.execute(select(func.count(), func.coalesce(func.sum(CaseAttachment.size), 0))
                                  .where(CaseAttachment.case_id == case_id)).one()
    return Holdings(int(answers), int(files), int(size))


def _megabytes(size: int) -> str:
    return f"{size / MEGABYTE:.1f}".removesuffix(".0")


def require_room(session: Session, case: Case, *, answers: int = 0, file_size: int | None = None) -> None:
    """Raise :class:`CaseFull` unless the case can take ``answers`` more answers and a file of ``file_size`` bytes.

    On PostgreSQL the case row is locked first, so two requests adding at once cannot both take the last place
    (SQLite's writing transactions already run one at a time).
    """
    if is_postgresql(session):
        session.execute(select(Case.id).where(Case.id == case.id).with_for_update())
    held = holdings(session, case.id)
    if answers and held.answers + answers > ANSWERS_PER_CASE:
        raise CaseFull(f"This case already holds {ANSWERS_PER_CASE} answers from the company, the most one case "
                       "keeps. Nothing was saved.", "answers")
    if file_size is None:
        return
    if held.files + 1 > FILES_PER_CASE:
        raise CaseFull(f"This case already holds {FILES_PER_CASE} files, the most one case keeps. Nothing was "
                       "saved; send the answer without a file.", "files")
    if held.file_bytes + file_size > FILE_BYTES_PER_CASE:
        raise CaseFull(f"This file would take the case's files over {_megabytes(FILE_BYTES_PER_CASE)} MB in all "
                       f"(they hold {_megabytes(held.file_bytes)} MB now). Nothing was saved; send a smaller copy "
                       "or a screenshot, or the answer without a file.", "files")
