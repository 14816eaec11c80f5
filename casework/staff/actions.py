"""What a caseworker does to a case, as services: each changes rows in the caller's transaction, writes a
CaseEvent with the caseworker as actor, and raises CaseConflict (409) or CaseError (422, with fields)
instead of committing. The staff pages and the staff API both call these; neither checks rules itself.
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casework.cases import clock, entered_dates, transitions, workflow
from casework.cases.answers import (
    ANSWERABLE,
    ATTACHMENT_MAX,
    RESPONSE_TYPES,
    TEXT_MAX,
    Answer,
    Upload,
    record_answer,
    sniff,
    store_attachment,
)
from casework.cases.delivery import LETTER_TO_COMPANY, delivery_channel, queue_letter_to_company
from casework.cases.filing import CaseError
from casework.cases.limits import require_room
from casework.cases.models import Case, CaseEvent, CompanyResponse
from casework.cases.notify import move
from casework.cases.schemas import currencies
from casework.cases.states import (
    ESCALATION_KINDS,
    TRANSITIONS,
    Actor,
    CaseStatus,
    Outcome,
    can_transition,
)
from casework.cases.tokens import status_link
from casework.cases.transitions import FINISHED, reopen_target
from casework.catalog import default_catalog
from casework.config import Settings
from casework.letters.models import Letter
from casework.letters.plan import letter_plan_for_case
from casework.letters.services import latest_letter, request_letter
from casework.letters.snapshot import NoLetterToWrite
from casework.mail.models import OutboundEmail
from casework.mail.services import queue_email
from casework.staff.models import CaseNote, StaffUser
from casework.typed_text import is_clean_text, is_one_line

NOTE_MAX = 5000
QUESTION_MAX = 2000
REASON_MAX = 2000
NAME_MAX = 200
REFERENCE_MAX = 200
REFUND_OUTCOMES = frozenset({Outcome.CANCELLED_REFUNDED, Outcome.CANCELLED_PARTIAL_REFUND})
QUESTION_EMAIL = "info_request"
# A resend is a copy of a delivered letter: its own kind, so its acceptance is not a new delivery (the
# company's clock and the letter's delivery time stay those of the first delivery).
LETTER_RESENT = "letter_resent"
# The evidence pack is made on request from the stored records (casework.evidence.pack), not by the
# letter worker, so escalation points to where it is downloaded instead of storing a copy.
STAFF_PACK_PATH = "/staff/cases/{reference}/evidence.pdf"
CONSUMER_PACK_PATH = "/c/<token>/evidence.pdf"


@dataclass(frozen=True)
class Refunded:
    """The money the company gave back, set with the outcome."""

    amount: decimal.Decimal
    currency: str
    on: dt.date


@dataclass(frozen=True)
class Escalation:
    """Where the case went: ``kind`` one of ESCALATION_KINDS, ``name`` e.g. "ACCC" or "Visa card issuer"."""

    kind: str
    name: str
    reference: str | None = None


def _words(status: CaseStatus) -> str:
    return status.value.replace("_", " ")


def _text(raw: str, field: str, limit: int, what: str) -> str:
    """Trimmed text with Unix line ends; empty, too long or holding a control character is the field's error."""
    text = raw.replace("\r\n", "\n").strip()
    if not text:
        raise CaseError(f"Write {what}.", {field: f"Write {what}."})
    if len(text) > limit:
        raise CaseError(f"At most {limit} characters.", {field: f"At most {limit} characters (this has {len(text)})."})
    if not is_clean_text(text):
        raise CaseError(HIDDEN_CHARACTER, {field: HIDDEN_CHARACTER})
    return text


HIDDEN_CHARACTER = "Remove the hidden control character (one that is not a letter, a space or a line break)."


def one_line_problem(text: str, what: str) -> str | None:
    """A caseworker's message for a single-line field that is not one clean line, or None."""
    return None if is_one_line(text) else f"Write {what} on one line, without line breaks or hidden characters."


def _event(session: Session, case: Case, staff: StaffUser, action: str, now: dt.datetime,
           data: dict[str, Any] | None = None) -> CaseEvent:
    """A caseworker's event on the timeline; the case counts as changed now."""
    event = CaseEvent(case_id=case.id, at=now, actor=Actor.STAFF, actor_staff_id=staff.id, action=action,
                      data=data or {})
    session.add(event)
    case.updated_at = now
    return event


