"""Which stored pack is the case's current one, and asking the worker for it when none is.

Building the pack's contents is a few reads; rendering it is the slow part, so a request only builds, names the
contents by their digest and either serves the stored files of that digest or queues one job for them. The
digest leaves out when the pack was generated: a pack of the same records is the same pack.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from functools import cache
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from casework.db import is_postgresql
from casework.evidence.models import StoredPack
from casework.evidence.pack import (
    PACK_CSS,
    PACK_TEMPLATE,
    CardDisputeRow,
    DeliveryRow,
    EmailRow,
    EventRow,
    EvidencePack,
    LetterRow,
    ResponseRow,
)
from casework.jobs.dispatch import dispatch_after_commit
from casework.letters.render import LETTER_TEMPLATES

PACK_TASK = "evidence.render_pack"
# When the pack was made is printed on it but says nothing about what it holds.
_GENERATED = ("generated_at", "generated_at_utc")
_ROWS: dict[str, type[Any]] = {"events": EventRow, "letters": LetterRow, "deliveries": DeliveryRow,
                               "emails": EmailRow, "responses": ResponseRow, "card_dispute": CardDisputeRow}
Extension = Literal["pdf", "zip"]


@cache
def pack_template_version() -> str:
    """A hash of what draws the pack (its template and both stylesheets): a new design makes stored packs stale."""
    sources = [(LETTER_TEMPLATES / name).read_text(encoding="utf-8") for name in (PACK_TEMPLATE, "letter.css")]
    sources.append(PACK_CSS.read_text(encoding="utf-8"))
    return hashlib.sha256("\0".join(sources).encode()).hexdigest()[:12]


def pack_data(pack: EvidencePack) -> dict[str, Any]:
    """The pack as JSON, for the job row (the worker renders exactly this)."""
    return dataclasses.asdict(pack)


def pack_from_data(data: dict[str, Any]) -> EvidencePack:
    return EvidencePack(**{**data, **{key: [row(**item) for item in data[key]] for key, row in _ROWS.items()}})


def pack_digest(data: dict[str, Any]) -> str:
    """What the pack shows, as a SHA-256: the same records (and templates) give the same digest."""
    contents = {key: value for key, value in data.items() if key not in _GENERATED}
    text = json.dumps({"template": pack_template_version(), "pack": contents}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def stored_file(session: Session, case_id: int, digest: str, extension: Extension) -> tuple[str | None, bytes | None]:
    """The status of the pack of these contents (None: never asked for) and its file once it is rendered."""
    column = StoredPack.pdf if extension == "pdf" else StoredPack.archive
    row = session.execute(
        select(StoredPack.status, column).where(StoredPack.case_id == case_id, StoredPack.digest == digest)
    ).first()
    if row is None:
        return None, None
    status, body = row
    return str(status), body if status == "rendered" else None


def request_pack(session: Session, case_id: int, data: dict[str, Any], now: dt.datetime) -> int | None:
    """Queue the render of a pack of these contents, once: returns the queued row's id, or None when a job for it
    already exists (another request queued it, or it is rendered). A failed one is tried again.

    Concurrent requests meet at the unique (case, digest) pair: one inserts, the others insert nothing.
    """
    digest = pack_digest(data)
    values = {"case_id": case_id, "digest": digest, "status": "pending", "data": data, "attempts": 0,
              "created_at": now, "relay_at": now}
    dialect = postgresql if is_postgresql(session) else sqlite
    inserted = session.execute(
        dialect.insert(StoredPack).values(**values)
        .on_conflict_do_nothing(index_elements=["case_id", "digest"])
        .returning(StoredPack.id)
    ).scalar_one_or_none()
    if inserted is None:
        inserted = session.execute(
            update(StoredPack)
            .where(StoredPack.case_id == case_id, StoredPack.digest == digest, StoredPack.status == "failed")
            .values(status="pending", attempts=0, relay_at=now, last_error=None)
            .returning(StoredPack.id)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
    if inserted is not None:
        dispatch_after_commit(session, PACK_TASK, [inserted])
    return inserted
