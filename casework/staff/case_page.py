"""The case as staff see it: everything on the page is read by ``read_case_page`` into one ``CasePage``, so the
page's dozen queries sit in one function and the routes only log the look and render."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from flask import Response, abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.access import route_rule
from casework.cases import clock
from casework.cases.answers import RESPONSE_TYPES, info_request
from casework.cases.models import Case, CaseAttachment, CaseEvent, CompanyResponse, Delivery
from casework.cases.states import ESCALATION_KINDS, CaseStatus, Outcome
from casework.cases.urgency import NO_DEADLINE
from casework.cases.workflow import awaiting_approval, delivery_channel
from casework.config import Settings
from casework.db import utcnow
from casework.letters.models import Letter
from casework.letters.plan import LetterPlan, letter_plan_for_case
from casework.letters.services import latest_letter
from casework.mail.models import OutboundEmail
from casework.reminders.models import Reminder
from casework.runtime import runtime_of
from casework.staff import case_panel, duplicates
from casework.staff.actions import transitions_for
from casework.staff.blueprint import bp
from casework.staff.models import CaseNote, CaseRead, StaffUser
from casework.staff.reads import log_read_now, opened_from_our_site
from casework.web import db

READS_SHOWN = 20


@dataclasses.dataclass(frozen=True)
class CasePage:
    """What the case page shows; each field is a name in staff/case.html."""

    case: Case
    timeline: list[CaseEvent]  # with the events of the cases merged into this one
    merged_refs: dict[int, str]
    merged_into: Case | None
    duplicates: list[Case]
    events: list[CaseEvent]
    letters: list[Letter]
    letter: Letter | None
    channel: tuple[str, str] | None
    emails: list[OutboundEmail]
    deliveries: list[Delivery]
    awaiting_approval: bool
    flags: list[str]
    to_submit: tuple[Letter, str, str] | None
    notes: list[CaseNote]
    reads: list[CaseRead]
    responses: list[CompanyResponse]
    attachments: list[CaseAttachment]
    reminders: list[Reminder]
    staff_names: dict[int, str]
    staff_choices: list[StaffUser]
    transitions: list[str]
    info_question: str | None
    can_regenerate: bool
    can_resend: bool
    follow_up_possible: bool
    me: int
    is_supervisor: bool
    letter_plan: LetterPlan
    actions: list[str]  # the side panel's forms, most relevant first (casework.staff.case_panel)
    response_types: Mapping[str, str] = dataclasses.field(default_factory=lambda: RESPONSE_TYPES)
    outcomes: list[str] = dataclasses.field(
        default_factory=lambda: [o.value for o in Outcome if o is not Outcome.WITHDRAWN])
    escalation_kinds: tuple[str, ...] = ESCALATION_KINDS
    no_deadline: dt.date = NO_DEADLINE

    def template_context(self) -> dict[str, Any]:
        """The fields by name, shallow (``dataclasses.asdict`` would deep-copy the rows)."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


def read_case_page(session_db: Session, settings: Settings, found: Case, me: int, is_supervisor: bool) -> CasePage:
    """Everything staff may see of the case: timeline, letters, e-mails, notes, who viewed it, the company's
    answers, duplicates, and what may be done now (nothing more on a case merged into another)."""
    case_id = found.id
    timeline, merged_refs = duplicates.joined_timeline(session_db, found)
    events = sorted((e for e in timeline if e.case_id == case_id), key=lambda e: e.id)
    letters = list(session_db.scalars(select(Letter).where(Letter.case_id == case_id).order_by(Letter.id)))
    emails = list(session_db.scalars(select(OutboundEmail).where(OutboundEmail.case_id == case_id)
                                     .order_by(OutboundEmail.id)))
    deliveries = list(session_db.scalars(select(Delivery).where(Delivery.case_id == case_id).order_by(Delivery.id)))
    letter = latest_letter(session_db, case_id)
    notes = list(session_db.scalars(select(CaseNote).where(CaseNote.case_id == case_id).order_by(CaseNote.id)))
    reads = list(session_db.scalars(select(CaseRead).where(CaseRead.case_id == case_id)
                                    .order_by(CaseRead.at.desc(), CaseRead.id.desc()).limit(READS_SHOWN)))
    responses = list(session_db.scalars(select(CompanyResponse).where(CompanyResponse.case_id == case_id)
                                        .order_by(CompanyResponse.id)))
    attachments = list(session_db.scalars(select(CaseAttachment).where(CaseAttachment.case_id == case_id)
                                          .order_by(CaseAttachment.id)))
    reminders = list(session_db.scalars(select(Reminder).where(Reminder.case_id == case_id)
                                        .order_by(Reminder.due_at, Reminder.id)))
    ids = {e.actor_staff_id for e in timeline} | {n.staff_id for n in notes} | {r.staff_id for r in reads}
    ids |= {d.by_staff_id for d in deliveries} | {found.assignee_id}
    merged = found.merged_into_id is not None
    channel = delivery_channel(letter) if letter is not None else None
    transitions = [] if merged else [s.value for s in transitions_for(found)]
    to_submit = _to_submit(session_db, found)
    can_regenerate, can_resend = not merged and _can_regenerate(found, letter), not merged and _can_resend(found)
    follow_up_possible = (found.status is CaseStatus.SENT and not clock.answered_since_delivery(session_db, found)
                          and found.personal_data_deleted_at is None)
    waiting_for_approval = found.confirmed_at is not None and awaiting_approval(settings, found)
    state = case_panel.CaseState(
        status=found.status, transitions=transitions, awaiting_approval=waiting_for_approval,
        channel_kind=channel[0] if channel else None, letter_sent=letter is not None and letter.sent_at is not None,
        letter_failed=letter is not None and letter.status == "failed", to_submit=to_submit is not None,
        follow_up_possible=follow_up_possible, can_regenerate=can_regenerate, can_resend=can_resend,
        answerable=not merged and found.personal_data_deleted_at is None,
        answer_since_delivery=_answer_since_delivery(responses, deliveries))
    return CasePage(
        case=found, timeline=timeline, merged_refs=merged_refs,
        merged_into=session_db.get(Case, found.merged_into_id) if found.merged_into_id is not None else None,
        duplicates=duplicates.duplicates_of(session_db, found), events=events, letters=letters, letter=letter,
        channel=channel, emails=emails, deliveries=deliveries, awaiting_approval=waiting_for_approval,
        flags=clock.staff_flags(session_db, [found])[case_id], to_submit=to_submit,
        notes=notes, reads=reads, responses=responses, attachments=attachments, reminders=reminders,
        staff_names=_names(session_db, {i for i in ids if i is not None}),
        staff_choices=_staff_choices(session_db) if is_supervisor else [],
        transitions=transitions,
        info_question=info_request(events) if found.status is CaseStatus.NEEDS_INFO else None,
        can_regenerate=can_regenerate, can_resend=can_resend, follow_up_possible=follow_up_possible,
        me=me, is_supervisor=is_supervisor, letter_plan=letter_plan_for_case(found),
        actions=case_panel.action_order(state))