def _sign_pending(session: Session, case: Case, staff: StaffUser) -> None:
    """Events the shared services wrote as "staff" without saying who: this caseworker (before flushing)."""
    for obj in session.new:
        if (isinstance(obj, CaseEvent) and obj.case_id == case.id and obj.actor is Actor.STAFF
                and obj.actor_staff_id is None):
            obj.actor_staff_id = staff.id


def _require(case: Case, target: CaseStatus) -> None:
    """409 with a sentence when API.md's table does not allow this move now."""
    if case.personal_data_deleted_at is not None:
        raise workflow.CaseConflict("This case's personal data is deleted; nothing more can be done on it.")
    if not can_transition(case.status, target, case.status_before_needs_info):
        raise workflow.CaseConflict(f"A case that is {_words(case.status)} cannot become {_words(target)}.")


def _company(case: Case) -> str:
    provider = default_catalog().get(case.provider_slug)
    return str((case.company or {}).get("name") or (provider.name if provider else case.provider_slug))


def add_note(session: Session, case: Case, staff: StaffUser, body: str, now: dt.datetime) -> CaseNote:
    """An internal note (never shown to the consumer); event ``note_added`` without the note's text."""
    text = _text(body, "note", NOTE_MAX, "the note")
    note = CaseNote(case_id=case.id, staff_id=staff.id, body=text, created_at=now)
    session.add(note)
    session.flush()
    _event(session, case, staff, "note_added", now, {"note_id": note.id})
    return note


def _check_upload(upload: object | None) -> Upload | None:
    """The same checks as the consumer's upload: PDF, PNG or JPEG by its bytes, up to 5 MB."""
    if upload is None:
        return None
    if not isinstance(upload, Upload):
        raise TypeError("upload must be an answers.Upload")
    if not upload.data:
        raise CaseError("The file is empty.", {"response.file": "The file is empty."})
    if len(upload.data) > ATTACHMENT_MAX:
        raise CaseError("The file is larger than 5 MB.", {"response.file": "The file is larger than 5 MB."})
    if sniff(upload.data) is None:
        raise CaseError("Only a PDF, PNG or JPEG file can be added.",
                        {"response.file": "Only a PDF, PNG or JPEG file can be added; this file is none of those."})
    return upload


def _answerable(case: Case, kind: str) -> None:
    """The consumer's rules for an answer, in a caseworker's words."""
    if case.personal_data_deleted_at is not None:
        raise workflow.CaseConflict("This case's personal data is deleted; nothing more can be recorded.")
    if case.status not in ANSWERABLE and case.status not in FINISHED:
        raise workflow.CaseConflict(f"An answer can be recorded once the consumer has confirmed the letter; "
                                    f"this case is {_words(case.status)}.")
    if case.status in FINISHED and kind != "charged_again":
        raise workflow.CaseConflict("This case is finished; only \"charged again\" can be recorded (it reopens "
                                    "the case).")


def record_company_response(session: Session, case: Case, staff: StaffUser, kind: str, received_on: dt.date,
                            summary: str, now: dt.datetime, upload: object | None = None) -> CompanyResponse:
    """The company's answer as a caseworker got it (types of RESPONSE_TYPES); stops the company's clock.

    The answer and its file must both fit the case's limits (casework.cases.limits.CaseFull) before either is
    written."""
    errors: dict[str, str] = {}
    if kind not in RESPONSE_TYPES:
        errors["response.type"] = "Choose what the company did."
    problem = entered_dates.past_date_problem(received_on, case, now, "staff")
    if problem is not None:
        errors["response.received_on"] = entered_dates.date_message(problem, entered_dates.answer_date_name(kind))
    text = summary.replace("\r\n", "\n").strip()
    if not text:
        errors["response.summary"] = "Write what they said, in short."
    elif len(text) > TEXT_MAX:
        errors["response.summary"] = f"At most {TEXT_MAX} characters (this has {len(text)})."
    elif not is_clean_text(text):
        errors["response.summary"] = HIDDEN_CHARACTER
    if errors:
        raise CaseError("Some fields need correcting.", errors)
    checked = _check_upload(upload)
    _answerable(case, kind)
    require_room(session, case, answers=1, file_size=len(checked.data) if checked is not None else None)
    response = record_answer(session, case, Answer(kind, received_on, text, None), Actor.STAFF, now)
    _sign_pending(session, case, staff)
    case.updated_at = now
    if checked is not None:
        session.flush()
        store_attachment(session, case, response, checked, Actor.STAFF, now)
        _sign_pending(session, case, staff)
    return response


