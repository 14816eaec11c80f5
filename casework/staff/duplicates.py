"""Duplicate cases: the same consumer asking about the same company twice while both cases are open.

Caseworkers see them flagged (on the queue and on the case page) and fold one into the other, so one timeline
carries the request and the company does not get two letters. Nothing of the folded case is deleted: it is
closed without an outcome, points to the case that carries on, and keeps its letters, e-mails and events.
The match is the consumer's e-mail address (any case, as the database lowers it: the same ``lower()`` that
PostgreSQL's ``ix_cases_email_lower`` index holds) and the company: the catalog slug, and for "another company"
its name, compared without regard to case or spacing.

Only confirmed addresses count. Anyone can file a case with anyone's address, so two cases sharing an address
nobody confirmed show nothing about who filed them: flagging them would invite a caseworker to fold a stranger's
case into the owner's (or the owner's into a stranger's), joining their timelines. Such cases are neither flagged
nor merged; once the owner of the address confirms it with the code we sent there, the case is theirs.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from casework.cases.delivery import LETTER_TO_COMPANY
from casework.cases.models import Case, CaseEvent
from casework.cases.states import FINISHED, Actor, CaseStatus
from casework.cases.transitions import CaseConflict, finish
from casework.config import Settings
from casework.mail.models import OutboundEmail
from casework.reminders import planning as reminder_planning
from casework.reminders.models import REMINDER_KINDS
from casework.staff.models import StaffUser

OTHER = "other"
# How deep a chain of merges (A into B, then B into C) the survivor's timeline follows.
MAX_MERGE_DEPTH = 10


def company_key(provider_slug: str, company: dict[str, Any] | None) -> str | None:
    """The company as duplicates compare it; None for "another company" without a name (nothing to compare)."""
    if provider_slug != OTHER:
        return provider_slug
    name = " ".join(str((company or {}).get("name") or "").split()).casefold()
    return f"{OTHER}:{name}" if name else None


def can_have_duplicates(case: Case) -> bool:
    """Only open cases with their personal data and a confirmed address are compared: a finished or emptied case
    asks for nothing, and an unconfirmed address says nothing about who filed the case."""
    return (case.status not in FINISHED and case.personal_data_deleted_at is None
            and case.email_confirmed_at is not None
            and company_key(case.provider_slug, case.company) is not None)


def _open_with_data() -> list[ColumnElement[bool]]:
    return [Case.status.not_in(FINISHED), Case.personal_data_deleted_at.is_(None), Case.email_confirmed_at.is_not(None)]


def duplicates_of(session: Session, case: Case) -> list[Case]:
    """The other open cases of this consumer and company (confirmed addresses only), oldest first."""
    if not can_have_duplicates(case):
        return []
    key = company_key(case.provider_slug, case.company)
    candidates = session.scalars(
        select(Case).where(func.lower(Case.consumer_email) == func.lower(case.consumer_email),
                           Case.provider_slug == case.provider_slug, Case.id != case.id, *_open_with_data())
        .order_by(Case.created_at, Case.id)
    )
    return [other for other in candidates if company_key(other.provider_slug, other.company) == key]


def duplicate_ids(session: Session, cases: Iterable[Case]) -> set[int]:
    """Which of these cases (a queue page) have an open duplicate: one query for the whole page."""
    wanted = {case.id: case for case in cases if can_have_duplicates(case)}
    if not wanted:
        return set()
    emails = sorted({case.consumer_email for case in wanted.values()})
    slugs = sorted({case.provider_slug for case in wanted.values()})
    rows = session.execute(
        select(Case.id, func.lower(Case.consumer_email), Case.provider_slug, Case.company)
        .where(func.lower(Case.consumer_email).in_([func.lower(email) for email in emails]),
               Case.provider_slug.in_(slugs), *_open_with_data())
    ).all()
    keys = {int(case_id): (str(email), company_key(slug, company)) for case_id, email, slug, company in rows}
    sizes = Counter(key for key in keys.values() if key[1] is not None)
    return {case_id for case_id, key in keys.items() if case_id in wanted and sizes[key] > 1}


def merged_ids(session: Session, survivor: Case) -> dict[int, str]:
    """Every case merged into this one, also through a case merged into it earlier: id → reference."""
    found: dict[int, str] = {}
    level = [survivor.id]
    for _ in range(MAX_MERGE_DEPTH):
        rows = session.execute(select(Case.id, Case.reference).where(Case.merged_into_id.in_(level))).all()
        fresh = {int(case_id): str(reference) for case_id, reference in rows if case_id not in found}
        if not fresh:
            break
        found.update(fresh)
        level = list(fresh)
    return found


def joined_timeline(session: Session, survivor: Case) -> tuple[list[CaseEvent], dict[int, str]]:
    """The survivor's events with those of every case merged into it, by time; and the merged cases' references
    (by case id) so the page can mark whose event each is."""
    merged = merged_ids(session, survivor)
    events = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id.in_([survivor.id, *merged]))
                                  .order_by(CaseEvent.at, CaseEvent.id)))
    return events, merged


def _check(session: Session, survivor: Case, absorbed: Case) -> None:
    """409 with a sentence unless both are open duplicates of each other."""
    if survivor.id == absorbed.id:
        raise CaseConflict("A case cannot be merged into itself.")
    for case in (survivor, absorbed):
        if case.personal_data_deleted_at is not None:
            raise CaseConflict(f"The personal data of {case.reference} is deleted; it cannot be merged.")
        if case.status in FINISHED:
            raise CaseConflict(f"{case.reference} is {case.status.value}; only open cases can be merged.")
        if case.email_confirmed_at is None:
            raise CaseConflict(f"The consumer of {case.reference} has not confirmed their e-mail address, so it does "
                               "not show who filed the case; only cases with a confirmed address can be merged.")
    same_consumer = session.execute(select(func.lower(survivor.consumer_email) == func.lower(absorbed.consumer_email)))
    if not same_consumer.scalar_one():
        raise CaseConflict(f"{absorbed.reference} is not a duplicate of {survivor.reference}: the consumer's "
                           "e-mail address differs.")
    if company_key(survivor.provider_slug, survivor.company) != company_key(absorbed.provider_slug, absorbed.company):
        raise CaseConflict(f"{absorbed.reference} is not a duplicate of {survivor.reference}: the company differs.")


def _stop_outgoing(session: Session, case_id: int) -> None:
    """The folded case sends nothing more: its scheduled reminders and a letter e-mail not yet taken by the
    sender are cancelled (as when a case is withdrawn); what was sent stays as the record."""
    reminder_planning.cancel_reminders(session, case_id, REMINDER_KINDS)
    session.execute(
        update(OutboundEmail)
        .where(OutboundEmail.case_id == case_id, OutboundEmail.status == "pending",
               OutboundEmail.kind == LETTER_TO_COMPANY, OutboundEmail.claim_token.is_(None))
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )


def merge(session: Session, settings: Settings, survivor: Case, absorbed: Case, staff: StaffUser,
          now: dt.datetime) -> None:
    """Fold ``absorbed`` into ``survivor``: closed without an outcome, pointing to the survivor, its company
    clock stopped and its reminders cancelled; an event on each case names the other."""
    _check(session, survivor, absorbed)
    absorbed.status_before_needs_info = None
    finish(session, absorbed, CaseStatus.CLOSED, None, Actor.STAFF, "merged_into", now,
           data={"into": survivor.reference}, staff_id=staff.id)
    absorbed.merged_into_id = survivor.id
    absorbed.answer_due_on = absorbed.escalation_due_at = None
    absorbed.updated_at = survivor.updated_at = now
    session.add(CaseEvent(case_id=survivor.id, at=now, actor=Actor.STAFF, actor_staff_id=staff.id,
                          action="merged_from", data={"from": absorbed.reference}))
    _stop_outgoing(session, absorbed.id)