def _answer_since_delivery(responses: list[CompanyResponse], deliveries: list[Delivery]) -> str | None:
    """The type of the latest answer recorded after the latest delivery (or with none recorded), else None."""
    if not responses:
        return None
    latest = max(responses, key=lambda r: (r.created_at, r.id))
    if deliveries and latest.created_at < max(d.at for d in deliveries):
        return None
    return latest.type


def _can_regenerate(found: Case, latest: Letter | None) -> bool:
    if not letter_plan_for_case(found).letter or found.personal_data_deleted_at is not None:
        return False
    return (latest is not None and latest.status == "failed") or (
        found.status is CaseStatus.NEW and found.confirmed_at is None)


def _can_resend(found: Case) -> bool:
    return found.status not in (CaseStatus.RESOLVED, CaseStatus.CLOSED, CaseStatus.NEW)


def _names(session_db: Session, ids: set[int]) -> dict[int, str]:
    """Who did what: the names of the staff on this page."""
    if not ids:
        return {}
    return {u.id: u.name for u in session_db.scalars(select(StaffUser).where(StaffUser.id.in_(ids)))}


def _staff_choices(session_db: Session) -> list[StaffUser]:
    return list(session_db.scalars(select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.name)))


def _to_submit(session_db: Session, found: Case) -> tuple[Letter, str, str] | None:
    """The follow-up or final notice waiting to be submitted by web form or post, with its channel."""
    letter = clock.awaiting_submission(session_db, found)
    return (letter, *delivery_channel(letter)) if letter is not None else None


def find_case(reference: str) -> Case:
    found = db().execute(select(Case).where(Case.reference == reference[:16])).scalar_one_or_none()
    if found is None:
        abort(404)
    return found


def render_case_page(found: Case, errors: dict[str, str] | None = None, status: int = 200,
                     values: Mapping[str, str] | None = None) -> ResponseReturnValue:
    """The page; after a refused form, with its errors and the values that were typed."""
    page = read_case_page(db(), runtime_of().settings, found, int(current_user.id),
                          current_user.role == "supervisor")
    opened = case_panel.open_action(page.actions, request.endpoint, bool(errors))
    return render_template("staff/case.html", user=current_user, errors=errors or {}, open_action=opened,
                           values={k: v for k, v in (values or {}).items() if k not in ("csrf_token", "version")},
                           **page.template_context()), status


@bp.get("/cases/<reference>")
@route_rule("staff")
@opened_from_our_site
def case(reference: str) -> ResponseReturnValue:
    """The case with everything staff may see; each look is logged (who read a person's data, when)."""
    found = find_case(reference)
    log_read_now(db(), found.id, int(current_user.id), "page", utcnow())
    return render_case_page(found)


@bp.get("/cases/<reference>/attachments/<int(max=2147483647):attachment_id>")
@route_rule("staff")
@opened_from_our_site
def attachment(reference: str, attachment_id: int) -> ResponseReturnValue:
    """A file the consumer or a caseworker added, as the bytes it was checked to be (a download, never inline)."""
    found = find_case(reference)
    session_db = db()
    row = session_db.get(CaseAttachment, attachment_id)
    if row is None or row.case_id != found.id:
        abort(404)
    log_read_now(session_db, found.id, int(current_user.id), "evidence", utcnow())
    return Response(row.data, mimetype=row.content_type, headers={
        "Content-Disposition": f'attachment; filename="{row.filename}"', "X-Content-Type-Options": "nosniff"})
