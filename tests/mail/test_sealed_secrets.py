"""E-mails are stored without the live secrets they carry: the body keeps a placeholder, the secret is sealed
under the server key until the message is sent, then dropped; the message itself goes out whole."""

from __future__ import annotations

import datetime as dt
import email
import io
import zipfile
from email.message import Message

import pytest
from sqlalchemy import select

from casework.cases.filing import file_case
from casework.cases.models import Case
from casework.cases.tokens import case_for_token
from casework.cases.workflow import send_confirmation
from casework.db import utcnow
from casework.evidence.pack import build_pack
from casework.letters.models import Letter
from casework.mail.compose import UnbuildableMessage, build_message
from casework.mail.jobs import send_email
from casework.mail.models import OutboundEmail
from casework.mail.sealed import REDACTED, SealBroken, seal, shown, unseal
from casework.mail.transports import FileTransport
from casework.privacy.erasure import erase_case
from casework.privacy.export import build_export
from casework.privacy.requests import request_erasure
from casework.reminders.ics import deadline_calendar
from casework.runtime import Runtime
from tests.support.factories import case_facts
from tests.support.writes import writing

KEY = "a server key for these tests"
TOKEN = "Zq3_kL9-xY2mN8pQ4rS6tU0vW1aB5cD7eF9gH2jK4mN"


def test_a_sealed_message_stores_placeholders_and_unseals_to_the_same_bytes() -> None:
    ics = deadline_calendar(uid="u@casework.test", summary="Act by today", description=f"Your case: /c/{TOKEN}",
                            act_by=dt.date(2031, 3, 4), url=f"https://casework.test/c/{TOKEN}",
                            stamp=dt.datetime(2031, 3, 1, tzinfo=dt.UTC))
    text = f"Open https://casework.test/c/{TOKEN}/confirm?code=AB12-CD34 and type AB12-CD34."
    html = f'<a href="https://casework.test/c/{TOKEN}/confirm?code=AB12-CD34">Confirm</a>'
    headers = {"List-Unsubscribe": f"<https://casework.test/c/{TOKEN}/off>"}
    attachments = [{"ics": ics, "filename": "x.ics"}, {"letter_id": 3, "filename": "letter.pdf"}]

    parts = seal(KEY, ["AB12-CD34", TOKEN, "not in the message"], text, html, headers, attachments)

    stored = " ".join([parts.body_text, parts.body_html or "", *parts.headers.values(), str(parts.attachments)])
    assert TOKEN[:20] not in stored
    assert "AB12-CD34" not in stored
    assert parts.sealed is not None
    assert TOKEN not in parts.sealed
    assert parts.attachments[1] == {"letter_id": 3, "filename": "letter.pdf"}
    assert unseal(KEY, parts.sealed, parts.body_text, parts.body_html, parts.headers, parts.attachments) == (
        text, html, headers, attachments)
    assert shown(parts.body_text) == (
        f"Open https://casework.test/c/{REDACTED}/confirm?code={REDACTED} and type {REDACTED}.")


def test_a_message_without_secrets_is_stored_as_it_is() -> None:
    parts = seal(KEY, [TOKEN], "Dear Coursera,", "<p>Dear Coursera,</p>")
    assert (parts.body_text, parts.body_html, parts.sealed) == ("Dear Coursera,", "<p>Dear Coursera,</p>", None)


def test_a_typed_look_alike_of_a_placeholder_is_never_filled_in() -> None:
    parts = seal(KEY, [TOKEN], f"link /c/{TOKEN}", None)
    typed = "my note: ⟦secret-0-000000000000⟧"  # a placeholder's shape, in text a consumer wrote
    text, _, _, _ = unseal(KEY, parts.sealed, typed, None, {}, [])
    assert text == typed


def test_another_server_key_cannot_open_the_seal() -> None:
    parts = seal(KEY, [TOKEN], f"/c/{TOKEN}", None)
    with pytest.raises(SealBroken):
        unseal("another key", parts.sealed, parts.body_text, None, {}, [])


def _mail(row_bytes: bytes) -> Message:
    return email.message_from_bytes(row_bytes)


def _text_of(message: Message) -> str:
    return "".join(str(part.get_payload(decode=True).decode()) for part in message.walk()  # type: ignore[union-attr]
                   if part.get_content_type() in ("text/plain", "text/html"))


