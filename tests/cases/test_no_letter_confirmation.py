"""A case without a letter confirms its e-mail address with the code of its first e-mail: until then nothing but
that e-mail (and the erasure code) goes to the address, and never confirmed it expires after 7 days with its
personal data deleted, as a letter case does."""

from __future__ import annotations

import datetime as dt
import email
import re
from collections.abc import Iterator
from email.message import Message

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from casework.cases import workflow
from casework.cases.filing import file_case
from casework.cases.models import Case, CaseEvent
from casework.cases.states import BillingChannel, CaseStatus
from casework.db import utcnow
from casework.mail.models import OutboundEmail
from casework.mail.services import queue_email
from casework.privacy.erasure import DELETED_EMAIL
from casework.privacy.expiry import expire_unconfirmed
from casework.reminders.sweep import run_reminder_sweep
from casework.runtime import Runtime
from casework.web import limiter
from tests.support.factories import case_facts
from tests.support.jobs import run_pending_jobs
from tests.support.today import days_ahead
from tests.support.web import filing_form, post_form
from tests.support.writes import writing

pytestmark = [pytest.mark.dates]

APPLE = {"billing_channel": BillingChannel.APPLE_APP_STORE, "next_renewal_date": days_ahead(20)}


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


def outbox(runtime: Runtime) -> list[Message]:
    return [email.message_from_bytes(p.read_bytes()) for p in sorted(runtime.settings.outbox.glob("*.eml"))]


