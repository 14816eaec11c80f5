"""The send job: claim the e-mail row, hand the message to the transport, record the result.

SMTP cannot be exactly-once: a kill between the server's acceptance and our commit resends after
the lease runs out, but under the same Message-ID, so the copies are recognisably one message.

Nothing is dropped silently: a permanent refusal (5xx, every recipient refused) fails the row at
once, a temporary one (4xx, no connection, a timeout) retries with back-off until the last attempt;
either way a failed row leaves an ``email_failed`` event on its case with the server's words.
"""

from __future__ import annotations

import logging
import smtplib
import time
from dataclasses import dataclass

from sqlalchemy import select, update

from casework.cases.models import CaseEvent
from casework.cases.states import Actor
from casework.cases.workflow import LETTER_TO_COMPANY, record_email_delivery
from casework.db import utcnow, writing_session
from casework.jobs.claims import claim, fail_attempt, finish
from casework.mail.compose import build_message
from casework.mail.models import OutboundEmail
from casework.mail.transports import Accepted, make_transport, refusals
from casework.runtime import Runtime

log = logging.getLogger("casework.mail")


@dataclass(frozen=True)
class SendFailure:
    """Why a message was not delivered, and whether trying again could help."""

    error: str
    permanent: bool
    refused: dict[str, str]


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


def addressee_refused(email: OutboundEmail, accepted: Accepted) -> SendFailure | None:
    """Accepted only for copies: the letter did not reach the company, so it is not delivered."""
    to_refused = [address for address in email.recipients if address in accepted.refused]
    if email.kind != LETTER_TO_COMPANY or not email.recipients or len(to_refused) < len(email.recipients):
        return None
    listed = "; ".join(f"{address}: {accepted.refused[address]}" for address in to_refused)
    permanent = all(accepted.refused[address][:1] == "5" for address in to_refused)
    return SendFailure(f"the company's address was refused ({listed}); only the copies were accepted",
                       permanent, accepted.refused)


def send_email(runtime: Runtime, email_id: int) -> str:
    """Send one e-mail; returns ``sent``, ``skipped``, ``retry`` or ``failed``."""
    settings = runtime.settings
    with writing_session(runtime.sessions) as session, session.begin():
        token = claim(session, OutboundEmail, email_id, settings.job_lease_seconds)
        if token is None:
            return "skipped"
        email = session.execute(select(OutboundEmail).where(OutboundEmail.id == email_id)).scalar_one()
        message = build_message(session, email)
        session.expunge(email)
    if settings.fault_pause_after_claim_seconds:
        time.sleep(settings.fault_pause_after_claim_seconds)

    try:
        accepted = make_transport(settings).send(message)
    except (OSError, smtplib.SMTPException) as exc:
        return _failed(runtime, email, token, classify(exc), None)
    if (refused := addressee_refused(email, accepted)) is not None:
        return _failed(runtime, email, token, refused, accepted.confirmation)

    if settings.fault_pause_after_send_seconds:
        time.sleep(settings.fault_pause_after_send_seconds)
    now = utcnow()
    with writing_session(runtime.sessions) as session, session.begin():
        if not finish(session, OutboundEmail, email_id, token, status="sent", sent_at=now,
                      transport_confirmation=accepted.confirmation[:500], recipients_refused=accepted.refused):
            return "skipped"
        if email.case_id is not None:
            data: dict[str, object] = {"email_id": email_id, "kind": email.kind, "message_id": email.message_id}
            if accepted.refused:
                data["recipients_refused"] = accepted.refused
            session.add(CaseEvent(case_id=email.case_id, at=now, actor=Actor.SYSTEM, action="email_sent", data=data))
        if email.kind == LETTER_TO_COMPANY:
            sent = session.get(OutboundEmail, email_id)
            if sent is not None:
                record_email_delivery(session, sent, now, accepted.confirmation)
    return "sent"


def _failed(runtime: Runtime, email: OutboundEmail, token: str, failure: SendFailure,
            confirmation: str | None) -> str:
    """Record a failed try: at once for a permanent refusal, after the last attempt otherwise."""
    settings = runtime.settings
    log.warning("e-mail %s not sent (%s): %s", email.id, "permanent" if failure.permanent else "temporary",
                failure.error)
    with writing_session(runtime.sessions) as session, session.begin():
        status = fail_attempt(session, OutboundEmail, email.id, token, failure.error,
                              0 if failure.permanent else settings.job_max_attempts)
        if status == "lost":
            return "skipped"
        values: dict[str, object] = {}
        if status == "pending":
            # Held until its back-off ends, so a duplicate wake-up already in the queue cannot spend the
            # next attempt early; the relay takes it when both the lease and the back-off have passed.
            values["lease_until"] = OutboundEmail.relay_at
        if failure.refused:
            values["recipients_refused"] = failure.refused
        if confirmation:
            values["transport_confirmation"] = confirmation[:500]
        if values:
            session.execute(update(OutboundEmail).where(OutboundEmail.id == email.id).values(**values)
                            .execution_options(synchronize_session=False))
        if status == "failed" and email.case_id is not None:
            attempts = session.execute(select(OutboundEmail.attempts).where(OutboundEmail.id == email.id)).scalar_one()
            session.add(CaseEvent(case_id=email.case_id, at=utcnow(), actor=Actor.SYSTEM, action="email_failed",
                                  data={"email_id": email.id, "kind": email.kind, "message_id": email.message_id,
                                        "error": failure.error[:500], "permanent": failure.permanent,
                                        "attempts": attempts}))
    return "failed" if status == "failed" else "retry"
