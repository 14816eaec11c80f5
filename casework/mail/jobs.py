"""The send job: claim the e-mail row, hand the message to the transport, record the result.

SMTP cannot be exactly-once: a kill between the server's acceptance and our commit resends after
the lease runs out, but under the same Message-ID, so the copies are recognisably one message.

Nothing is dropped silently: a permanent refusal (5xx, every recipient refused), or a row that can never make a
valid message (see :class:`~casework.mail.compose.UnbuildableMessage`), fails the row at once; a temporary one
(4xx, no connection, a timeout) retries with back-off until the last attempt; either way a failed row leaves an
``email_failed`` event on its case with the server's words or the reason.

An ``.eml`` the file transport writes for a case erased meanwhile is removed again (see
:meth:`SendEmail.erased_meanwhile`).

Some e-mails are a step of their case (the letter to the company is its delivery): the process that runs
the job hands in those kinds and what their sending records, so this module stays below the case lifecycle.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import smtplib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.errors import MessageError
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from casework.cases.models import Case, CaseEvent
from casework.cases.states import Actor
from casework.config import Settings
from casework.db import utcnow
from casework.jobs.claimed import ClaimedJob, JobFailure, run_claimed
from casework.mail.compose import build_message
from casework.mail.models import OutboundEmail
from casework.mail.transports import Accepted, FileTransport, make_transport, refusals
from casework.redaction import redact_addresses
from casework.runtime import Runtime

log = logging.getLogger("casework.mail")

EmailSent = Callable[[Session, Settings, OutboundEmail, dt.datetime, str], None]
"""What the addressee's acceptance of an e-mail records on its case, in the transaction that marks it sent."""

Deliveries = Mapping[str, EmailSent]
"""The kinds of e-mail whose sending is a step of their case, and that step."""


@dataclass(frozen=True)
class SendFailure(JobFailure):
    """Why a message was not delivered, and whether trying again could help."""

    refused: dict[str, str]
    confirmation: str | None = None


