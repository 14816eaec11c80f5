"""What a consumer's e-mail said when it went out, links and codes included.

The stored row keeps placeholders for its secrets (see casework.mail.sealed): a test that follows a link or
types a code reads the delivered copy in the outbox, or, before sending, the row with its secrets put back.
"""

from __future__ import annotations

import email

from casework.mail.models import OutboundEmail
from casework.mail.sealed import unseal
from casework.mail.transports import FileTransport
from casework.runtime import Runtime


def as_sent_text(runtime: Runtime, row: OutboundEmail) -> str:
    """The plain text of the message as the recipient got it (or will get it)."""
    delivered = FileTransport(runtime.settings.outbox).path_for(row.message_id)
    if delivered.exists():
        message = email.message_from_bytes(delivered.read_bytes())
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                return payload.decode()
    text, _, _, _ = unseal(runtime.settings.secret_key, row.sealed_secrets, row.body_text, row.body_html,
                           row.headers, row.attachments)
    return text