def _check_refund(case: Case, outcome: Outcome, refunded: Refunded | None, now: dt.datetime) -> None:
    if refunded is None:
        return
    if outcome not in REFUND_OUTCOMES:
        raise CaseError("A refunded amount goes only with a refund outcome.",
                        {"refund.amount": "Only a refund outcome carries an amount; choose one or leave it empty."})
    errors: dict[str, str] = {}
    if refunded.amount <= 0:
        errors["refund.amount"] = "Enter the amount, such as 12.00."
    if refunded.currency not in currencies():
        errors["refund.currency"] = "Enter a three-letter currency code, such as AUD."
    problem = entered_dates.past_date_problem(refunded.on, case, now, "staff")
    if problem is not None:
        errors["refund.on"] = entered_dates.date_message(problem, entered_dates.REFUND_DATE)
    if errors:
        raise CaseError("The refund needs correcting.", errors)


def resolve(session: Session, settings: Settings, case: Case, staff: StaffUser, outcome: Outcome, now: dt.datetime,
            refunded: Refunded | None = None) -> None:
    """→ resolved with ``outcome``; a refund outcome may carry the refunded amount (stored as refund_received)."""
    _require(case, CaseStatus.RESOLVED)
    if outcome is Outcome.WITHDRAWN:
        raise CaseError("Only the consumer withdraws a case.",
                        {"outcome": "Only the consumer withdraws a case; choose another outcome."})
    _check_refund(case, outcome, refunded, now)
    if refunded is not None:
        case.refund_received_amount = refunded.amount.quantize(decimal.Decimal("0.01"))
        case.refund_received_currency = refunded.currency
        case.refund_received_on = refunded.on
        _event(session, case, staff, "refund_received",
               now, {"amount": f"{case.refund_received_amount:.2f}", "currency": refunded.currency,
                     "on": refunded.on.isoformat()})
    case.status_before_needs_info = None
    move(session, settings, case, CaseStatus.RESOLVED, Actor.STAFF, "resolved", now, outcome=outcome,
         data={"outcome": outcome.value}, staff_id=staff.id)


def close(session: Session, case: Case, staff: StaffUser, now: dt.datetime) -> None:
    """resolved → closed, by a caseworker (the sweep does it after the configured days)."""
    _require(case, CaseStatus.CLOSED)
    transitions.transition(session, case, CaseStatus.CLOSED, Actor.STAFF, "closed", now, outcome=case.outcome,
                           staff_id=staff.id)


_REOPEN_REFUSED = {
    transitions.NOT_FINISHED: "Only a resolved or closed case can be reopened; this one is {status}.",
    transitions.WITHDRAWN: "A withdrawn case cannot be reopened; the consumer can file a new case.",
    transitions.MERGED: "A merged case cannot be reopened; the case it was merged into carries on.",
    transitions.ERASED: "This case's personal data is deleted; it cannot be reopened.",
}


def reopen(session: Session, settings: Settings, case: Case, staff: StaffUser, reason: str, now: dt.datetime) -> None:
    """resolved/closed → sent (letter cases) or new (app-store cases); never for withdrawn; outcome cleared."""
    refusal = transitions.reopen_refusal(case)
    if refusal is not None:
        raise workflow.CaseConflict(_REOPEN_REFUSED[refusal].format(status=_words(case.status)))
    text = _text(reason, "reason", REASON_MAX, "why the case is reopened")
    transitions.reopen(session, case, Actor.STAFF, now, {"reason": text}, staff_id=staff.id)


def _asks(session: Session, case: Case) -> int:
    return int(session.execute(select(func.count(CaseEvent.id)).where(
        CaseEvent.case_id == case.id, CaseEvent.action == "info_requested")).scalar_one())


