"""Requesting letters (a job row) and finishing them (write-once evidence, then the e-mail)."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any
from zoneinfo import ZoneInfo

from flask import has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.cases.models import Case, CaseEvent, CompanyResponse
from casework.cases.references import CROCKFORD
from casework.cases.states import Actor
from casework.jobs.dispatch import dispatch_after_commit
from casework.letters.models import Letter
from casework.letters.snapshot import earlier_entry, letter_snapshot
from casework.runtime import runtime_of

log = logging.getLogger("casework.letters")
RENDER_TASK = "letters.render"


def latest_letter(session: Session, case_id: int, kind: str = "cancellation") -> Letter | None:
    return session.execute(
        select(Letter).where(Letter.case_id == case_id, Letter.kind == kind)
        .order_by(Letter.version.desc()).limit(1)
    ).scalar_one_or_none()


def new_verification_code() -> str:
    """10 random Crockford base32 characters (50 bits), grouped for reading aloud: ``XXXXX-XXXXX``."""
    bits = secrets.randbits(50)
    chars = "".join(CROCKFORD[(bits >> shift) & 0x1F] for shift in range(45, -1, -5))
    return f"{chars[:5]}-{chars[5:]}"


def verify_path(code: str) -> str:
    """Where anyone holding the letter can check it (reference, date, SHA-256; no personal data)."""
    return f"/verify/{code}"


def pending_letter_values(
    case: Case, kind: str, version: int, now: dt.datetime, *,
    earlier: list[dict[str, Any]] | None = None, base_url: str | None = None,
    retention_offers: list[dt.date] | None = None,
) -> dict[str, Any]:
    """A letter job's columns: its frozen facts (with its verification code), due for rendering now."""
    code = new_verification_code()
    base = base_url if base_url is not None else configured_base_url()
    snapshot = letter_snapshot(case, kind, version, now, earlier=earlier, base_url=base,
                               retention_offers=retention_offers)
    snapshot["verification_code"] = code
    snapshot["verify_url"] = f"{snapshot['base_url'] or ''}{verify_path(code)}"
    return {"kind": kind, "version": version, "status": "pending", "verification_code": code,
            "data_snapshot": snapshot, "created_at": now, "relay_at": now}


def configured_base_url() -> str | None:
    """The public address from the running app's settings; None outside an app (the letter prints the path)."""
    if not has_app_context():
        return None
    return runtime_of().settings.base_url


def earlier_letters(session: Session, case: Case, kind: str) -> list[dict[str, Any]]:
    """The letters a follow-up or final notice refers to: the cancellation letter, then any follow-up."""
    if kind == "cancellation":
        return []
    kinds = ["cancellation"] if kind == "follow_up" else ["cancellation", "follow_up"]
    found: list[dict[str, Any]] = []
    zone = ZoneInfo(case.timezone)
    for earlier_kind in kinds:
        letter = session.execute(
            select(Letter).where(Letter.case_id == case.id, Letter.kind == earlier_kind, Letter.status == "rendered")
            .order_by(Letter.version.desc()).limit(1)
        ).scalar_one_or_none()
        if letter is None:
            continue
        sent_on = letter.sent_at.astimezone(zone).date() if letter.sent_at else None
        found.append(earlier_entry(letter.kind, letter.version, letter.data_snapshot, letter.sha256, sent_on))
    if not found or found[0]["kind"] != "cancellation":
        raise ValueError(f"a {kind} letter needs the case's rendered cancellation letter first")
    return found


def retention_offers(session: Session, case: Case) -> list[dt.date]:
    """The days the company offered terms to keep the consumer: every later letter declines them."""
    return list(session.scalars(
        select(CompanyResponse.received_on)
        .where(CompanyResponse.case_id == case.id, CompanyResponse.type == "retention_offer")
        .order_by(CompanyResponse.received_on)))


def request_letter(session: Session, case: Case, kind: str, now: dt.datetime, *,
                   base_url: str | None = None) -> Letter:
    """Add a pending letter of ``kind`` with its frozen facts; the worker renders it after commit.

    A new version supersedes the previous one. A follow-up or final notice refers to the case's rendered
    cancellation letter (a ``ValueError`` if there is none).
    """
    previous = latest_letter(session, case.id, kind)
    version = previous.version + 1 if previous is not None else 1
    if previous is not None and previous.status in ("pending", "rendered"):
        previous.status = "superseded"
    letter = Letter(case_id=case.id, supersedes_id=previous.id if previous is not None else None,
                    **pending_letter_values(case, kind, version, now, earlier=earlier_letters(session, case, kind),
                                            base_url=base_url, retention_offers=retention_offers(session, case)))
    session.add(letter)
    session.flush()
    session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.SYSTEM, action="letter_requested",
                          data={"letter_id": letter.id, "kind": kind, "version": version}))
    dispatch_after_commit(session, RENDER_TASK, [letter.id])
    return letter
