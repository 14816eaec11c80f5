"""Confirmation codes: the consumer confirms their e-mail address and the letter in one act.

A code is sent with the letter; the page the e-mail links to shows the letter and a button that
posts the code. Opening the link changes nothing (mail scanners open links). Codes are stored as
HMACs, live 7 days and allow 5 attempts; a new code supersedes the old ones.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from casework.cases.models import ConfirmationCode
from casework.cases.references import CROCKFORD
from casework.cases.tokens import token_hmac
from casework.mail.sealed import remember

CODE_LIFETIME = dt.timedelta(days=7)
MAX_ATTEMPTS = 5


def normalise_code(code: str) -> str:
    """Codes are read aloud and retyped: ignore case, spaces and dashes; O→0, I/L→1 (Crockford)."""
    cleaned = code.upper().replace("-", "").replace(" ", "")
    return cleaned.translate(str.maketrans("OIL", "011"))


def supersede_codes(session: Session, case_id: int, now: dt.datetime) -> None:
    """The case's unused codes stop working (a new one replaces them, or the address they went to changed)."""
    session.execute(
        update(ConfirmationCode)
        .where(ConfirmationCode.case_id == case_id, ConfirmationCode.used_at.is_(None),
               ConfirmationCode.superseded_at.is_(None))
        .values(superseded_at=now)
        .execution_options(synchronize_session=False)
    )


def ever_confirmed(session: Session, case_id: int) -> bool:
    """Whether a code of this case was ever used: someone proved an address of it, if not the current one."""
    return session.execute(select(ConfirmationCode.id).where(
        ConfirmationCode.case_id == case_id, ConfirmationCode.used_at.is_not(None)).limit(1)).first() is not None


def issue_code(session: Session, case_id: int, letter_id: int | None, email: str, secret_key: str,
               now: dt.datetime) -> tuple[ConfirmationCode, str]:
    """A new code for this letter (None: the address alone, for a case without one or a changed address);
    earlier unused codes of the case stop working."""
    supersede_codes(session, case_id, now)
    code = "".join(secrets.choice(CROCKFORD) for _ in range(8))
    row = ConfirmationCode(case_id=case_id, letter_id=letter_id, email=email,
                           code_hmac=token_hmac(secret_key, code), created_at=now,
                           expires_at=now + CODE_LIFETIME)
    session.add(row)
    session.flush()
    return row, remember(session, f"{code[:4]}-{code[4:]}")


def current_code(session: Session, case_id: int) -> ConfirmationCode | None:
    return session.execute(
        select(ConfirmationCode)
        .where(ConfirmationCode.case_id == case_id, ConfirmationCode.superseded_at.is_(None),
               ConfirmationCode.used_at.is_(None))
        .order_by(ConfirmationCode.id.desc())
        .limit(1)
        .with_for_update()
    ).scalar_one_or_none()


class CodeRefused(Exception):
    """Why a code was not accepted, in words for the consumer."""


class LiveCode(Protocol):
    """A code e-mailed to the consumer and typed back: confirmation codes and erasure codes alike."""

    code_hmac: bytes
    expires_at: dt.datetime
    attempts: int
    used_at: dt.datetime | None


def check_code(row: LiveCode, code: str, secret_key: str, now: dt.datetime) -> None:
    """Count the attempt and raise CodeRefused unless ``code`` is the live code."""
    if row.expires_at <= now:
        raise CodeRefused("This code has expired. Ask for a new one.")
    if row.attempts >= MAX_ATTEMPTS:
        raise CodeRefused("Too many wrong attempts for this code. Ask for a new one.")
    row.attempts += 1
    if not hmac.compare_digest(row.code_hmac, token_hmac(secret_key, normalise_code(code))):
        left = MAX_ATTEMPTS - row.attempts
        raise CodeRefused(
            f"That code is not right. {left} attempt{'s' if left != 1 else ''} left."
            if left else "That code is not right, and it no longer works. Ask for a new one."
        )
    row.used_at = now
