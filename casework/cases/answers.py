"""The consumer's side of a delivered case: the company's answer (with a reply file), a refund received,
an answer to a caseworker's question, and the status e-mails that keep the consumer informed.

Like the workflow, every function changes rows in the caller's transaction and raises instead of committing.
It is the top floor of the lifecycle: it calls the workflow and the state machine, and nothing there calls it.
Form input is checked here as a whole, so a page can show every field's problem at once and save nothing.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from casework.cases import entered_dates
from casework.cases.errors import CaseError
from casework.cases.limits import require_room
from casework.cases.models import Case, CaseAttachment, CaseEvent, CompanyResponse
from casework.cases.schemas import AMOUNT_RE, currencies
from casework.cases.states import Actor, CaseStatus
from casework.cases.transitions import FINISHED, CaseConflict, transition
from casework.cases.workflow import record_response
from casework.typed_text import is_clean_text

RESPONSE_TYPES: dict[str, str] = {
    "confirmed_cancellation": "They confirmed the cancellation",
    "refund_offered": "They offered a refund",
    "refused": "They refused to cancel or to refund",
    "retention_offer": "They offered a discount or a reason to stay",
    "asked_for_information": "They asked me for more information",
    "charged_again": "I was charged again",
}
# Where the consumer can tell us what the company did; a finished case only hears "charged again".
ANSWERABLE = frozenset({CaseStatus.READY, CaseStatus.SENT, CaseStatus.FOLLOW_UP, CaseStatus.ESCALATED})
TEXT_MAX = 2000
ATTACHMENT_MAX = 5 * 1024 * 1024
# The whole upload request: the file plus the form's few text fields and the multipart framing.
UPLOAD_REQUEST_MAX = ATTACHMENT_MAX + 256 * 1024
# Only these, recognised by their first bytes: a declared type or a file name proves nothing.
SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
)
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class FormErrors(CaseError):
    """Input the consumer can fix; ``fields`` maps each form field to what is wrong with it."""


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


@dataclass(frozen=True)
class Answer:
    kind: str
    received_on: dt.date
    summary: str
    upload: Upload | None


@dataclass(frozen=True)
class Refund:
    amount: decimal.Decimal
    currency: str
    on: dt.date


def sniff(data: bytes) -> tuple[str, str] | None:
    """The content type and extension the bytes themselves show, or None for anything else."""
    for magic, content_type, extension in SIGNATURES:
        if data.startswith(magic):
            return content_type, extension
    return None


def safe_filename(name: str, extension: str) -> str:
    """A plain ASCII name ending in the extension of what the file really is."""
    stem = name.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    stem = _UNSAFE_NAME.sub("-", stem).strip(".-")[:100] or "reply"
    return f"{stem}.{extension}"


def _parse_date(raw: str, case: Case, now: dt.datetime, field: str, errors: dict[str, str],
                what: str) -> dt.date | None:
    """A date the consumer typed: a real one, not after their today nor long before the filing (entered_dates)."""
    if not raw:
        errors[field] = "Enter the date."
        return None
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        errors[field] = "Enter a date such as 2026-12-01."
        return None
    problem = entered_dates.past_date_problem(day, case, now, "consumer")
    if problem is not None:
        errors[field] = entered_dates.date_message(problem, what)
    return day


def _text(raw: str, field: str, errors: dict[str, str], what: str) -> str:
    text = raw.replace("\r\n", "\n").strip()
    if not text:
        errors[field] = f"Write {what}."
    elif len(text) > TEXT_MAX:
        errors[field] = f"At most {TEXT_MAX} characters (this has {len(text)})."
    elif not is_clean_text(text):
        errors[field] = ("This has a hidden character we cannot keep (one that is not a letter, a space or a line "
                         "break): remove it, or type the text again instead of pasting it.")
    return text


def parse_answer(form: Mapping[str, str], upload: Upload | None, case: Case, now: dt.datetime) -> Answer:
    """The "what the company said" form, checked field by field (FormErrors names every problem)."""
    errors: dict[str, str] = {}
    kind = form.get("answer.type", "")
    if kind not in RESPONSE_TYPES:
        errors["answer.type"] = "Choose what happened."
    received_on = _parse_date(form.get("answer.received_on", "").strip()[:40], case, now, "answer.received_on",
                              errors, entered_dates.answer_date_name(kind))
    summary = _text(form.get("answer.summary", ""), "answer.summary", errors, "what they said, in short")
    if upload is not None:
        if not upload.data:
            errors["answer.file"] = "The file is empty."
        elif len(upload.data) > ATTACHMENT_MAX:
            errors["answer.file"] = "The file is larger than 5 MB. Send a smaller copy or a screenshot."
        elif sniff(upload.data) is None:
            errors["answer.file"] = "Only a PDF, PNG or JPEG file can be added; this file is none of those."
    if errors or received_on is None:
        raise FormErrors("Some answers need correcting.", errors)
    return Answer(kind, received_on, summary, upload)


def record_answer(session: Session, case: Case, answer: Answer, actor: Actor, now: dt.datetime) -> CompanyResponse:
    """The company's answer and its file; "charged again" reopens a finished case (never a withdrawn one)."""
    if case.status not in ANSWERABLE and case.status not in FINISHED:
        raise CaseConflict("An answer can be recorded once your letter is confirmed.")
    if case.status in FINISHED and answer.kind != "charged_again":
        raise CaseConflict("This case is finished; tell us only if you were charged again.")
    # Both the answer and its file must fit (casework.cases.limits) before either is written.
    require_room(session, case, answers=1, file_size=len(answer.upload.data) if answer.upload is not None else None)
    response = record_response(session, case, answer.kind, answer.received_on, answer.summary, actor, now)
    if answer.upload is not None:
        session.flush()
        store_attachment(session, case, response, answer.upload, actor, now)
    return response


