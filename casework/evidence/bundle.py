"""The letters as sent: a ZIP of the evidence pack and every stored letter PDF, byte for byte.

Entry names and times are fixed, so the same case and pack always give the same archive layout,
and ``SHA256SUMS`` can be checked with ``sha256sum -c SHA256SUMS`` inside the unpacked folder.
"""

from __future__ import annotations

import hashlib
import io
import zipfile

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from casework.cases.delivery import letter_filename
from casework.cases.models import Case
from casework.evidence.pack import EVIDENCE_STATUSES, letter_order, pack_filename
from casework.letters.models import Letter

# ZIP cannot store dates before 1980; one fixed stamp keeps the archive independent of the clock.
ENTRY_TIME = (1980, 1, 1, 0, 0, 0)
SUMS_NAME = "SHA256SUMS"


def stored_letters(session: Session, case: Case) -> list[tuple[str, bytes]]:
    """Every rendered or superseded letter's stored PDF, under its usual file name, in the pack's order (by date)."""
    letters = session.scalars(
        select(Letter).options(undefer(Letter.pdf))
        .where(Letter.case_id == case.id, Letter.status.in_(EVIDENCE_STATUSES), Letter.kind != "evidence_pack")
    )
    return [(letter_filename(case, letter), letter.pdf) for letter in sorted(letters, key=letter_order)
            if letter.pdf is not None]


def sha256_sums(files: list[tuple[str, bytes]]) -> str:
    """``sha256sum``'s format: the hex digest, two spaces, the name."""
    return "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in files)


def evidence_zip(reference: str, pack_pdf: bytes, letters: list[tuple[str, bytes]]) -> bytes:
    """The case's pack and its letters, with ``SHA256SUMS``."""
    files = [(pack_filename(reference, "pdf"), pack_pdf), *letters]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in [*files, (SUMS_NAME, sha256_sums(files).encode())]:
            entry = zipfile.ZipInfo(name, date_time=ENTRY_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, data)
    return buffer.getvalue()
