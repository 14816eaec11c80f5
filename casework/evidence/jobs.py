"""The pack job: claim the row, render its frozen contents outside any transaction, store PDF and ZIP once.

The render writes nothing the pack itself lists (no case event): a pack that changed its own case would never
be current. Once a pack is stored, the case's older ones are stale and go.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, undefer

from casework.evidence.bundle import evidence_zip
from casework.evidence.models import StoredPack
from casework.evidence.pack import EVIDENCE_STATUSES, EvidencePack, letter_order, render_pack
from casework.evidence.stored import pack_from_data
from casework.jobs.claimed import ClaimedJob, JobFailure, run_claimed
from casework.letters.models import Letter
from casework.runtime import Runtime

log = logging.getLogger("casework.evidence")


@dataclass(frozen=True)
class _Order:
    case_id: int
    pack: EvidencePack
    letters: list[tuple[str, bytes]]


@dataclass(frozen=True)
class _Rendered:
    pdf: bytes
    archive: bytes


def listed_letters(session: Session, case_id: int, pack: EvidencePack) -> list[tuple[str, bytes]]:
    """The stored PDFs of the letters the pack lists (by file name and SHA-256), in the pack's order.

    A letter rendered after the pack was asked for is not in it, so it is not in the ZIP either.
    """
    listed = {row.sha256: row.filename for row in reversed(pack.letters) if row.filename}  # the first name wins
    letters = session.scalars(
        select(Letter).options(undefer(Letter.pdf))
        .where(Letter.case_id == case_id, Letter.status.in_(EVIDENCE_STATUSES), Letter.kind != "evidence_pack"))
    found: list[tuple[str, bytes]] = []
    for letter in sorted(letters, key=letter_order):
        name = listed.get(letter.sha256)
        if name is not None and letter.pdf is not None:
            found.append((name, letter.pdf))
    return found


class RenderPack(ClaimedJob[_Order, _Rendered]):
    table = StoredPack
    done = "rendered"

    def load(self, session: Session, job_id: int) -> _Order:
        row = session.execute(select(StoredPack).where(StoredPack.id == job_id)).scalar_one()
        pack = pack_from_data(row.data)
        return _Order(row.case_id, pack, listed_letters(session, row.case_id, pack))

    def work(self, job_id: int, prepared: _Order) -> _Rendered | JobFailure:
        try:
            pdf = render_pack(prepared.pack)
            return _Rendered(pdf, evidence_zip(prepared.pack.reference, pdf, prepared.letters))
        except Exception as exc:
            log.exception("evidence pack %s failed to render", job_id)
            return JobFailure(f"{type(exc).__name__}: {exc}", permanent=False)

    def result(self, result: _Rendered, now: dt.datetime) -> dict[str, Any]:
        return {"status": "rendered", "pdf": result.pdf, "archive": result.archive, "rendered_at": now}

    def finished(self, session: Session, job_id: int, prepared: _Order, result: _Rendered,
                 now: dt.datetime) -> None:
        # Rows are made in the order the case's records grew: an older one shows less than this one.
        session.execute(delete(StoredPack).where(StoredPack.case_id == prepared.case_id, StoredPack.id < job_id)
                        .execution_options(synchronize_session=False))


def render_evidence_pack(runtime: Runtime, pack_id: int) -> str:
    """Render one pack row; returns what happened (``rendered``, ``skipped``, ``retry``, ``failed``)."""
    return run_claimed(RenderPack(runtime), pack_id)