def store_attachment(session: Session, case: Case, response: CompanyResponse | None, upload: Upload,
                     actor: Actor, now: dt.datetime) -> CaseAttachment:
    detected = sniff(upload.data)
    if detected is None or len(upload.data) > ATTACHMENT_MAX:
        raise FormErrors("Only a PDF, PNG or JPEG file up to 5 MB.", {"answer.file": "not a PDF, PNG or JPEG"})
    require_room(session, case, file_size=len(upload.data))
    content_type, extension = detected
    digest = hashlib.sha256(upload.data).hexdigest()
    row = CaseAttachment(case_id=case.id, response_id=response.id if response is not None else None,
                         filename=safe_filename(upload.filename, extension), content_type=content_type,
                         size=len(upload.data), sha256=digest, data=upload.data, uploaded_by=actor, created_at=now)
    session.add(row)
    session.add(CaseEvent(case_id=case.id, at=now, actor=actor, action="attachment_added",
                          data={"filename": row.filename, "content_type": content_type, "size": row.size,
                                "sha256": digest}))
    return row


def refund_amount(raw: str) -> decimal.Decimal | None:
    """A refunded amount as typed (thousands commas allowed), or None unless it is a positive amount.

    The consumer's form and the caseworker's outcome form both read refunds with it."""
    cleaned = raw.strip().replace(",", "")
    if not AMOUNT_RE.match(cleaned) or decimal.Decimal(cleaned) <= 0:
        return None
    return decimal.Decimal(cleaned)


def parse_refund(form: Mapping[str, str], case: Case, now: dt.datetime) -> Refund:
    errors: dict[str, str] = {}
    typed = refund_amount(form.get("refund.amount", ""))
    amount = decimal.Decimal(0)
    if typed is None:
        errors["refund.amount"] = "Enter the amount, such as 12.00."
    else:
        amount = typed.quantize(decimal.Decimal("0.01"))
    currency = form.get("refund.currency", "").strip().upper()
    if currency not in currencies():
        errors["refund.currency"] = "Enter a three-letter currency code, such as AUD."
    on = _parse_date(form.get("refund.on", "").strip()[:40], case, now, "refund.on", errors, entered_dates.REFUND_DATE)
    if errors or on is None:
        raise FormErrors("Some answers need correcting.", errors)
    return Refund(amount, currency, on)


def record_refund(session: Session, case: Case, refund: Refund, actor: Actor, now: dt.datetime) -> None:
    """The money came back: the case shows it, and the timeline keeps each report."""
    if case.status not in ANSWERABLE:
        raise CaseConflict("A refund can be reported while the case is open.")
    case.refund_received_amount = refund.amount
    case.refund_received_currency = refund.currency
    case.refund_received_on = refund.on
    case.updated_at = now
    session.add(CaseEvent(case_id=case.id, at=now, actor=actor, action="refund_received",
                          data={"amount": f"{refund.amount:.2f}", "currency": refund.currency,
                                "on": refund.on.isoformat()}))


def refund_received(case: Case) -> dict[str, str] | None:
    """The API's ``refund_received`` object, or None."""
    if case.refund_received_amount is None or case.refund_received_currency is None:
        return None
    return {"amount": f"{case.refund_received_amount:.2f}", "currency": case.refund_received_currency,
            "on": case.refund_received_on.isoformat() if case.refund_received_on else ""}


def parse_info(form: Mapping[str, str]) -> str:
    errors: dict[str, str] = {}
    text = _text(form.get("info.text", ""), "info.text", errors, "your answer")
    if errors:
        raise FormErrors("Your answer needs correcting.", errors)
    return text


def provide_info(session: Session, case: Case, text: str, now: dt.datetime) -> None:
    """The consumer answered a caseworker's question: the case goes back to where it was."""
    previous = case.status_before_needs_info
    if case.status is not CaseStatus.NEEDS_INFO or previous is None:
        raise CaseConflict("Nothing is being asked of you on this case right now.")
    transition(session, case, previous, Actor.CONSUMER, "info_provided", now, data={"text": text})
    case.status_before_needs_info = None


def info_request(events: list[CaseEvent]) -> str | None:
    """What the caseworker asked, from the event that set "needs info" (if it says)."""
    for event in reversed(events):
        if event.to_status is CaseStatus.NEEDS_INFO:
            for key in ("question", "message", "text", "reason"):
                if isinstance(event.data.get(key), str):
                    return str(event.data[key])
            return None
    return None
