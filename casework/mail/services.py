"""Queueing e-mail: one row per idempotency key, sent by the worker after commit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.cases.models import Case
from casework.config import Settings
from casework.jobs.dispatch import dispatch_after_commit
from casework.mail.compose import message_id_for
from casework.mail.models import OutboundEmail
from casework.mail.sealed import forget, remembered, seal
from casework.templating import render_email

SEND_TASK = "mail.send"
# The only e-mails that go to an address nobody has confirmed: the ones carrying a confirmation code (a letter
# case's, a case without a letter's first, and a changed address's), and the erasure code that deletes such a case.
BEFORE_CONFIRMATION = frozenset({"confirm_letter", "case_without_letter", "confirm_address", "erasure_code"})


def withheld(session: Session, case_id: int | None, kind: str, to: list[str], address_source: str) -> bool:
    """Whether this e-mail must not go out: it is for the consumer of a case whose address is not confirmed.

    Anyone can type anyone's address into the form, so until the owner of the address has confirmed it, only
    the confirmation e-mail reaches it (and the erasure code, so such a case can be deleted).
    """
    if case_id is None or kind in BEFORE_CONFIRMATION or not address_source.startswith("consumer"):
        return False
    case = session.get(Case, case_id)
    return (case is not None and case.email_confirmed_at is None
            and case.consumer_email.lower() in {address.lower() for address in to})


def unconfirmed_copies_dropped(session: Session, case_id: int | None, kind: str, cc: list[str]) -> list[str]:
    """The copies without the case's consumer while their address is not confirmed: a letter to the company
    copies the consumer, and an address changed after the letter was confirmed gets no copy until it is proven."""
    if case_id is None or kind in BEFORE_CONFIRMATION or not cc:
        return cc
    case = session.get(Case, case_id)
    if case is None or case.email_confirmed_at is not None:
        return cc
    return [address for address in cc if address.lower() != case.consumer_email.lower()]


def queue_email(
    session: Session,
    settings: Settings,
    *,
    key: str,
    kind: str,
    to: list[str],
    template: str,
    context: dict[str, Any],
    now: dt.datetime,
    case_id: int | None = None,
    letter_id: int | None = None,
    cc: list[str] | None = None,
    reply_to: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
    address_source: str = "consumer",
    secrets: Iterable[str] = (),
) -> OutboundEmail:
    """Queue one e-mail; queueing the same ``key`` again returns the existing row, creating nothing.

    ``address_source`` says where the recipient address came from (``consumer``, ``consumer:company``
    or ``catalog:<slug>@<policy version>``): in a dispute that is part of the evidence.
    ``reply_to`` is one mailbox made by :func:`casework.mail.compose.mailbox`, never text pasted together.
    The secrets issued in this session (see :func:`casework.mail.sealed.remember`) and ``secrets`` are stored
    sealed, not in the body, until the message is sent.
    An e-mail to the unconfirmed address of a case (see :func:`withheld`) is recorded as ``cancelled`` and
    never sent.
    """
    existing = session.execute(
        select(OutboundEmail).where(OutboundEmail.idempotency_key == key)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    subject, text, html = render_email(template, context)
    parts = seal(settings.secret_key, [*remembered(session), *secrets], text, html, attachments=attachments)
    forget(session, parts.secrets)
    email = OutboundEmail(
        idempotency_key=key,
        message_id=message_id_for(key, settings.message_id_domain),
        case_id=case_id,
        letter_id=letter_id,
        kind=kind,
        sender=settings.mail_from,
        recipients=to,
        cc=unconfirmed_copies_dropped(session, case_id, kind, cc or []),
        reply_to=reply_to,
        subject=subject,
        body_text=parts.body_text,
        body_html=parts.body_html,
        sealed_secrets=parts.sealed,
        attachments=parts.attachments,
        headers={},
        address_source=address_source[:100],
        created_at=now,
        relay_at=now,
    )
    if withheld(session, case_id, kind, to, address_source):
        email.status, email.sealed_secrets = "cancelled", None  # never sent: its secrets go at once
    session.add(email)
    session.flush()
    if email.status != "cancelled":
        dispatch_after_commit(session, SEND_TASK, [email.id])
    return email


def requeue_failed(session: Session, email: OutboundEmail, now: dt.datetime) -> None:
    """A caseworker's retry: the same row (so the same Message-ID) goes back to the queue with fresh attempts."""
    if email.status != "failed":
        raise ValueError("only a failed e-mail can be sent again")
    email.status = "pending"
    email.attempts = 0
    email.lease_until = None
    email.claim_token = None
    email.relay_at = now
    session.flush()
    dispatch_after_commit(session, SEND_TASK, [email.id])
