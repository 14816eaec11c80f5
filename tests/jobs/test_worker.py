"""The machinery end to end with a real Celery worker: a case becomes a PDF and an e-mail, and
neither a killed worker nor a broker outage loses or doubles anything."""

from __future__ import annotations

import email
import re
import time
from email.message import Message
from typing import Any

import pytest
from sqlalchemy import func, select, update

from casework.cases.filing import file_case
from casework.cases.models import Case, CaseEvent, Delivery
from casework.cases.states import CaseStatus
from casework.cases.workflow import confirm, retry_email
from casework.db import utcnow
from casework.letters.models import Letter
from casework.mail.models import OutboundEmail
from casework.runtime import Runtime
from casework.staff.accounts import create_staff
from tests.support.factories import case_facts
from tests.support.smtp import SMTPServer, free_port
from tests.support.waiting import wait_for
from tests.support.writes import writing

pytestmark = pytest.mark.worker


def file_committed(runtime: Runtime, **changes: Any) -> int:
    with writing(runtime) as session:
        return file_case(session, case_facts(**changes), runtime.settings.secret_key).case_id


def emails_sent(runtime: Runtime, case_id: int) -> list[OutboundEmail]:
    with runtime.sessions() as session:
        return list(session.scalars(
            select(OutboundEmail).where(OutboundEmail.case_id == case_id, OutboundEmail.status == "sent")))


def letters_of(runtime: Runtime, case_id: int) -> list[Letter]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Letter).where(Letter.case_id == case_id)))


def outbox_messages(runtime: Runtime) -> list[Message]:
    return [email.message_from_bytes(p.read_bytes()) for p in sorted(runtime.settings.outbox.glob("*.eml"))]


def test_a_filed_case_becomes_a_pdf_and_an_email(committed: Runtime, start_worker: Any) -> None:
    start_worker()
    case_id = file_committed(committed, consumer_name="Zoë Ångström")
    [sent] = wait_for(lambda: emails_sent(committed, case_id), 60, "the consumer's e-mail")
    [letter] = letters_of(committed, case_id)
    assert letter.status == "rendered"
    assert letter.pages == 1
    [message] = outbox_messages(committed)
    assert message["Message-ID"] == sent.message_id
    assert message["To"] == "jane@example.com"
    [pdf] = [p for p in message.walk() if p.get_content_type() == "application/pdf"]
    assert pdf.get_payload(decode=True)[:5] == b"%PDF-"
    assert {p.get_content_type() for p in message.walk()} >= {"text/plain", "text/html"}
    with committed.sessions() as session:
        actions = list(session.scalars(select(CaseEvent.action).where(CaseEvent.case_id == case_id)
                                       .order_by(CaseEvent.id)))
    assert actions == ["filed", "letter_requested", "letter_rendered", "email_sent"]


def test_duplicate_wake_ups_render_once(committed: Runtime, start_worker: Any) -> None:
    case_id = file_committed(committed)
    [letter] = letters_of(committed, case_id)
    for _ in range(4):
        committed.dispatcher.send("letters.render", [letter.id])
    start_worker()
    wait_for(lambda: emails_sent(committed, case_id), 20, "the consumer's e-mail")
    time.sleep(1.5)  # let the duplicates and a relay sweep run too
    [rendered] = letters_of(committed, case_id)
    assert rendered.status == "rendered"
    assert rendered.attempts == 1
    assert len(outbox_messages(committed)) == 1


def test_kill_9_while_rendering_then_restart(committed: Runtime, start_worker: Any) -> None:
    stuck = start_worker(fault_pause_after_claim_seconds=60)
    case_id = file_committed(committed)
    wait_for(lambda: letters_of(committed, case_id)[0].attempts == 1, 20, "the render to be claimed")
    stuck.kill()
    assert emails_sent(committed, case_id) == []
    start_worker()
    [sent] = wait_for(lambda: emails_sent(committed, case_id), 30, "the e-mail after restart")
    [letter] = letters_of(committed, case_id)
    assert (letter.version, letter.status, letter.attempts) == (1, "rendered", 2)
    messages = outbox_messages(committed)
    assert [m["Message-ID"] for m in messages] == [sent.message_id]


