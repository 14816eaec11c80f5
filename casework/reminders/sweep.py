"""The reminder sweep: due reminders become e-mails, batch by batch, each batch one short transaction.

Rows are claimed over the partial index ``ix_reminders_due`` with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so overlapping sweeps never take the same reminder and never wait for each other. A batch
writes its e-mail rows and marks its reminders sent together: a worker killed mid-batch rolls all of it
back, and the e-mail's Message-ID comes from the reminder's id, so nothing is lost or sent twice. The
send jobs are woken after the commit, as for every other e-mail.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from casework.cases.models import AccessToken, Case
from casework.cases.tokens import new_token, status_url
from casework.config import Settings
from casework.db import is_postgresql, utcnow, writing_session
from casework.jobs.dispatch import dispatch_after_commit
from casework.mail.compose import message_id_for
from casework.mail.models import OutboundEmail
from casework.mail.sealed import seal
from casework.mail.services import SEND_TASK
from casework.reminders.ics import deadline_calendar, event_uid
from casework.reminders.links import unsubscribe_token, unsubscribe_url
from casework.reminders.models import Reminder
from casework.reminders.planning import (
    CONSUMER_KINDS,
    case_deadlines,
    plan_new_cases_without_letter,
    receives_reminders,
)
from casework.runtime import Runtime
from casework.templating import render_email

log = logging.getLogger("casework.reminders")

REMINDER_EMAIL = "reminder"
FALLBACK_LABELS = {"refund_window_end": "Last day to ask for a refund", "trial_end": "Last day of the free trial",
                   "renewal": "Next renewal charge"}


def reminder_key(reminder_id: int) -> str:
    return f"reminder:{reminder_id}"


def in_words(day: dt.date) -> str:
    """E.g. "Thursday 3 December 2026": a date no reader can take for another."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def _label(case: Case, reminder: Reminder, deadline: dt.date) -> str:
    for found in case_deadlines(case):
        if found["kind"] == reminder.kind and found["date"] == deadline.isoformat():
            return str(found["label"])
    return FALLBACK_LABELS.get(reminder.kind, "A deadline")


def reminder_email(settings: Settings, case: Case, reminder: Reminder, deadline: dt.date, token: str,
                   now: dt.datetime) -> dict[str, Any]:
    """The e-mail row's values for one reminder: text, HTML, the .ics and the unsubscribe headers.

    ``token`` is a fresh access token for the case link (only its HMAC is stored, so each e-mail gets one).
    """
    act_by = deadline - dt.timedelta(days=1)
    label = _label(case, reminder, deadline)
    assessment = case.assessment or {}
    company = (case.company or {}).get("name") or (assessment.get("provider") or {}).get("name") or case.provider_slug
    link = status_url(settings.base_url, token)
    unsubscribe_secret = unsubscribe_token(settings.secret_key, case.id)
    unsubscribe = unsubscribe_url(settings.base_url, settings.secret_key, case.id)
    summary = f"Act by today: {label} ({company}, {case.reference})"
    ics = deadline_calendar(
        uid=event_uid(case.reference, reminder.kind, deadline, settings.message_id_domain), summary=summary,
        description=f"{label}: {in_words(deadline)}. Act by {in_words(act_by)}. Your case: {link}",
        act_by=act_by, url=link, stamp=now)
    context: dict[str, Any] = {
        "case": case, "company": company, "label": label, "kind": reminder.kind, "lead_days": reminder.lead_days,
        "deadline_words": in_words(deadline), "act_by_words": in_words(act_by),
        "steps": list(assessment.get("steps") or []), "status_url": link, "unsubscribe_url": unsubscribe,
    }
    subject, text, html = render_email(REMINDER_EMAIL, context)
    headers = {"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    parts = seal(settings.secret_key, [token, unsubscribe_secret], text, html, headers=headers,
                 attachments=[{"ics": ics, "filename": f"{case.reference}-{reminder.kind}.ics"}])
    key = reminder_key(reminder.id)
    return {
        "idempotency_key": key, "message_id": message_id_for(key, settings.message_id_domain), "case_id": case.id,
        "letter_id": None, "kind": REMINDER_EMAIL, "sender": settings.mail_from, "recipients": [reminder.recipient],
        "cc": [], "reply_to": None, "subject": subject, "body_text": parts.body_text, "body_html": parts.body_html,
        "attachments": parts.attachments, "headers": parts.headers, "sealed_secrets": parts.sealed,
        "address_source": "consumer", "created_at": now, "relay_at": now,
    }


