"""Turn an OutboundEmail row into a MIME message: plain text, HTML, attachments, stable Message-ID."""

from __future__ import annotations

import hashlib
import html
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.letters.models import Letter
from casework.mail.models import OutboundEmail


def message_id_for(idempotency_key: str, domain: str) -> str:
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def html_from_text(text: str) -> str:
    """Every message has an HTML part; a row made without one gets its text, escaped, as the HTML."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"></head>'
            f'<body><pre style="white-space: pre-wrap">{html.escape(text)}</pre></body></html>\n')


def build_message(session: Session, email: OutboundEmail) -> EmailMessage:
    """Plain text first, then HTML (readers show the last part they understand), then the PDFs and calendar entries."""
    message = EmailMessage()
    message["Message-ID"] = email.message_id
    message["Date"] = format_datetime(email.created_at)
    message["From"] = email.sender
    message["To"] = ", ".join(email.recipients)
    if email.cc:
        message["Cc"] = ", ".join(email.cc)
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    message["Subject"] = email.subject
    for name, value in email.headers.items():
        message[name] = value
    message.set_content(email.body_text)
    message.add_alternative(email.body_html or html_from_text(email.body_text), subtype="html")
    for ref in email.attachments:
        if "ics" in ref:  # a calendar entry is small and kept in the row itself
            message.add_attachment(str(ref["ics"]), subtype="calendar", filename=str(ref["filename"]),
                                   params={"method": "PUBLISH"})
            continue
        letter_id = int(ref["letter_id"])
        pdf = session.execute(select(Letter.pdf).where(Letter.id == letter_id)).scalar_one()
        if pdf is None:
            raise LookupError(f"letter {letter_id} has no PDF to attach")
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename=str(ref["filename"]))
    if email.headers:
        # A List-Unsubscribe URL is one unbreakable word: at the default 78 columns it would be written as an
        # encoded-word that no mail client reads as a URL. RFC 5322 allows lines of 998; the parts are already
        # encoded, so this only changes how the headers are folded.
        message.policy = message.policy.clone(max_line_length=998)
    return message
