"""Everything held about one consumer, as a ZIP: ``export.json``, their letters as PDFs and their uploads.

Found by e-mail address (every case of that address, case-insensitive) or for a single case (the
consumer's own page). Cases whose personal data is already deleted no longer carry the address, so
they are not in it: nothing personal is left of them.

Internal notes are included with their text and date, because a note about the consumer is personal
data about them and the right of access covers it; the caseworker who wrote it is not named (nor
are caseworkers anywhere else in the export: events say only "staff", reads only when and how),
because a colleague's identity is a third party's personal data, and giving the consumer a copy must
not adversely affect the rights of others (GDPR Art. 15(4)). The notes' text is given as written.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session, undefer

from casework.cases.delivery import letter_filename
from casework.cases.models import Case, CaseAttachment, CaseEvent, CompanyResponse, Delivery
from casework.cases.states import INTERNAL_ACTIONS
from casework.evidence.bundle import ENTRY_TIME, SUMS_NAME, sha256_sums
from casework.letters.models import Letter
from casework.mail.models import OutboundEmail
from casework.mail.sealed import shown
from casework.privacy.erasure import LOST_LINK_KIND
from casework.reminders.models import Reminder
from casework.staff.models import CaseNote, CaseRead

EXPORT_NAME = "export.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Export:
    """The archive and the cases it covers (each export is logged against them)."""

    data: bytes
    case_ids: list[int]


def cases_of_email(session: Session, email: str) -> list[Case]:
    return list(session.scalars(
        select(Case).where(func.lower(Case.consumer_email) == email.strip().lower(),
                           Case.personal_data_deleted_at.is_(None)).order_by(Case.id)
    ))


def _instant(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value is not None else None


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


M = TypeVar("M", Delivery, OutboundEmail, CompanyResponse, Reminder, CaseNote, CaseRead)


def _rows(session: Session, model: type[M], case_id: int) -> list[M]:
    return list(session.scalars(select(model).where(model.case_id == case_id).order_by(model.id)))


def _email(row: OutboundEmail) -> dict[str, Any]:
    """The message as sent, but for its private links and codes (an export must not open the case)."""
    return {"message_id": row.message_id, "kind": row.kind, "status": row.status,
            "created_at": _instant(row.created_at), "sent_at": _instant(row.sent_at), "from": row.sender,
            "to": row.recipients, "cc": row.cc,
            "reply_to": row.reply_to, "subject": row.subject, "body_text": shown(row.body_text)}


def _case(session: Session, case: Case, files: list[tuple[str, bytes]]) -> dict[str, Any]:
    """One case with all its rows; the letters' and uploads' bytes are added to ``files``."""
    letters = []
    for letter in session.scalars(select(Letter).options(undefer(Letter.pdf)).where(Letter.case_id == case.id)
                                  .order_by(Letter.id)):
        name = None
        if letter.pdf is not None:
            name = f"letters/{letter_filename(case, letter)}"
            files.append((name, letter.pdf))
        letters.append({"kind": letter.kind, "version": letter.version, "status": letter.status,
                        "sha256": letter.sha256, "pages": letter.pages, "verification_code": letter.verification_code,
                        "created_at": _instant(letter.created_at), "rendered_at": _instant(letter.rendered_at),
                        "sent_at": _instant(letter.sent_at), "file": name, "facts": letter.data_snapshot})
    uploads = []
    for upload in session.scalars(select(CaseAttachment).options(undefer(CaseAttachment.data))
                                  .where(CaseAttachment.case_id == case.id).order_by(CaseAttachment.id)):
        name = f"uploads/{case.reference}/{upload.id}-{_UNSAFE.sub('_', upload.filename)[:100]}"
        files.append((name, upload.data))
        uploads.append({"filename": upload.filename, "content_type": upload.content_type, "size": upload.size,
                        "sha256": upload.sha256, "uploaded_by": upload.uploaded_by.value,
                        "created_at": _instant(upload.created_at), "file": name})
    events = [{"at": _instant(e.at), "action": e.action, "actor": e.actor.value,
               "from_status": e.from_status.value if e.from_status else None,
               "to_status": e.to_status.value if e.to_status else None,
               # Internal events' details name caseworkers (by id): only that they happened, and when.
               "details": {} if e.action in INTERNAL_ACTIONS else e.data}
              for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))]
    return {
        "reference": case.reference,
        "status": case.status.value,
        "outcome": case.outcome.value if case.outcome else None,
        "created_at": _instant(case.created_at),
        "facts": {
            "consumer": {"name": case.consumer_name, "email": case.consumer_email,
                         "postal_address": case.consumer_postal_address, "phone": case.consumer_phone},
            "account_identifier": case.account_identifier, "details": case.details,
            "provider": case.provider_slug, "plan": case.plan_slug, "company": case.company,
            "billing_channel": case.billing_channel.value, "country": case.country, "region": case.region,
            "timezone": case.timezone, "language": case.language, "payment_date": _day(case.payment_date),
            "trial_start_date": _day(case.trial_start_date), "next_renewal_date": _day(case.next_renewal_date),
            "subscription_start_date": _day(case.subscription_start_date),
            "certificate_earned": case.certificate_earned,
            "amount": ({"value": f"{case.amount_value:.2f}", "currency": case.amount_currency}
                       if case.amount_value is not None else None),
            "requested_outcome": case.requested_outcome.value,
        },
        "consent_at": _instant(case.consent_at),
        "email_confirmed_at": _instant(case.email_confirmed_at),
        "confirmed_at": _instant(case.confirmed_at),
        "resolved_at": _instant(case.resolved_at),
        "refund_received": ({"amount": f"{case.refund_received_amount:.2f}", "currency": case.refund_received_currency,
                             "on": _day(case.refund_received_on)} if case.refund_received_amount is not None else None),
        "reminders_unsubscribed_at": _instant(case.reminders_unsubscribed_at),
        "assessment": case.assessment,
        "events": events,
        "letters": letters,
        "deliveries": [{"channel": d.channel, "address": d.address, "at": _instant(d.at), "by": d.by.value,
                        "confirmation": d.confirmation, "tracking_number": d.tracking_number}
                       for d in _rows(session, Delivery, case.id)],
        "emails": [_email(m) for m in _rows(session, OutboundEmail, case.id)],
        "company_answers": [{"type": r.type, "received_on": _day(r.received_on), "summary": r.summary,
                             "recorded_by": r.recorded_by.value, "created_at": _instant(r.created_at)}
                            for r in _rows(session, CompanyResponse, case.id)],
        "uploads": uploads,
        "reminders": [{"kind": r.kind, "deadline": _day(r.deadline), "due_at": _instant(r.due_at), "status": r.status,
                       "recipient": r.recipient, "sent_at": _instant(r.sent_at)}
                      for r in _rows(session, Reminder, case.id)],
        "notes": [{"at": _instant(n.created_at), "by": "a caseworker", "text": n.body}
                  for n in _rows(session, CaseNote, case.id)],
        "staff_reads": [{"at": _instant(r.at), "how": r.via}
                        for r in _rows(session, CaseRead, case.id)],
    }


def _lost_link_emails(session: Session, email: str) -> list[dict[str, Any]]:
    """"Lost your link?" e-mails are sent to an address, not a case."""
    address = json.dumps(email.strip().lower())
    rows = session.scalars(select(OutboundEmail).where(
        OutboundEmail.case_id.is_(None), OutboundEmail.kind == LOST_LINK_KIND,
        func.lower(cast(OutboundEmail.recipients, Text)).contains(address, autoescape=True)).order_by(OutboundEmail.id))
    return [_email(m) for m in rows]


def build_export(session: Session, cases: Sequence[Case], email: str, now: dt.datetime, *,
                 whole_address: bool = True) -> Export:
    """The ZIP for ``cases`` (all of one address, or the one case a consumer asked from its page)."""
    files: list[tuple[str, bytes]] = []
    document = {
        "about": ("Everything casework holds about you: your cases with their facts, timeline, letters (the PDFs "
                  "are in the letters folder), e-mails, the company's answers, your files (uploads folder), "
                  "reminders, caseworkers' notes about your case, and when staff opened it."),
        "generated_at": _instant(now),
        "email": email,
        "cases": [_case(session, case, files) for case in cases],
        "emails_without_case": _lost_link_emails(session, email) if whole_address else [],
    }
    body = json.dumps(document, indent=2, ensure_ascii=False, default=str).encode()
    entries = [(EXPORT_NAME, body), *files]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in [*entries, (SUMS_NAME, sha256_sums(entries).encode())]:
            entry = zipfile.ZipInfo(name, date_time=ENTRY_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, data)
    return Export(buffer.getvalue(), [case.id for case in cases])


def export_filename(label: str, now: dt.datetime) -> str:
    return f"casework-personal-data-{_UNSAFE.sub('_', label)[:60]}-{now:%Y%m%d}.zip"
