"""The send job: claim the e-mail row, hand the message to the transport, record the result.

SMTP cannot be exactly-once: a kill between the server's acceptance and our commit resends after
the lease runs out, but under the same Message-ID, so the copies are recognisably one message.
"""

from __future__ import annotations

import logging
import smtplib
import time

from sqlalchemy import select

from casework.cases.models import CaseEvent
from casework.cases.states import Actor
from casework.cases.workflow import LETTER_TO_COMPANY, record_email_delivery
from casework.db import utcnow
from casework.jobs.claims import claim, fail_attempt, finish
from casework.mail.compose import build_message
from casework.mail.models import OutboundEmail
from casework.mail.transports import make_transport
from casework.runtime import Runtime

log = logging.getLogger("casework.mail")


def send_email(runtime: Runtime, email_id: int) -> str:
    """Send one e-mail; returns ``sent``, ``skipped``, ``retry`` or ``failed``."""
    settings = runtime.settings
    with runtime.sessions() as session, session.begin():
        token = claim(session, OutboundEmail, email_id, settings.job_lease_seconds)
        if token is None:
            return "skipped"
        email = session.execute(select(OutboundEmail).where(OutboundEmail.id == email_id)).scalar_one()
        message = build_message(session, email)
        case_id, kind = email.case_id, email.kind
    if settings.fault_pause_after_claim_seconds:
        time.sleep(settings.fault_pause_after_claim_seconds)

    try:
        confirmation = make_transport(settings).send(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("e-mail %s not sent: %s", email_id, exc)
        with runtime.sessions() as session, session.begin():
            status = fail_attempt(session, OutboundEmail, email_id, token, f"{type(exc).__name__}: {exc}",
                                  settings.job_max_attempts)
            if status == "failed" and case_id is not None:
                session.add(CaseEvent(case_id=case_id, actor=Actor.SYSTEM, action="email_failed",
                                      data={"email_id": email_id, "error": str(exc)[:500]}))
        return "failed" if status == "failed" else "retry"

    if settings.fault_pause_after_send_seconds:
        time.sleep(settings.fault_pause_after_send_seconds)
    now = utcnow()
    with runtime.sessions() as session, session.begin():
        if not finish(session, OutboundEmail, email_id, token, status="sent", sent_at=now,
                      transport_confirmation=confirmation[:500]):
            return "skipped"
        if case_id is not None:
            session.add(CaseEvent(case_id=case_id, at=now, actor=Actor.SYSTEM, action="email_sent",
                                  data={"email_id": email_id, "kind": kind, "message_id": message["Message-ID"]}))
        if kind == LETTER_TO_COMPANY:
            sent = session.get(OutboundEmail, email_id)
            if sent is not None:
                record_email_delivery(session, sent, now, confirmation)
    return "sent"
