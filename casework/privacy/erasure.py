"""Deleting one case's personal data, whatever the reason, while its anonymous record stays.

Kept: status, outcome, company and plan, dates, amounts (paid and refunded), the assessment, event
actions and times, letters' kind, version, SHA-256, pages and dates (``/verify`` still answers for a
letter someone holds), e-mails' kind, status, Message-ID and dates, deliveries' channel and time, the
company's answers' type and date, reminders' kind and times, and who on the staff opened the case.
Gone: the consumer's name, e-mail, postal address, phone, account identifier and free text, letter PDFs
and the facts frozen for them, e-mail addresses and bodies, uploads, stored evidence packs, internal notes,
codes and idempotency keys, and the ``.eml`` copies in the outbox folder. Every link to the case is revoked.

The case events are append-only for the application; this is the one place that rewrites their details,
keeping only identifiers, numbers and words from fixed lists. Everything is one transaction in the
caller's session; files go after it commits.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl

from sqlalchemy import Text, cast, delete, event, func, or_, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, SessionTransaction

from casework.cases.models import (
    Case,
    CaseAttachment,
    CaseEvent,
    CompanyResponse,
    ConfirmationCode,
    Delivery,
    IdempotencyKey,
)
from casework.cases.states import Actor
from casework.cases.tokens import revoke_tokens
from casework.evidence.models import StoredPack
from casework.letters.models import Letter
from casework.mail.models import OutboundEmail
from casework.mail.transports import FileTransport
from casework.privacy.models import ErasureCode
from casework.reminders.models import Reminder
from casework.staff.models import CaseNote, SavedView

log = logging.getLogger("casework.privacy")

Reason = Literal["expired", "consumer_request", "retention"]
REASONS: tuple[Reason, ...] = ("expired", "consumer_request", "retention")
ERASED_ACTION = "personal_data_deleted"
DELETED_NAME = "(deleted)"
DELETED_EMAIL = "deleted@invalid"
DELETED_SUBJECT = "(deleted)"
LOST_LINK_KIND = "lost_link"

# Event details that never hold personal data: identifiers, kinds, dates, amounts and words from fixed lists.
SAFE_EVENT_KEYS = frozenset({
    "letter_id", "email_id", "note_id", "kind", "version", "previous_version", "message_id", "channel", "at",
    "answer_due", "follow_ups_sent", "type", "because", "amount", "currency", "on", "letter_sha256", "sha256",
    "pages", "how", "into", "from", "content_type", "size", "permanent", "attempts", "outcome", "reminders",
    "due_at", "bulk", "resolved_at", "after_days", "evidence_pack", "staff", "consumer", "name",
})
# Free text, addresses and whatever a person typed: never kept, whatever the event.
PERSONAL_EVENT_KEYS = frozenset({"text", "question", "reason", "email", "to", "filename", "tracking_number",
                                 "confirmation", "recipients_refused", "error", "previous_error", "reference"})
# The facts a letter was made from, without the person: enough to know what was asked of whom, and when.
SAFE_SNAPSHOT_KEYS = ("kind", "reference", "letter_version", "letter_date", "reply_by", "plan", "payment_date",
                      "trial_start_date", "subscription_start_date", "contract_date", "amount", "requested_outcome",
                      "refund_eligibility", "ask_refund", "deadlines", "country", "region", "policy_version",
                      "earlier", "verification_code", "verify_url", "snapshot_version", "asked",
                      "retention_offers")
# The company's own addresses (where the letter went) are not the consumer's.
SAFE_COMPANY_KEYS = ("name", "legal_name", "delivery_kind", "delivery_address", "postal_address", "plan_name",
                     "address_lines", "address_country", "entity_source")
_FILES_KEY = "casework.privacy.files"


def anonymous_event_data(data: dict[str, Any]) -> dict[str, Any]:
    """An event's details without anything a person typed or any address.

    Numbers and booleans are kept under any key (ids, counts); text only under the known safe keys. ``to``
    and ``from`` name a caseworker's id in assignments, and an address elsewhere: only the ids stay.
    """
    def safe(key: str, value: Any) -> bool:
        return isinstance(value, bool | int | float) or value is None or (
            key in SAFE_EVENT_KEYS and key not in PERSONAL_EVENT_KEYS)

    return {key: value for key, value in data.items() if safe(key, value)}


def anonymous_snapshot(snapshot: dict[str, Any]) -> dict[str, Any]:
    kept = {key: snapshot[key] for key in SAFE_SNAPSHOT_KEYS if key in snapshot}
    company = snapshot.get("company") or {}
    kept["company"] = {key: company[key] for key in SAFE_COMPANY_KEYS if key in company}
    kept["personal_data_deleted"] = True
    return kept


def erase_case(session: Session, case: Case, reason: Reason, now: dt.datetime, *,
               actor: Actor = Actor.SYSTEM, outbox: Path | None = None) -> bool:
    """Delete the personal data of ``case`` and record why; False (and nothing done) if it is already gone.

    Nothing more goes out for the case: pending e-mails are cancelled (also one a worker holds: its
    result is then refused), letters still to be written are dropped, scheduled reminders cancelled.
    ``outbox`` is the folder of ``.eml`` copies to clean once the transaction commits.
    """
    return erase_cases(session, [case], reason, now, actor=actor, outbox=outbox) == 1


def erase_cases(session: Session, cases: Sequence[Case], reason: Reason, now: dt.datetime, *,
                actor: Actor = Actor.SYSTEM, outbox: Path | None = None) -> int:
    """:func:`erase_case` for several cases at once, in a few statements (the retention purge's batches).

    Returns how many were erased now (cases already erased are left as they are).
    """
    if reason not in REASONS:
        raise ValueError(f"unknown erasure reason {reason!r}")
    cases = [case for case in cases if case.personal_data_deleted_at is None]
    if not cases:
        return 0
    ids = [case.id for case in cases]
    identifiers = {value for case in cases for value in personal_identifiers(case)}
    session.info.setdefault(_FILES_KEY, [])  # after commit: the outbox copies, and SQLite's old pages
    _erase_messages(session, ids, {case.consumer_email.lower() for case in cases}, outbox)
    _erase_letters(session, ids, now)
    _erase_events(session, ids)
    for model in (ConfirmationCode, ErasureCode, IdempotencyKey, CaseNote, CaseAttachment, StoredPack):
        session.execute(delete(model).where(model.case_id.in_(ids)).execution_options(synchronize_session=False))
    _erase_saved_searches(session, identifiers)
    revoke_tokens(session, ids, now)  # no link opens the case again (a followed one says its details are gone)
    session.execute(update(CompanyResponse).where(CompanyResponse.case_id.in_(ids)).values(summary="")
                    .execution_options(synchronize_session=False))
    session.execute(update(Delivery).where(Delivery.case_id.in_(ids))
                    .values(confirmation=None, tracking_number=None).execution_options(synchronize_session=False))
    session.execute(update(Reminder).where(Reminder.case_id.in_(ids), Reminder.status == "scheduled")
                    .values(status="cancelled").execution_options(synchronize_session=False))
    session.execute(update(Reminder).where(Reminder.case_id.in_(ids)).values(recipient="")
                    .execution_options(synchronize_session=False))
    for case in cases:
        case.consumer_name, case.consumer_email = DELETED_NAME, DELETED_EMAIL
        case.consumer_postal_address = case.consumer_phone = None
        case.account_identifier = case.details = None
        company = case.company or {}
        case.company = {key: company[key] for key in ("name", "plan_name") if company.get(key)} or None
        case.personal_data_deleted_at = now
        case.answer_due_on = case.escalation_due_at = None
        case.updated_at = now
        session.add(CaseEvent(case_id=case.id, at=now, actor=actor, action=ERASED_ACTION, data={"reason": reason}))
    _forget_loaded(session, set(ids))
    session.flush()
    return len(cases)


def personal_identifiers(case: Case) -> list[str]:
    """The values that identify the consumer, as typed (for searches that may hold them)."""
    values = [case.consumer_name, case.consumer_email, case.consumer_phone, case.account_identifier]
    return [v.strip().lower() for v in values if v and v.strip()]


def _erase_messages(session: Session, ids: list[int], addresses: set[str], outbox: Path | None) -> None:
    scrubbed: dict[str, Any] = {
        "recipients": [], "cc": [], "reply_to": None, "subject": DELETED_SUBJECT, "body_text": "", "body_html": None,
        "attachments": [], "headers": {}, "recipients_refused": {}, "last_error": None, "sealed_secrets": None}
    # The "lost link" e-mail lists links to all of an address's cases and has no case of its own.
    recipients = func.lower(cast(OutboundEmail.recipients, Text))
    lost_links = (OutboundEmail.case_id.is_(None) & (OutboundEmail.kind == LOST_LINK_KIND)
                  & or_(*(recipients.contains(json.dumps(a), autoescape=True) for a in sorted(addresses))))
    for condition in (OutboundEmail.case_id.in_(ids), lost_links):
        message_ids = list(session.scalars(select(OutboundEmail.message_id).where(condition)))
        if not message_ids:
            continue
        session.execute(update(OutboundEmail).where(condition, OutboundEmail.status == "pending")
                        .values(status="cancelled", claim_token=None, lease_until=None)
                        .execution_options(synchronize_session=False))
        session.execute(update(OutboundEmail).where(condition).values(**scrubbed)
                        .execution_options(synchronize_session=False))
        if outbox is not None:
            transport = FileTransport(outbox)
            session.info.setdefault(_FILES_KEY, []).extend(transport.path_for(m) for m in message_ids)


def _erase_letters(session: Session, ids: list[int], now: dt.datetime) -> None:
    """Letters not written yet are dropped (a worker holding one finds it gone); the others lose PDF and facts."""
    session.execute(delete(Letter).where(Letter.case_id.in_(ids), Letter.status == "pending")
                    .execution_options(synchronize_session=False))
    rows = session.execute(select(Letter.id, Letter.data_snapshot, Letter.pdf.is_not(None))
                           .where(Letter.case_id.in_(ids))).all()
    changes = [{"id": letter_id, "data_snapshot": anonymous_snapshot(snapshot or {}), "pdf": None, "last_error": None,
                "pdf_erased_at": now if had_pdf else None} for letter_id, snapshot, had_pdf in rows]
    if changes:  # by primary key, in one round of statements
        session.execute(update(Letter), changes, execution_options={"synchronize_session": False})


def _erase_events(session: Session, ids: list[int]) -> None:
    changes = []
    for event_id, data in session.execute(select(CaseEvent.id, CaseEvent.data).where(CaseEvent.case_id.in_(ids))):
        kept = anonymous_event_data(data or {})
        if kept != (data or {}):
            changes.append({"id": event_id, "data": kept})
    if changes:
        session.execute(update(CaseEvent), changes, execution_options={"synchronize_session": False})


def _erase_saved_searches(session: Session, identifiers: Iterable[str]) -> None:
    """A caseworker's saved queue view that searches for this consumer by name or address goes too."""
    wanted = set(identifiers)
    if not wanted:
        return
    doomed = [view_id for view_id, query in session.execute(select(SavedView.id, SavedView.query))
              if any(value.strip().lower() in wanted for _, value in parse_qsl(query))]
    if doomed:
        session.execute(delete(SavedView).where(SavedView.id.in_(doomed)).execution_options(synchronize_session=False))


def _forget_loaded(session: Session, ids: set[int]) -> None:
    """Objects of these cases already in the session were changed behind the ORM's back: reload them on use."""
    for obj in list(session.identity_map.values()):
        if getattr(obj, "case_id", None) in ids and not isinstance(obj, Case):
            session.expire(obj)


@event.listens_for(Session, "after_commit")
def _remove_files(session: Session) -> None:
    """The outbox copies of erased e-mails, once the erasure is committed; on SQLite, old pages too. A send job
    that writes its copy after this removes it itself (casework.mail.jobs.SendEmail.erased_meanwhile)."""
    paths: list[Path] | None = session.info.pop(_FILES_KEY, None)
    if paths is None:
        return
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:  # the data is gone from the database; say so, and the purge can be run again
            log.warning("could not remove %s: %s", path.name, exc)
    _checkpoint_sqlite(session)


@event.listens_for(Session, "after_soft_rollback")
def _keep_files(session: Session, previous_transaction: SessionTransaction) -> None:
    if not previous_transaction.nested:
        session.info.pop(_FILES_KEY, None)


def _checkpoint_sqlite(session: Session) -> None:
    """SQLite keeps earlier versions of changed pages in its write-ahead log until a checkpoint: fold it
    back and empty it, if no reader needs it now (never waiting for one; the next erasure tries again)."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return
    engine = bind.engine if isinstance(bind, Connection) else bind
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA busy_timeout=0")
            try:
                connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            finally:
                connection.exec_driver_sql("PRAGMA busy_timeout=30000")
    except Exception as exc:  # best effort: the data itself is already deleted
        log.info("write-ahead log not folded back now: %s", exc)
