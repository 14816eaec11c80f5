"""Address headers are built from Address objects (a name with a comma or angle brackets stays one quoted
name), and a row whose stored data can never make a message fails for good, visibly, instead of coming back
from the relay forever."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.cases.filing import file_case
from casework.cases.models import Case, CaseEvent
from casework.cases.workflow import start_delivery
from casework.config import ConfigError, load_settings
from casework.db import utcnow
from casework.letters.models import Letter
from casework.mail.compose import build_message
from casework.mail.models import OutboundEmail
from casework.runtime import Runtime
from casework.staff.accounts import create_staff
from tests.support.factories import case_facts
from tests.support.staff import PASSWORD, signed_in
from tests.support.waiting import wait_for
from tests.support.writes import writing

TRICKY_NAME = 'Jane, "Q" <boss@attacker.example>'


def test_reply_to_is_one_mailbox_whatever_the_name(db_session: Session, runtime: Runtime) -> None:
    filed = file_case(db_session, case_facts(consumer_name=TRICKY_NAME), runtime.settings.secret_key)
    case = db_session.get_one(Case, filed.case_id)
    case.email_confirmed_at = utcnow()  # the consumer is copied once their address is confirmed
    letter = db_session.execute(select(Letter).where(Letter.case_id == case.id)).scalar_one()
    snapshot = dict(letter.data_snapshot)
    snapshot["company"] = {**snapshot["company"], "delivery_kind": "email", "delivery_address": "legal@co.example"}
    letter.data_snapshot, letter.status, letter.pdf, letter.sha256 = snapshot, "rendered", b"%PDF-1.7 test", "0" * 64
    start_delivery(db_session, runtime.settings, case, letter, utcnow())
    row = db_session.execute(select(OutboundEmail).where(OutboundEmail.kind == "letter_to_company")).scalar_one()

    message = build_message(db_session, row, runtime.settings.secret_key)
    [reply_to] = message["Reply-To"].addresses
    assert (reply_to.display_name, reply_to.addr_spec) == (TRICKY_NAME, "jane@example.com")
    assert [a.addr_spec for a in message["To"].addresses] == ["legal@co.example"]
    assert [a.addr_spec for a in message["Cc"].addresses] == ["jane@example.com"]
    assert "boss@attacker.example" not in [a.addr_spec for a in message["Reply-To"].addresses]


def test_a_long_name_is_shortened_in_the_reply_to_never_the_address(db_session: Session, runtime: Runtime) -> None:
    email = "j" * 60 + "@" + "example." * 20 + "com"
    filed = file_case(db_session, case_facts(consumer_name="Ñ" * 200, consumer_email=email),
                      runtime.settings.secret_key)
    case = db_session.get_one(Case, filed.case_id)
    letter = db_session.execute(select(Letter).where(Letter.case_id == case.id)).scalar_one()
    letter.data_snapshot = {**letter.data_snapshot, "company": {
        **letter.data_snapshot["company"], "delivery_kind": "email", "delivery_address": "legal@co.example"}}
    start_delivery(db_session, runtime.settings, case, letter, utcnow())
    db_session.flush()  # the column holds at most 320 characters (PostgreSQL refuses more)
    row = db_session.execute(select(OutboundEmail).where(OutboundEmail.kind == "letter_to_company")).scalar_one()
    assert row.reply_to is not None
    assert len(row.reply_to) <= 320
    assert row.reply_to.endswith(f"<{email}>")


def email_row(runtime: Runtime, case_id: int) -> OutboundEmail | None:
    with runtime.sessions() as session:
        return session.execute(select(OutboundEmail).where(OutboundEmail.case_id == case_id)).scalar_one_or_none()


def failures(runtime: Runtime, case_id: int) -> list[CaseEvent]:
    with runtime.sessions() as session:
        return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                            CaseEvent.action == "email_failed")))


@pytest.mark.worker
def test_a_message_that_cannot_be_built_fails_for_good_and_staff_see_it(app: Flask, committed: Runtime,
                                                                        start_worker: Any) -> None:
    # Stored before the fields refused line breaks: the subject ("… letter to <company> …") can never be built.
    with writing(committed) as session:
        filed = file_case(session, case_facts(provider="other", plan="other-monthly", company={
            "name": "Acme\r\nBcc: victim@example.net", "email": "cancel@acme.example"}),
            committed.settings.secret_key)
        create_staff(session, "casey@casework.test", "Casey Worker", PASSWORD)
    start_worker()
    [event] = wait_for(lambda: failures(committed, filed.case_id), 60, "the e-mail to fail")
    failed = email_row(committed, filed.case_id)
    assert failed is not None
    assert (failed.status, failed.attempts, failed.sent_at) == ("failed", 1, None)
    assert failed.last_error is not None
    assert "could not be built" in failed.last_error
    assert "subject" in failed.last_error
    assert "victim@example.net" not in failed.last_error
    assert (event.data["permanent"], event.data["email_id"]) == (True, failed.id)
    time.sleep(2.5)  # several relay sweeps (every 0.5 s here): a permanent failure is never handed out again
    again = email_row(committed, filed.case_id)
    assert again is not None
    assert (again.status, again.attempts) == ("failed", 1)
    assert len(failures(committed, filed.case_id)) == 1

    caseworker = signed_in(app, "casey@casework.test")
    page = caseworker.get(f"/staff/cases/{filed.reference}").get_data(as_text=True)
    assert "<strong>failed</strong>" in page
    assert "the message could not be built" in page
    assert filed.reference in caseworker.get("/staff?failed=1").get_data(as_text=True)


@pytest.mark.parametrize("sender", ["casework <a@b.example>, other@b.example",
                                    "casework\r\nBcc: x@y.example <a@b.example>", "no address"])
def test_the_sender_is_one_address_checked_at_start_up(tmp_path: Path, sender: str) -> None:
    with pytest.raises(ConfigError, match="CASEWORK_MAIL_FROM"):
        load_settings({"var_dir": tmp_path, "mail_from": sender}, environ={})


def test_an_internationalised_address_is_still_one_recipient(db_session: Session, runtime: Runtime) -> None:
    row = OutboundEmail(message_id="<x@casework.test>", created_at=utcnow(), sender=runtime.settings.mail_from,
                        recipients=["jöe@exämple.com"], cc=[], reply_to=None, subject="Test", body_text="Hello",
                        body_html=None, attachments=[], headers={})
    message = build_message(db_session, row, runtime.settings.secret_key)
    assert [a.addr_spec for a in message["To"].addresses] == ["jöe@exämple.com"]
