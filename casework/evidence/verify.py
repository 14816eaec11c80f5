"""What ``/verify/<code>`` may say about a letter: enough to check it, nothing about the person.

The code is printed on the letter, so whoever holds the letter can read it aloud or type it; the
answer names the case, the letter, its date, its SHA-256 and when it was delivered, and never the
consumer's name, addresses or account.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.cases.models import Case, Delivery
from casework.cases.references import CROCKFORD
from casework.letters.models import Letter

# Crockford base32 reads I and L as 1 and O as 0, so a code copied by eye still works.
_LOOK_ALIKES = str.maketrans({"I": "1", "L": "1", "O": "0"})
_SEPARATORS = re.compile(r"[\s\-]+")
CODE_LENGTH = 10
VERIFIABLE = ("rendered", "superseded")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def normalise_code(raw: str) -> str | None:
    """``7k2qf m9xza``, ``7K2QFM9XZA``, ``7K2QF-M9XZA`` → ``7K2QF-M9XZA``; anything else → None."""
    chars = _SEPARATORS.sub("", raw[:40]).upper().translate(_LOOK_ALIKES)
    if len(chars) != CODE_LENGTH or any(char not in CROCKFORD for char in chars):
        return None
    return f"{chars[:5]}-{chars[5:]}"


def normalise_sha256(raw: str) -> str | None:
    """A hex digest as ``sha256sum`` prints it (any case, surrounding spaces ignored)."""
    value = raw.strip().lower()[:64 + 1]
    return value if SHA256_RE.match(value) else None


@dataclass(frozen=True)
class DeliveryFact:
    channel: str
    at: dt.datetime


@dataclass(frozen=True)
class LetterCheck:
    """The public facts of one letter."""

    verification_code: str
    reference: str
    company: str
    kind: str
    version: int
    letter_date: str | None
    rendered_at: dt.datetime | None
    sha256: str
    pages: int | None
    superseded: bool
    superseded_by_version: int | None
    deliveries: tuple[DeliveryFact, ...]

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["rendered_at"] = _instant(self.rendered_at)
        data["deliveries"] = [{"channel": d.channel, "at": _instant(d.at)} for d in self.deliveries]
        return data


def _instant(value: dt.datetime | None) -> str | None:
    """The API's form of an instant: ISO 8601 in UTC."""
    return value.astimezone(dt.UTC).isoformat() if value is not None else None


def check_letter(session: Session, code: str) -> LetterCheck | None:
    """The letter with this (normalised) code, if it is rendered or superseded; else None."""
    letter = session.execute(
        select(Letter).where(Letter.verification_code == code, Letter.status.in_(VERIFIABLE))
    ).scalar_one_or_none()
    if letter is None or letter.sha256 is None:
        return None
    reference = session.execute(select(Case.reference).where(Case.id == letter.case_id)).scalar_one()
    newer = session.execute(
        select(Letter.version).where(Letter.supersedes_id == letter.id).order_by(Letter.version).limit(1)
    ).scalar_one_or_none()
    deliveries = session.execute(
        select(Delivery.channel, Delivery.at).where(Delivery.letter_id == letter.id).order_by(Delivery.at)
    ).all()
    snapshot = letter.data_snapshot or {}
    company = snapshot.get("company") or {}
    return LetterCheck(
        verification_code=code,
        reference=reference,
        company=str(company.get("name") or ""),
        kind=letter.kind,
        version=letter.version,
        letter_date=snapshot.get("letter_date"),
        rendered_at=letter.rendered_at,
        sha256=letter.sha256,
        pages=letter.pages,
        superseded=letter.status == "superseded" or newer is not None,
        superseded_by_version=newer,
        deliveries=tuple(DeliveryFact(channel=row.channel, at=row.at) for row in deliveries),
    )
