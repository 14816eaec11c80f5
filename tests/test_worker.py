"""The machinery end to end with a real Celery worker: a case becomes a PDF and an e-mail, and
neither a killed worker nor a broker outage loses or doubles anything."""

from __future__ import annotations

import email
import time
from email.message import Message
from typing import Any

import pytest
from sqlalchemy import func, select

from casework.cases.models import Case, CaseEvent
from casework.cases.services import file_case
from casework.letters.models import Letter
from casework.mail.models import OutboundEmail
from casework.runtime import Runtime
from tests.support.factories import case_facts
from tests.support.smtp import SMTPServer, free_port
from tests.support.waiting import wait_for

pytestmark = pytest.mark.worker


def file_committed(runtime: Runtime, **changes: Any) -> int:
    with runtime.sessions.begin() as session:
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
    started = time.monotonic()
    case_id = file_committed(committed, consumer_name="Zoë Ångström")
    [sent] = wait_for(lambda: emails_sent(committed, case_id), 20, "the consumer's e-mail")
    elapsed = time.monotonic() - started
    assert elapsed < 20
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
    offline = runtime_of(create_app({**settings_overrides, "broker_url": dead_broker}))
    started = time.monotonic()
    case_id = file_committed(offline)
    offline.engine.dispose()
    assert time.monotonic() - started < 10  # the request is not held hostage by the broker
    with committed.sessions() as session:
        assert session.get(Case, case_id) is not None
    start_worker()  # the broker is back: the relay finds the pending letter
    wait_for(lambda: emails_sent(committed, case_id), 30, "the letter and e-mail once the broker is back")
    assert len(letters_of(committed, case_id)) == 1