def claim_due(session: Session, now: dt.datetime, batch: int) -> list[Reminder]:
    """Due scheduled reminders, oldest first, locked for this transaction (others skip them).

    Only those of cases whose e-mail address is confirmed: anyone can type anyone's address into the form, so an
    unconfirmed address gets nothing but its confirmation e-mail. Their reminders wait, and confirming plans them
    anew from that day; a case never confirmed expires with them (casework.privacy.expiry).
    """
    confirmed = select(Case.id).where(Case.id == Reminder.case_id, Case.email_confirmed_at.is_not(None)).exists()
    query = (select(Reminder)
             .where(Reminder.status == "scheduled", Reminder.due_at <= now, Reminder.kind.in_(CONSUMER_KINDS),
                    confirmed)
             .order_by(Reminder.due_at).limit(batch))
    if is_postgresql(session):
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def sweep_batch(session: Session, settings: Settings, now: dt.datetime, batch: int) -> dict[str, int]:
    """One batch: queue an e-mail per due reminder, or cancel it where the case no longer wants it.

    The rows are written with one multi-row statement per table (not one ORM object each): at 100,000
    due reminders the per-object bookkeeping was the larger part of the sweep's time.
    """
    reminders = claim_due(session, now, batch)
    if not reminders:
        return {"claimed": 0, "sent": 0, "cancelled": 0}
    case_ids = {r.case_id for r in reminders}
    cases = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(case_ids)))}
    keys = [reminder_key(r.id) for r in reminders]
    existing = {key: email_id for key, email_id in session.execute(
        select(OutboundEmail.idempotency_key, OutboundEmail.id).where(OutboundEmail.idempotency_key.in_(keys)))}
    emails: list[dict[str, Any]] = []
    tokens: list[dict[str, Any]] = []
    done: dict[int, int] = {}  # reminder id -> its e-mail's id
    cancelled: list[int] = []
    for reminder in reminders:
        case = cases.get(reminder.case_id)
        if case is None or reminder.deadline is None or not receives_reminders(case):
            cancelled.append(reminder.id)
        elif reminder_key(reminder.id) in existing:  # made before, by a sweep that committed it
            done[reminder.id] = existing[reminder_key(reminder.id)]
        else:
            token, digest = new_token(settings.secret_key)
            tokens.append({"case_id": case.id, "token_hmac": digest, "created_at": now, "last_used_at": now})
            emails.append(reminder_email(settings, case, reminder, reminder.deadline, token, now))
    if tokens:
        session.execute(insert(AccessToken), tokens)
        made = session.execute(insert(OutboundEmail).returning(OutboundEmail.idempotency_key, OutboundEmail.id),
                               emails)
        by_key = {key: email_id for key, email_id in made}
        for reminder in reminders:
            email_id = by_key.get(reminder_key(reminder.id))
            if email_id is not None:
                done[reminder.id] = email_id
                dispatch_after_commit(session, SEND_TASK, [email_id])
    if done:
        session.execute(update(Reminder), [{"id": reminder_id, "status": "sent", "sent_at": now,
                                            "outbound_email_id": email_id} for reminder_id, email_id in done.items()])
    if cancelled:
        session.execute(update(Reminder).where(Reminder.id.in_(cancelled)).values(status="cancelled")
                        .execution_options(synchronize_session=False))
    return {"claimed": len(reminders), "sent": len(emails), "cancelled": len(cancelled)}


def run_reminder_sweep(runtime: Runtime, now: dt.datetime | None = None, batch: int = 500) -> dict[str, int]:
    """Beat, every minute: plan new cases without a letter, then send every due reminder; returns the counts."""
    now = now or utcnow()
    with writing_session(runtime.sessions) as session, session.begin():
        planned = plan_new_cases_without_letter(session, now)
    totals = {"planned_cases": planned, "sent": 0, "cancelled": 0}
    while True:
        with writing_session(runtime.sessions) as session, session.begin():
            counts = sweep_batch(session, runtime.settings, now, batch)
            pause = runtime.settings.fault_pause_after_claim_seconds  # fault drills only (testing)
            if pause and counts["claimed"]:
                log.info("reminder sweep: %d claimed; pausing %.0f s before commit", counts["claimed"], pause)
                time.sleep(pause)
        totals["sent"] += counts["sent"]
        totals["cancelled"] += counts["cancelled"]
        if counts["claimed"] < batch:
            break
    if totals["sent"] or totals["cancelled"] or planned:
        log.info("reminder sweep: %s", totals)
    return totals