def ask_consumer(session: Session, settings: Settings, case: Case, staff: StaffUser, question: str,
                 now: dt.datetime) -> OutboundEmail:
    """→ needs_info, with the question e-mailed to the consumer (a link to answer on their page)."""
    _require(case, CaseStatus.NEEDS_INFO)
    text = _text(question, "question", QUESTION_MAX, "the question")
    previous = case.status
    move(session, settings, case, CaseStatus.NEEDS_INFO, Actor.STAFF, "info_requested", now,
         data={"question": text}, staff_id=staff.id)
    case.status_before_needs_info = previous
    session.flush()
    link = status_link(session, settings, case)
    return queue_email(
        session, settings, key=f"question:{case.id}:{_asks(session, case)}", kind=QUESTION_EMAIL,
        to=[case.consumer_email], template=QUESTION_EMAIL,
        context={"case": case, "company": _company(case), "question": text,
                 "status_url": link},
        now=now, case_id=case.id,
    )


def _check_escalation(escalation: Escalation) -> tuple[str, str | None]:
    errors: dict[str, str] = {}
    if escalation.kind not in ESCALATION_KINDS:
        errors["escalation.kind"] = "Choose a regulator, an ombudsman or the card issuer."
    name = escalation.name.strip()
    if not name:
        errors["escalation.name"] = "Write who the case goes to, such as the ACCC."
    elif len(name) > NAME_MAX:
        errors["escalation.name"] = f"At most {NAME_MAX} characters."
    elif (problem := one_line_problem(name, "who the case goes to")) is not None:
        errors["escalation.name"] = problem
    reference = (escalation.reference or "").strip() or None
    if reference is not None and len(reference) > REFERENCE_MAX:
        errors["escalation.reference"] = f"At most {REFERENCE_MAX} characters."
    elif reference is not None and (problem := one_line_problem(reference, "their reference")) is not None:
        errors["escalation.reference"] = problem
    if errors:
        raise CaseError("The escalation needs correcting.", errors)
    return name, reference


def escalate(session: Session, settings: Settings, case: Case, staff: StaffUser, escalation: Escalation,
             now: dt.datetime, *, final_notice: bool = False) -> None:
    """→ escalated, recording where the case went; optionally requests the final notice. The evidence pack
    is made on request (the letter worker does not render it), so the event says where to download it."""
    _require(case, CaseStatus.ESCALATED)
    name, reference = _check_escalation(escalation)
    case.escalated_to, case.escalated_to_name = escalation.kind, name
    case.escalation_due_at = None
    pack = {"staff": f"{settings.base_url}{STAFF_PACK_PATH.format(reference=case.reference)}",
            "consumer": CONSUMER_PACK_PATH}
    move(session, settings, case, CaseStatus.ESCALATED, Actor.STAFF, "escalated", now,
         data={"kind": escalation.kind, "name": name, "reference": reference, "evidence_pack": pack},
         staff_id=staff.id)
    if final_notice:
        clock.send_final_notice(session, settings, case, staff.id, now)


def _in_flight(session: Session, case: Case, kind: str) -> bool:
    """A letter of ``kind`` being written, or written and not yet delivered."""
    letter = latest_letter(session, case.id, kind)
    return letter is not None and letter.status in ("pending", "rendered") and letter.sent_at is None


def send_follow_up_now(session: Session, settings: Settings, case: Case, staff: StaffUser,
                       now: dt.datetime) -> Letter:
    """A follow-up letter now, without waiting for the answer date (sent cases). It goes out by the letter's
    channel once rendered, exactly like the one the clock sends."""
    if case.status is not CaseStatus.SENT:
        raise workflow.CaseConflict(f"A follow-up goes to a company that has the letter and owes an answer; "
                                    f"this case is {_words(case.status)}.")
    _require(case, CaseStatus.FOLLOW_UP)
    if clock.answered_since_delivery(session, case):
        raise workflow.CaseConflict("The company has answered; record what happens next instead of a follow-up.")
    if _in_flight(session, case, "follow_up"):
        raise workflow.CaseConflict("A follow-up is already on its way to the company.")
    try:
        letter = request_letter(session, case, "follow_up", now, base_url=settings.base_url)
    except ValueError:
        raise workflow.CaseConflict("The case has no rendered cancellation letter to refer to.") from None
    case.follow_ups_sent += 1
    case.answer_due_on = None  # as after silence: the clock restarts when the follow-up is delivered
    _event(session, case, staff, "follow_up_requested", now, {"letter_id": letter.id})
    return letter