def classify(exc: OSError | smtplib.SMTPException) -> SendFailure:
    """5xx answers and recipients refused for good are permanent; 4xx, lost connections and timeouts are not."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = refusals(exc.recipients)
        codes = [code for code, _ in exc.recipients.values()]
        listed = "; ".join(f"{address}: {why}" for address, why in refused.items())
        return SendFailure(f"every recipient was refused ({listed})", bool(codes) and min(codes) >= 500, refused)
    if isinstance(exc, smtplib.SMTPResponseException):
        words = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return SendFailure(f"{type(exc).__name__}: {exc.smtp_code} {words}", 500 <= exc.smtp_code < 600, {})
    return SendFailure(f"{type(exc).__name__}: {exc}", False, {})


def addressee_refused(email: OutboundEmail, accepted: Accepted, deliveries: Deliveries) -> SendFailure | None:
    """Accepted only for copies: a delivery that did not reach its addressee (the company) is not delivered."""
    to_refused = [address for address in email.recipients if address in accepted.refused]
    if email.kind not in deliveries or not email.recipients or len(to_refused) < len(email.recipients):
        return None
    listed = "; ".join(f"{address}: {accepted.refused[address]}" for address in to_refused)
    permanent = all(accepted.refused[address][:1] == "5" for address in to_refused)
    return SendFailure(f"the company's address was refused ({listed}); only the copies were accepted",
                       permanent, accepted.refused)


# What building or writing out a message raises when the row's data can never make one (a retry cannot help).
UNBUILDABLE = (ValueError, TypeError, LookupError, MessageError)


@dataclass(frozen=True)
class _Outgoing:
    email: OutboundEmail  # detached: read outside the claim's transaction
    message: EmailMessage | None  # None when the row cannot make a message: ``unbuildable`` says why
    unbuildable: str = ""


def unbuildable(exc: Exception) -> SendFailure:
    """A message that cannot be made from its row fails for good, with the reason a caseworker reads."""
    return SendFailure(f"the message could not be built: {exc}" if str(exc) else
                       f"the message could not be built ({type(exc).__name__})", True, {})


class SendEmail(ClaimedJob[_Outgoing, Accepted]):
    table = OutboundEmail
    done = "sent"

    def __init__(self, runtime: Runtime, deliveries: Deliveries) -> None:
        super().__init__(runtime)
        self.deliveries = deliveries

    def load(self, session: Session, job_id: int) -> _Outgoing:
        """Build the message under the claim; a row that cannot make one is reported, not raised (raising here
        would roll the claim back, attempt count and all, and the relay would hand the row out again forever)."""
        row = session.execute(select(OutboundEmail).where(OutboundEmail.id == job_id)).scalar_one()
        try:
            message: EmailMessage | None = build_message(session, row, self.runtime.settings.secret_key)
            why = ""
        except UNBUILDABLE as exc:
            message, why = None, unbuildable(exc).error
        session.expunge(row)
        return _Outgoing(row, message, why)

    def work(self, job_id: int, prepared: _Outgoing) -> Accepted | JobFailure:
        settings = self.runtime.settings
        if prepared.message is None:
            return _logged(job_id, SendFailure(prepared.unbuildable, True, {}))
        transport = make_transport(settings)
        try:
            accepted = transport.send(prepared.message)
        except (OSError, smtplib.SMTPException) as exc:
            return _logged(job_id, classify(exc))
        except UNBUILDABLE as exc:  # writing the message out found what building it did not
            return _logged(job_id, unbuildable(exc))
        if isinstance(transport, FileTransport) and self.erased_meanwhile(job_id):
            transport.path_for(str(prepared.message["Message-ID"])).unlink(missing_ok=True)
            log.info("e-mail %s was erased while it was being written; its file is removed", job_id)
            return accepted  # the erasure took the claim: finishing is refused, and nothing is recorded
        if (refused := addressee_refused(prepared.email, accepted, self.deliveries)) is not None:
            return _logged(job_id, dataclasses.replace(refused, confirmation=accepted.confirmation))
        if settings.fault_pause_after_send_seconds:
            time.sleep(settings.fault_pause_after_send_seconds)
        return accepted

    def erased_meanwhile(self, job_id: int) -> bool:
        """Whether the e-mail's personal data was deleted since the claim: read in a fresh transaction, after the
        file transport wrote the ``.eml``, so that the job removes what it wrote for an erased case.

        Erasure commits (E), then removes the outbox files of the case's e-mails (R); the job writes its file
        (W, an atomic rename) and then makes this check (C). If W comes before R, R removes the file. If W comes
        after R, then E < R < W < C: this transaction starts after E committed, sees the erasure, and the job
        removes the file. There is no third order, so no ``.eml`` of an erased case stays (short of the process
        dying between W and C). Erasure shows as a deleted case (``personal_data_deleted_at``), or, for an
        e-mail without a case (the lost-link e-mail), as a row without recipients or no row at all.
        """
        with self.runtime.sessions() as session:
            row = session.execute(
                select(OutboundEmail.recipients, Case.personal_data_deleted_at)
                .outerjoin(Case, Case.id == OutboundEmail.case_id).where(OutboundEmail.id == job_id)
            ).one_or_none()
        return row is None or not row.recipients or row.personal_data_deleted_at is not None

    def result(self, result: Accepted, now: dt.datetime) -> dict[str, Any]:
        # The secrets were for this one sending: the stored message keeps placeholders (casework.mail.sealed).
        return {"status": "sent", "sent_at": now, "transport_confirmation": result.confirmation[:500],
                "recipients_refused": result.refused, "sealed_secrets": None}

    def finished(self, session: Session, job_id: int, prepared: _Outgoing, result: Accepted,
                 now: dt.datetime) -> None:
        email = prepared.email
        if email.case_id is not None:
            data: dict[str, object] = {"email_id": job_id, "kind": email.kind, "message_id": email.message_id}
            if result.refused:
                data["recipients_refused"] = result.refused
            session.add(CaseEvent(case_id=email.case_id, at=now, actor=Actor.SYSTEM, action="email_sent", data=data))
        delivered = self.deliveries.get(email.kind)
        if delivered is not None:
            sent = session.get(OutboundEmail, job_id)
            if sent is not None:
                delivered(session, self.runtime.settings, sent, now, result.confirmation)

    def failed(self, session: Session, job_id: int, prepared: _Outgoing, failure: JobFailure, status: str) -> None:
        """A permanent refusal fails at once, a temporary one after the last attempt (see run_claimed)."""
        email = prepared.email
        values: dict[str, object] = {}
        if status == "pending":
            # Held until its back-off ends, so a duplicate wake-up already in the queue cannot spend the
            # next attempt early; the relay takes it when both the lease and the back-off have passed.
            values["lease_until"] = OutboundEmail.relay_at
        if isinstance(failure, SendFailure):
            if failure.refused:
                values["recipients_refused"] = failure.refused
            if failure.confirmation:
                values["transport_confirmation"] = failure.confirmation[:500]
        if values:
            session.execute(update(OutboundEmail).where(OutboundEmail.id == job_id).values(**values)
                            .execution_options(synchronize_session=False))
        if status == "failed" and email.case_id is not None:
            attempts = session.execute(select(OutboundEmail.attempts).where(OutboundEmail.id == job_id)).scalar_one()
            session.add(CaseEvent(case_id=email.case_id, at=utcnow(), actor=Actor.SYSTEM, action="email_failed",
                                  data={"email_id": job_id, "kind": email.kind, "message_id": email.message_id,
                                        "error": failure.error[:500], "permanent": failure.permanent,
                                        "attempts": attempts}))


def _logged(email_id: int, failure: SendFailure) -> SendFailure:
    """The log says why, with addresses shortened (the row and the case keep them for caseworkers)."""
    log.warning("e-mail %s not sent (%s): %s", email_id, "permanent" if failure.permanent else "temporary",
                redact_addresses(failure.error))
    return failure


def send_email(runtime: Runtime, email_id: int, deliveries: Deliveries) -> str:
    """Send one e-mail; returns ``sent``, ``skipped``, ``retry`` or ``failed``."""
    return run_claimed(SendEmail(runtime, deliveries), email_id)
