"""The case documents: the JSON a case becomes for its consumer, and for a caseworker's token.

One shape for every answer that returns a case (reading it, acting on it, erasing it), so API.md describes
it once; the pydantic models here describe it in the OpenAPI document.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.api.models import AssessmentOut, NamedRef
from casework.cases.answers import refund_received
from casework.cases.models import Case, CaseEvent, Delivery
from casework.cases.states import INTERNAL_ACTIONS
from casework.cases.urgency import NO_DEADLINE
from casework.catalog import default_catalog
from casework.languages import Language
from casework.letters.models import Letter
from casework.letters.plan import letter_plan_for_case
from casework.reminders.models import Reminder
from casework.staff.models import CaseNote, StaffUser


class LetterOut(BaseModel):
    id: int
    kind: Literal["cancellation", "follow_up", "final_notice", "evidence_pack"]
    version: int
    status: Literal["pending", "rendered", "failed", "superseded"]
    sha256: str | None
    pages: int | None
    created_at: str
    sent_at: str | None
    download_url: str | None


class DeliveryOut(BaseModel):
    channel: Literal["email", "web_form", "post"]
    address: str
    at: str
    by: Literal["consumer", "staff", "system"]
    confirmation: str | None


class LetterPlanOut(BaseModel):
    """Whether a cancellation letter is written for the case (API.md 1.1); ``reason`` only when it is not."""

    letter: bool
    reason: str | None = Field(None, description="Why no letter is written, in words (only with letter: false).")


class ReminderOut(BaseModel):
    kind: str
    due_at: str
    status: str


class EventOut(BaseModel):
    at: str
    action: str
    from_status: str | None
    to_status: str | None
    actor: Literal["consumer", "staff", "system"]


class CaseOut(BaseModel):
    reference: str
    status: str
    outcome: str | None
    refund_received: dict[str, Any] | None
    provider: NamedRef
    plan: NamedRef
    created_at: str
    version: int
    email_confirmed: bool
    personal_data_deleted_at: str | None = Field(None, description="When the consumer's personal data was deleted "
                                                 "(the case is then its anonymous record).")
    subscription_start_date: str | None = Field(
        None, description="The day the subscription was first taken out (YYYY-MM-DD), or null when not known.")
    language: Language = Field(
        description="The language of the letter and of the consumer's pages and e-mails (version 1.1).")
    assessment: AssessmentOut | None
    delivery: list[DeliveryOut]
    letters: list[LetterOut]
    letter_plan: LetterPlanOut
    reminders: list[ReminderOut]
    events: list[EventOut]


class AssigneeOut(BaseModel):
    id: int
    name: str


class UrgencyOut(BaseModel):
    on: str | None = Field(description="The queue's date for this case (null: nothing dated to act on).")
    kind: str | None


class NoteOut(BaseModel):
    at: str
    by: str | None
    body: str


class StaffCaseOut(CaseOut):
    """The case as a staff token sees it: the consumer's document plus the caseworkers' view."""

    assignee: AssigneeOut | None
    needs_review: bool
    urgency: UrgencyOut
    notes: list[NoteOut]


def _instant(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value is not None else None


def case_document(session: Session, case: Case, now: dt.datetime, *, internal: bool = False) -> dict[str, Any]:
    """The case as API.md describes it, with each deadline's ``passed`` re-evaluated for today; staff-only
    events (notes, assignment, review) only when ``internal``."""
    provider = default_catalog().get(case.provider_slug)
    plan = provider.plan(case.plan_slug) if provider else None
    company = case.company or {}
    assessment = case.assessment
    if assessment is not None:
        today = now.astimezone(ZoneInfo(case.timezone)).date().isoformat()
        assessment = {**assessment, "today": today,
                      "deadlines": [{**d, "passed": d["date"] < today} for d in assessment["deadlines"]]}
    letters = session.scalars(select(Letter).where(Letter.case_id == case.id).order_by(Letter.id))
    deliveries = session.scalars(select(Delivery).where(Delivery.case_id == case.id).order_by(Delivery.id))
    reminders = session.scalars(select(Reminder).where(Reminder.case_id == case.id).order_by(Reminder.due_at))
    event_query = select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
    if not internal:
        event_query = event_query.where(CaseEvent.action.not_in(INTERNAL_ACTIONS))
    events = session.scalars(event_query)
    base = f"/api/v1/cases/{case.reference}/letters"
    return {
        "reference": case.reference,
        "status": case.status.value,
        "outcome": case.outcome.value if case.outcome else None,
        "refund_received": refund_received(case),
        "provider": {"slug": case.provider_slug, "name": company.get("name") or (provider.name if provider else "")},
        "plan": {"slug": case.plan_slug, "name": company.get("plan_name") or (plan.name if plan else "")},
        "created_at": _instant(case.created_at),
        "version": case.version,
        "email_confirmed": case.email_confirmed_at is not None,
        "personal_data_deleted_at": _instant(case.personal_data_deleted_at),
        "subscription_start_date": case.subscription_start_date.isoformat() if case.subscription_start_date else None,
        "language": case.language,
        "assessment": assessment,
        "delivery": [{"channel": d.channel, "address": d.address, "at": _instant(d.at), "by": d.by.value,
                      "confirmation": d.confirmation} for d in deliveries],
        "letters": [{"id": item.id, "kind": item.kind, "version": item.version, "status": item.status,
                     "sha256": item.sha256, "pages": item.pages, "created_at": _instant(item.created_at),
                     "sent_at": _instant(item.sent_at),
                     "download_url": f"{base}/{item.id}.pdf" if item.status == "rendered" else None}
                    for item in letters],
        "letter_plan": letter_plan_for_case(case).as_json(),
        "reminders": [{"kind": r.kind, "due_at": _instant(r.due_at), "status": r.status} for r in reminders],
        "events": [{"at": _instant(e.at), "action": e.action,
                    "from_status": e.from_status.value if e.from_status else None,
                    "to_status": e.to_status.value if e.to_status else None, "actor": e.actor.value}
                   for e in events],
    }


def _staff_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u.name for u in session.scalars(select(StaffUser).where(StaffUser.id.in_(wanted)))}


def staff_document(session: Session, case: Case, now: dt.datetime) -> dict[str, Any]:
    """The case for a staff token: every event, plus who has it, how urgent it is, and the internal notes."""
    document = case_document(session, case, now, internal=True)
    notes = list(session.scalars(select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.id)))
    names = _staff_names(session, {case.assignee_id, *(n.staff_id for n in notes)})
    assignee = case.assignee_id
    document["assignee"] = None if assignee is None else {"id": assignee, "name": names.get(assignee, "")}
    document["needs_review"] = case.needs_review
    document["urgency"] = {"on": None if case.urgency_on == NO_DEADLINE else case.urgency_on.isoformat(),
                           "kind": case.urgency_kind}
    document["notes"] = [{"at": _instant(n.created_at), "by": names.get(n.staff_id) if n.staff_id else None,
                          "body": n.body} for n in notes]
    return document