def test_kill_9_between_smtp_acceptance_and_commit(committed: Runtime, start_worker: Any,
                                                   smtp_server: SMTPServer) -> None:
    stuck = start_worker(smtp_url=smtp_server.url, fault_pause_after_send_seconds=60)
    case_id = file_committed(committed)
    wait_for(lambda: len(smtp_server.messages) == 1, 20, "the SMTP server to accept the e-mail")
    stuck.kill()
    start_worker(smtp_url=smtp_server.url)
    [sent] = wait_for(lambda: emails_sent(committed, case_id), 30, "the e-mail to be recorded as sent")
    # The resend is the same message: one Message-ID, however many SMTP deliveries.
    ids = {m["Message-ID"] for m in smtp_server.messages}
    assert ids == {sent.message_id}
    assert len(smtp_server.messages) == 2
    with committed.sessions() as session:
        assert session.execute(select(func.count(OutboundEmail.id))).scalar_one() == 1


def test_broker_down_while_filing(committed: Runtime, start_worker: Any, settings_overrides: dict[str, Any],
                                  tmp_path: Any) -> None:
    from casework import create_app
    from casework.runtime import runtime_of

    if settings_overrides["broker_url"].startswith("redis"):
        dead_broker = f"redis://127.0.0.1:{free_port()}/0"
    else:
        dead_broker = f"sqla+sqlite:///{tmp_path / 'no-such-dir' / 'broker.sqlite'}"
    # Its own limiter storage: the rate limiter is shared by every app in the process.
    offline = runtime_of(create_app({**settings_overrides, "broker_url": dead_broker,
                                     "ratelimit_storage_url": "memory://"}))
    started = time.monotonic()
    case_id = file_committed(offline)
    offline.engine.dispose()
    assert time.monotonic() - started < 10  # the request is not held hostage by the broker
    with committed.sessions() as session:
        assert session.get(Case, case_id) is not None
    start_worker()  # the broker is back: the relay finds the pending letter
    wait_for(lambda: emails_sent(committed, case_id), 30, "the letter and e-mail once the broker is back")
    assert len(letters_of(committed, case_id)) == 1


def the_email(runtime: Runtime, case_id: int, kind: str) -> OutboundEmail | None:
    with runtime.sessions() as session:
        return session.execute(select(OutboundEmail).where(OutboundEmail.case_id == case_id,
                                                           OutboundEmail.kind == kind)).scalar_one_or_none()


def case_events(runtime: Runtime, case_id: int, action: str) -> list[CaseEvent]:
    with runtime.sessions() as session:
        return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                            CaseEvent.action == action).order_by(CaseEvent.id)))


def back_off_elapsed(runtime: Runtime, email_id: int) -> None:
    """The retry's back-off (a minute and more) has passed: the relay may dispatch the row now."""
    with writing(runtime) as session:
        session.execute(update(OutboundEmail).where(OutboundEmail.id == email_id, OutboundEmail.status == "pending")
                        .values(relay_at=utcnow(), lease_until=None))


