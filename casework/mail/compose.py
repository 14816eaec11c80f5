"""Turn an OutboundEmail row into a MIME message: plain text, HTML, attachments, stable Message-ID.

Every address header is made of :class:`email.headerregistry.Address` objects, never pasted together as text:
a display name with a comma or angle brackets stays one quoted name instead of becoming more recipients. A row
that cannot make a valid message (text stored before the fields refused line breaks, say) raises
:class:`UnbuildableMessage`; the send job fails it for good, since no retry could ever send it.
"""

from __future__ import annotations

import hashlib
import html
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.letters.models import Letter
from casework.mail.models import OutboundEmail
from casework.mail.sealed import SealBroken, unseal
from casework.typed_text import addresses_in, flattened, is_one_line

MAILBOX_MAX = 320  # outbound_emails.sender and .reply_to


class UnbuildableMessage(ValueError):
    """The row cannot make a valid message; the text names the header, never its value (it may be personal)."""


def message_id_for(idempotency_key: str, domain: str) -> str:
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def html_from_text(text: str) -> str:
    """Every message has an HTML part; a row made without one gets its text, escaped, as the HTML."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"></head>'
            f'<body><pre style="white-space: pre-wrap">{html.escape(text)}</pre></body></html>\n')


def mailbox(name: str, address: str) -> str:
    """One mailbox as stored in a row: the name quoted as RFC 5322 requires, on one line, shortened to fit.

    The name is a courtesy to the reader (the letter itself carries the full name); the address is never changed:
    one that is not valid is stored as it is, and the message is refused when it is built.
    """
    name = flattened(name)
    username, _, domain = address.rpartition("@")
    if not is_one_line(address) or not username or not domain:
        return address
    text = str(Address(display_name=name, username=username, domain=domain))
    while len(text) > MAILBOX_MAX and name:
        name = name[: max(len(name) - (len(text) - MAILBOX_MAX), 0)].rstrip()
        text = str(Address(display_name=name, username=username, domain=domain))
    return text


def parse_mailbox(header: str, text: str) -> Address:
    """Exactly one address with a domain, from a stored mailbox (``Name <a@b>`` or ``a@b``)."""
    if not is_one_line(text):
        raise UnbuildableMessage(f"the {header} address contains a line break or a control character")
    addresses = addresses_in(text)
    if len(addresses) != 1 or not addresses[0].username or not addresses[0].domain:
        raise UnbuildableMessage(f"the {header} address is not exactly one address")
    found = addresses[0]
    return Address(display_name=found.display_name, username=found.username, domain=found.domain)


def _recipient(header: str, address: str) -> Address:
    """A bare recipient address (checked at intake) as one Address object.

    Built from its two parts rather than parsed, so an internationalised address (``jöe@exämple.com``, sent
    with SMTPUTF8) is kept as it always was; whatever the local part holds, it is quoted as one address.
    """
    username, _, domain = address.rpartition("@")
    if not is_one_line(address) or not username or not domain:
        raise UnbuildableMessage(f"a {header} address is not a valid address")
    return Address(username=username, domain=domain)


def _text_header(name: str, value: str) -> str:
    if not is_one_line(value):
        raise UnbuildableMessage(f"the {name} contains a line break or a control character")
    return value


def build_message(session: Session, email: OutboundEmail, secret_key: str) -> EmailMessage:
    """Plain text first, then HTML (readers show the last part they understand), then the PDFs and calendar entries.

    The live secrets sealed in the row go back in place here, in the message only (see :mod:`casework.mail.sealed`).
    Raises :class:`UnbuildableMessage` for a row that can never make a valid message.
    """
    try:
        body_text, body_html, headers, attachments = unseal(
            secret_key, email.sealed_secrets, email.body_text, email.body_html, email.headers, email.attachments)
    except SealBroken as exc:
        raise UnbuildableMessage(str(exc)) from exc
    message = EmailMessage()
    message["Message-ID"] = email.message_id
    message["Date"] = format_datetime(email.created_at)
    message["From"] = parse_mailbox("From", email.sender)
    if not email.recipients:
        raise UnbuildableMessage("the e-mail has no recipient")
    message["To"] = [_recipient("To", address) for address in email.recipients]
    if email.cc:
        message["Cc"] = [_recipient("Cc", address) for address in email.cc]
    if email.reply_to:
        message["Reply-To"] = parse_mailbox("Reply-To", email.reply_to)
    message["Subject"] = _text_header("subject", email.subject)
    for name, value in headers.items():
        message[name] = _text_header(f"{name} header", value)
    message.set_content(body_text)
    message.add_alternative(body_html or html_from_text(body_text), subtype="html")
    for ref in attachments:
        if "ics" in ref:  # a calendar entry is small and kept in the row itself
            message.add_attachment(str(ref["ics"]), subtype="calendar", filename=str(ref["filename"]),
                                   params={"method": "PUBLISH"})
            continue
        letter_id = int(ref["letter_id"])
        pdf = session.execute(select(Letter.pdf).where(Letter.id == letter_id)).scalar_one_or_none()
        if pdf is None:
            raise UnbuildableMessage(f"letter {letter_id} has no PDF to attach")
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename=str(ref["filename"]))
    if headers:
        # A List-Unsubscribe URL is one unbreakable word: at the default 78 columns it would be written as an
        # encoded-word that no mail client reads as a URL. RFC 5322 allows lines of 998; the parts are already
        # encoded, so this only changes how the headers are folded.
        message.policy = message.policy.clone(max_line_length=998)
    return message