def queued_confirmation(runtime: Runtime) -> tuple[int, int]:
    """A filed case whose letter is rendered, and its confirmation e-mail queued (not sent): their ids."""
    with writing(runtime) as session:
        filed = file_case(session, case_facts(), runtime.settings.secret_key)
        case = session.get_one(Case, filed.case_id)
        letter = session.execute(select(Letter).where(Letter.case_id == case.id)).scalar_one()
        letter.status, letter.pdf, letter.sha256 = "rendered", b"%PDF-1.7 test", "0" * 64
        return case.id, send_confirmation(session, runtime.settings, case, letter, utcnow()).id


def test_the_confirmation_email_goes_out_whole_and_is_kept_without_its_link_and_code(committed: Runtime) -> None:
    settings = committed.settings
    case_id, email_id = queued_confirmation(committed)
    with writing(committed) as session:
        erasure_id = request_erasure(session, settings, session.get_one(Case, case_id), utcnow()).id

    with committed.sessions() as session:
        row = session.get_one(OutboundEmail, email_id)
        assert row.sealed_secrets is not None
        assert "/c/" in row.body_text
        assert "code=" in row.body_text
        message = _mail(build_message(session, row, settings.secret_key).as_bytes())
    sent_text = _text_of(message)
    token = sent_text.split("/c/")[1].split("/")[0]
    code = sent_text.split("code=")[1][:9]
    with committed.sessions() as session:
        assert case_for_token(session, settings.secret_key, token) is not None  # the link in the message works
        stored = session.get_one(OutboundEmail, email_id)
        assert token not in stored.body_text + (stored.body_html or "")
        assert code not in stored.body_text + (stored.body_html or "")

    assert send_email(committed, email_id, {}) == "sent"
    assert send_email(committed, erasure_id, {}) == "sent"
    outbox = FileTransport(settings.outbox)
    delivered = _text_of(_mail(outbox.path_for(message["Message-ID"]).read_bytes()))
    assert token in delivered  # the consumer's copy has what they need
    assert code in delivered
    with committed.sessions() as session:
        for sent in (session.get_one(OutboundEmail, email_id), session.get_one(OutboundEmail, erasure_id)):
            assert (sent.status, sent.sealed_secrets) == ("sent", None)
            assert REDACTED in shown(sent.body_text)
        case = session.get_one(Case, case_id)
        exported = build_export(session, [case], case.consumer_email, utcnow()).data
        pack = build_pack(session, case, settings.base_url, utcnow())
    [confirmation] = [m for m in pack.emails if m.message_id == message["Message-ID"]]
    assert confirmation.redacted  # the evidence shows what was sent, the secrets removed
    assert f"/c/{REDACTED}/confirm?code={REDACTED}" in confirmation.text
    assert token not in str(pack)
    assert code not in str(pack)
    document = zipfile.ZipFile(io.BytesIO(exported)).read("export.json").decode()
    for secret in (token, code, "⟦"):
        assert secret not in document
    assert REDACTED in document


def test_a_message_whose_seal_cannot_be_opened_fails_for_good(committed: Runtime) -> None:
    with writing(committed) as session:
        row = OutboundEmail(idempotency_key="sealed-test", message_id="<sealed@casework.test>", created_at=utcnow(),
                            sender=committed.settings.mail_from, recipients=["jane@example.com"], cc=[],
                            reply_to=None, subject="Test", body_text="x", body_html=None, attachments=[],
                            headers={}, kind="status_delivered", relay_at=utcnow(),
                            sealed_secrets=seal("an old key", [TOKEN], f"/c/{TOKEN}", None).sealed)
        session.add(row)
    with committed.sessions() as session, pytest.raises(UnbuildableMessage):
        build_message(session, session.get_one(OutboundEmail, row.id), committed.settings.secret_key)
    assert send_email(committed, row.id, {}) == "failed"


def test_erasure_drops_the_sealed_secrets_of_a_message_not_yet_sent(committed: Runtime) -> None:
    case_id, email_id = queued_confirmation(committed)
    with committed.sessions() as session:
        assert session.get_one(OutboundEmail, email_id).sealed_secrets is not None
    with writing(committed) as session:
        assert erase_case(session, session.get_one(Case, case_id), "consumer_request", utcnow())
    with committed.sessions() as session:
        assert session.get_one(OutboundEmail, email_id).sealed_secrets is None