def text_of(message: Message) -> str:
    [found] = [p for p in message.walk() if p.get_content_type() == "text/plain"]
    payload = found.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def words(text: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", text).split())


def code_in(text: str) -> str:
    found = re.search(r"Your confirmation code is ([0-9A-Z]{4}-[0-9A-Z]{4})", text)
    assert found is not None, text
    return found.group(1)


def file_committed(runtime: Runtime, now: dt.datetime | None = None) -> int:
    with writing(runtime) as session:
        return file_case(session, case_facts(**APPLE), runtime.settings.secret_key, now=now,
                         settings=runtime.settings).case_id


def confirm_with_emailed_code(runtime: Runtime, case_id: int, now: dt.datetime) -> None:
    run_pending_jobs(runtime)
    [message] = [m for m in outbox(runtime) if "case" in str(m["Subject"]).lower()]
    with writing(runtime) as session:
        workflow.confirm(session, runtime.settings, session.get_one(Case, case_id), code_in(text_of(message)), now)


def reminders_sent(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return len(session.scalars(select(OutboundEmail.id).where(OutboundEmail.kind == "reminder")).all())


@pytest.mark.storage
def test_the_first_email_carries_a_code_the_case_page_takes(client: FlaskClient, committed: Runtime) -> None:
    response = post_form(client, "/", filing_form(billing_channel="apple_app_store"))
    assert response.status_code == 303
    page_url = response.headers["Location"]
    run_pending_jobs(committed)
    [message] = outbox(committed)
    said = words(text_of(message))
    # What it said before, and the confirmation.
    assert "No letter is written for this case. Apple bills this subscription" in said
    assert "CONFIRM YOUR E-MAIL ADDRESS" in said
    assert "We send nothing more to this address until you confirm it is yours" in said
    assert "If you never confirm, your details are deleted after 7 days." in said
    code = code_in(said)
    assert f"/confirm?code={code}" in said
    page = words(client.get(page_url).get_data(as_text=True))
    assert "Until you confirm that this address is yours, we send it no reminders" in page
    assert "E-mail me a new code" in page
    # Opening the e-mail's link confirms nothing; a wrong code is refused with the field's error.
    confirm_page = words(client.get(f"{page_url}/confirm?code={code}").get_data(as_text=True))
    assert "Confirm my e-mail address" in confirm_page
    refused = post_form(client, f"{page_url}/confirm", {"code": "AAAA-AAAA"}, page=page_url)
    assert refused.status_code == 422
    assert "That code is not right. 4 attempts left." in words(refused.get_data(as_text=True))
    with committed.sessions() as session:
        [case] = session.scalars(select(Case)).all()
        assert case.email_confirmed_at is None
    confirmed = post_form(client, f"{page_url}/confirm", {"code": code.lower()}, page=page_url)
    assert confirmed.status_code == 303
    with committed.sessions() as session:
        case = session.get_one(Case, case.id)
        assert case.email_confirmed_at is not None
        assert case.status is CaseStatus.NEW  # nothing else changes: no letter, nothing sent
        actions = list(session.scalars(select(CaseEvent.action).where(CaseEvent.case_id == case.id)))
    assert "email_confirmed" in actions
    page = words(client.get(page_url).get_data(as_text=True))
    assert "your e-mail address is confirmed" in page
    assert "E-mail me a new code" not in page


def test_a_new_code_can_be_sent_and_supersedes_the_first(client: FlaskClient, committed: Runtime) -> None:
    response = post_form(client, "/", filing_form(billing_channel="apple_app_store"))
    page_url = response.headers["Location"]
    run_pending_jobs(committed)
    first = code_in(words(text_of(outbox(committed)[0])))
    assert post_form(client, f"{page_url}/resend", {}, page=page_url).status_code == 303
    run_pending_jobs(committed)
    codes = {code_in(words(text_of(m))) for m in outbox(committed)}
    [second] = codes - {first}
    refused = post_form(client, f"{page_url}/confirm", {"code": first}, page=page_url)
    assert refused.status_code == 422
    assert post_form(client, f"{page_url}/confirm", {"code": second}, page=page_url).status_code == 303


def test_reminders_go_only_once_the_address_is_confirmed(committed: Runtime) -> None:
    now = utcnow()
    case_id = file_committed(committed, now)
    due = now + dt.timedelta(days=17)  # the first reminder (3 days before the act-by day) is due
    assert run_reminder_sweep(committed, due)["sent"] == 0
    assert reminders_sent(committed) == 0
    confirm_with_emailed_code(committed, case_id, now + dt.timedelta(days=1))
    assert run_reminder_sweep(committed, due)["sent"] == 1
    assert reminders_sent(committed) == 1


def test_no_other_email_reaches_an_unconfirmed_address(committed: Runtime) -> None:
    case_id = file_committed(committed)
    now = utcnow()
    with writing(committed) as session:
        case = session.get_one(Case, case_id)
        held = queue_email(session, committed.settings, key="status:held", kind="status_resolved",
                           to=[case.consumer_email], template="status_resolved",
                           context={"case": case, "company": "Coursera", "status_url": "x", "answer_due": "",
                                    "outcome": "", "follow_ups": 0, "has_letter": False},
                           now=now, case_id=case_id)
        assert held.status == "cancelled"
        assert workflow.send_links(session, committed.settings, case.consumer_email, now) == 0
    run_pending_jobs(committed)
    [only] = outbox(committed)  # the confirmation e-mail
    assert "Apple settings" in str(only["Subject"])


def test_an_unconfirmed_case_without_a_letter_expires_after_seven_days(committed: Runtime) -> None:
    now = utcnow()
    case_id = file_committed(committed, now)
    with writing(committed) as session:
        assert expire_unconfirmed(session, now + dt.timedelta(days=6, hours=23)) == 0
        assert expire_unconfirmed(session, now + dt.timedelta(days=7, minutes=1)) == 1
    with committed.sessions() as session:
        case = session.get_one(Case, case_id)
        assert case.status is CaseStatus.CLOSED
        assert case.personal_data_deleted_at is not None
        assert case.consumer_email == DELETED_EMAIL
        assert "jane@example.com" not in repr(case.company)


def test_a_confirmed_case_without_a_letter_stays_open(committed: Runtime) -> None:
    now = utcnow()
    case_id = file_committed(committed, now)
    confirm_with_emailed_code(committed, case_id, now)
    with writing(committed) as session:
        assert expire_unconfirmed(session, now + dt.timedelta(days=30)) == 0
        assert session.get_one(Case, case_id).status is CaseStatus.NEW