def regenerate_letter(session: Session, settings: Settings, case: Case, staff: StaffUser, now: dt.datetime) -> Letter:
    """A new version of the cancellation letter (a failed render, or a case not yet confirmed); an unconfirmed
    case's consumer gets the new version to confirm once it is rendered."""
    plan = letter_plan_for_case(case)
    if not plan.letter:
        raise workflow.CaseConflict(f"This case has no cancellation letter. {plan.reason or ''}".strip())
    if case.personal_data_deleted_at is not None:
        raise workflow.CaseConflict("This case's personal data is deleted; no letter can be written.")
    latest = latest_letter(session, case.id)
    failed = latest is not None and latest.status == "failed"
    unconfirmed = case.status is CaseStatus.NEW and case.confirmed_at is None
    if not (failed or unconfirmed):
        version = latest.version if latest is not None else 1
        raise workflow.CaseConflict(f"The consumer confirmed version {version} of the letter; a new version "
                                    f"would go out without their confirmation.")
    try:
        letter = request_letter(session, case, "cancellation", now, base_url=settings.base_url)
    except NoLetterToWrite as exc:
        raise workflow.CaseConflict(str(exc)) from None
    _event(session, case, staff, "letter_regenerated", now,
           {"letter_id": letter.id, "version": letter.version,
            "previous_version": latest.version if latest is not None else None})
    return letter


def resend_letter(session: Session, settings: Settings, case: Case, staff: StaffUser,
                  now: dt.datetime) -> OutboundEmail:
    """The delivered letter e-mailed to the company again (a new e-mail, same letter and hash)."""
    letter = latest_letter(session, case.id)
    if letter is None or letter.status != "rendered":
        raise workflow.CaseConflict("There is no written letter to send again.")
    kind, address = delivery_channel(letter)
    if kind != "email":
        raise workflow.CaseConflict(f"This company takes the letter by {kind.replace('_', ' ')}, not by e-mail.")
    if letter.sent_at is None:
        raise workflow.CaseConflict("The letter has not reached the company yet; it cannot be sent again.")
    if case.status in FINISHED or case.personal_data_deleted_at is not None:
        raise workflow.CaseConflict("This case is finished; nothing more is sent for it.")
    prefix = f"letter:{letter.id}:company:resend:"
    count = int(session.execute(select(func.count(OutboundEmail.id)).where(
        OutboundEmail.idempotency_key.like(f"{prefix}%"))).scalar_one())
    email = queue_letter_to_company(session, settings, case, letter, now, template=LETTER_TO_COMPANY,
                                    kind=LETTER_RESENT, key=f"{prefix}{count + 1}")
    _event(session, case, staff, "letter_resent", now,
           {"letter_id": letter.id, "email_id": email.id, "message_id": email.message_id, "to": address})
    return email


def mark_reviewed(session: Session, case: Case, staff: StaffUser, now: dt.datetime) -> None:
    """Clears "needs review" (event ``reviewed``)."""
    if not case.needs_review:
        raise workflow.CaseConflict("Nothing on this case is waiting for a review.")
    case.needs_review = False
    _event(session, case, staff, "reviewed", now)


def transitions_for(case: Case) -> list[CaseStatus]:
    """The statuses a caseworker may move this case to now (API.md's table), for the page to offer.

    Only moves a caseworker makes: confirming (→ ready) is the consumer's, delivery (→ sent) is recorded by
    the delivery itself, and the consumer's answer returns a needs-info case. Reopening is offered as
    its target (sent or new) for a finished case that was not withdrawn.
    """
    if case.personal_data_deleted_at is not None or case.merged_into_id is not None:
        return []
    if case.status in FINISHED:
        found = [CaseStatus.CLOSED] if case.status is CaseStatus.RESOLVED else []
        if case.outcome is not Outcome.WITHDRAWN:
            found.append(reopen_target(case))
        return found
    staff_moves = {CaseStatus.NEEDS_INFO, CaseStatus.RESOLVED, CaseStatus.ESCALATED, CaseStatus.FOLLOW_UP}
    return [status for status in CaseStatus if status in TRANSITIONS[case.status] & staff_moves]