def test_smtp_down_retries_then_fails_visibly_and_a_caseworker_retry_sends_it_once(
        committed: Runtime, start_worker: Any) -> None:
    port = free_port()  # nothing listens here yet
    start_worker(smtp_url=f"smtp://127.0.0.1:{port}", job_max_attempts=2)
    case_id = file_committed(committed)
    first = wait_for(lambda: (e := the_email(committed, case_id, "confirm_letter")) and e.attempts == 1
                     and e.last_error and e, 30, "the first failed attempt")
    assert first.status == "pending"  # a temporary failure: retried, not dropped
    time.sleep(1.5)  # relay sweeps and the duplicate wake-up run; the back-off holds them off
    waiting = the_email(committed, case_id, "confirm_letter")
    assert waiting is not None
    assert (waiting.status, waiting.attempts) == ("pending", 1)
    assert "Connection refused" in (first.last_error or "") or "ConnectionRefused" in (first.last_error or "")
    assert case_events(committed, case_id, "email_failed") == []
    back_off_elapsed(committed, first.id)
    [event] = wait_for(lambda: case_events(committed, case_id, "email_failed"), 30, "the e-mail to fail")
    failed = the_email(committed, case_id, "confirm_letter")
    assert failed is not None
    assert (failed.status, failed.attempts) == ("failed", 2)
    assert (event.data["email_id"], event.data["permanent"]) == (failed.id, False)

    server = SMTPServer(port=port)
    server.start()
    try:
        with writing(committed) as session:
            staff = create_staff(session, "casey@casework.test", "Casey Worker", "correct horse battery staple")
            case = session.get(Case, case_id)
            row = session.get(OutboundEmail, failed.id)
            assert case is not None
            assert row is not None
            staff_id = staff.id
            retry_email(session, case, row, staff_id, utcnow())
        [sent] = wait_for(lambda: emails_sent(committed, case_id), 30, "the retried e-mail")
        time.sleep(1.5)  # let a relay sweep and any duplicate wake-up run too
        assert [m["Message-ID"] for m in server.messages] == [failed.message_id]
    finally:
        server.stop()
    assert (sent.id, sent.message_id, sent.attempts) == (failed.id, failed.message_id, 1)
    [retried] = case_events(committed, case_id, "email_retried")
    assert (retried.actor.value, retried.actor_staff_id) == ("staff", staff_id)


REJECTED = "550 5.1.1 <jane@example.com>: Recipient address rejected"


def test_a_refused_recipient_fails_at_once_without_retry(committed: Runtime, start_worker: Any) -> None:
    server = SMTPServer(refuse={"jane@example.com": REJECTED})
    server.start()
    try:
        start_worker(smtp_url=server.url)
        case_id = file_committed(committed)
        [event] = wait_for(lambda: case_events(committed, case_id, "email_failed"), 30, "the refusal")
        time.sleep(1.5)  # relay sweeps run; a permanent failure is not picked up again
        failed = the_email(committed, case_id, "confirm_letter")
        assert failed is not None
        assert (failed.status, failed.attempts, failed.sent_at) == ("failed", 1, None)
        assert failed.recipients_refused == {"jane@example.com": REJECTED}
        assert event.data["permanent"] is True
        assert "Recipient address rejected" in event.data["error"]
        assert server.messages == []
    finally:
        server.stop()


def test_a_refused_copy_is_recorded_and_the_letter_still_delivered(committed: Runtime, start_worker: Any) -> None:
    server = SMTPServer()
    server.start()
    try:
        start_worker(smtp_url=server.url)
        case_id = file_committed(committed, provider="other", plan="other-monthly",
                                 company={"name": "Acme", "email": "cancel@acme.example"})
        wait_for(lambda: emails_sent(committed, case_id), 30, "the confirmation e-mail")
        [message] = server.messages
        text = next(p for p in message.walk() if p.get_content_type() == "text/plain").get_payload(decode=True)
        code = re.search(rb"code=([0-9A-Z-]+)", text)
        assert code is not None
        server.refuse("jane@example.com", "550 5.2.1 Mailbox disabled")  # the consumer's copy, from now on
        with writing(committed) as session:
            case = session.get(Case, case_id)
            assert case is not None
            confirm(session, committed.settings, case, code.group(1).decode(), utcnow())
        delivered = wait_for(lambda: case_events(committed, case_id, "delivered"), 30, "the delivery")
        letter_mail = the_email(committed, case_id, "letter_to_company")
        assert letter_mail is not None
        assert letter_mail.status == "sent"
        assert letter_mail.sent_at is not None
        assert letter_mail.recipients_refused == {"jane@example.com": "550 5.2.1 Mailbox disabled"}
        assert letter_mail.address_source == "consumer:company"
        assert server.envelopes[-1][1] == ["cancel@acme.example"]
        assert delivered[0].data["message_id"] == letter_mail.message_id
        with committed.sessions() as session:
            delivery = session.execute(select(Delivery).where(Delivery.case_id == case_id)).scalar_one()
            assert session.get(Case, case_id).status is CaseStatus.SENT  # type: ignore[union-attr]
        assert (delivery.address, delivery.at) == ("cancel@acme.example", letter_mail.sent_at)
    finally:
        server.stop()
