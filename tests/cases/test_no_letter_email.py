"""A case without a letter is e-mailed its link at filing: once, with what the consumer does themselves (the
platform's steps and refund page, or why no letter is written), the dates that matter and the reminders planned
for them, and the code that confirms the address; nothing goes to any company. The case page says where the link
went (tests/cases/test_no_letter_confirmation.py: the confirmation itself)."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from email.message import Message
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from casework.cases.filing import file_case
from casework.cases.models import AccessToken, Case
from casework.cases.states import BillingChannel, RequestedOutcome
from casework.cases.tracking import TRACKING_EMAIL, start_tracking
from casework.db import utcnow
from casework.letters.models import Letter
from casework.mail.models import OutboundEmail
from casework.reminders.models import Reminder
from casework.runtime import Runtime
from casework.web import limiter
from tests.support.factories import case_facts
from tests.support.jobs import run_pending_jobs
from tests.support.today import days_ago, days_ahead, long_date
from tests.support.waiting import wait_for
from tests.support.web import filing_form, post_form
from tests.support.writes import writing
from worker.jobs import send_email

pytestmark = [pytest.mark.dates]

APPLE_REFUND = "https://support.apple.com/118223"
GOOGLE_CANCEL = "https://support.google.com/googleplay/answer/7018481"
GOOGLE_REFUND = "https://support.google.com/googleplay/answer/2479637"


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


def outbox(runtime: Runtime) -> list[Message]:
    return [email.message_from_bytes(p.read_bytes()) for p in sorted(runtime.settings.outbox.glob("*.eml"))]


def part(message: Message, content_type: str) -> str:
    [found] = [p for p in message.walk() if p.get_content_type() == content_type]
    payload = found.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def words(text: str) -> str:
    """The text without its tags, line breaks and indentation, as a reader reads it."""
    return " ".join(re.sub(r"<[^>]+>", "", text).split())


def tracking_rows(runtime: Runtime) -> list[OutboundEmail]:
    with runtime.sessions() as session:
        return list(session.scalars(select(OutboundEmail).where(OutboundEmail.kind == TRACKING_EMAIL)))


def file_committed(runtime: Runtime, **changes: Any) -> int:
    with writing(runtime) as session:
        return file_case(session, case_facts(**changes), runtime.settings.secret_key,
                         settings=runtime.settings).case_id


def case_link(runtime: Runtime, text: str) -> str:
    found = re.search(re.escape(runtime.settings.base_url) + r"(/c/[A-Za-z0-9_-]+)", text)
    assert found is not None, text
    return found.group(1)


APPLE_WITH_RENEWAL = {"billing_channel": BillingChannel.APPLE_APP_STORE, "next_renewal_date": days_ahead(20)}


# --- filing queues it, with what the case really gets -------------------------------------------------------------

@pytest.mark.storage
def test_an_apple_case_is_emailed_its_link_steps_refund_page_and_dates(committed: Runtime) -> None:
    case_id = file_committed(committed, **APPLE_WITH_RENEWAL)
    run_pending_jobs(committed)
    [message] = outbox(committed)
    text, html = part(message, "text/plain"), part(message, "text/html")
    assert message["To"] == "jane@example.com"
    assert "cancel it in your Apple settings" in str(message["Subject"])
    said = words(text)
    assert "No letter is written for this case. Apple bills this subscription, so Coursera cannot cancel it" in said
    assert "Nothing is sent to Coursera or to Apple in your name" in said
    assert "Tap the subscription, then Cancel Subscription, and confirm." in said  # Apple's own steps
    assert APPLE_REFUND in text
    assert f'href="{APPLE_REFUND}"' in html
    assert f"for the payment of {long_date(days_ago(7))}" in said
    assert f"Next renewal charge: {long_date(days_ahead(20))}. Act by {long_date(days_ahead(19))}." in said
    # Exactly the reminders planned: 3 days before the act-by date and on it, at 09:00 in Melbourne.
    with committed.sessions() as session:
        due = sorted(session.scalars(select(Reminder.due_at).where(Reminder.case_id == case_id)))
    melbourne = [d.astimezone(ZoneInfo("Australia/Melbourne")) for d in due]
    assert [d.date() for d in melbourne] == [days_ahead(16), days_ahead(19)]
    assert {d.hour for d in melbourne} == {9}
    assert f"We remind you on {long_date(days_ahead(16))} and {long_date(days_ahead(19))}." in said
    assert "once you have confirmed your address, e-mail you reminders of the dates below" in said
    assert re.search(r"Your confirmation code is [0-9A-Z]{4}-[0-9A-Z]{4} \(valid until", said)
    assert "I have cancelled it" in said
    # The link opens this case.
    with committed.sessions() as session:
        [row] = tracking_rows(committed)
        assert row.message_id == message["Message-ID"]
        assert row.case_id == case_id
        tokens = session.execute(select(func.count(AccessToken.id)).where(AccessToken.case_id == case_id)).scalar_one()
    assert tokens == 2  # the one shown after filing, and the e-mail's own
    assert case_link(committed, text)


@pytest.mark.storage
def test_google_play_without_a_refund_asked_sends_nobody_to_a_refund_page(committed: Runtime) -> None:
    file_committed(committed, billing_channel=BillingChannel.GOOGLE_PLAY,
                   requested_outcome=RequestedOutcome.CANCEL)
    run_pending_jobs(committed)
    [message] = outbox(committed)
    text = part(message, "text/plain")
    said = words(text)
    assert "Google Play bills this subscription" in said
    assert GOOGLE_CANCEL in text
    assert GOOGLE_REFUND not in text
    assert "YOUR REFUND" not in text
    # No renewal date was given and there is no trial: nothing to remind of, and it says so.
    assert "We send no reminders for it: there is no date ahead that we know of." in said
    assert "We do not know when Google Play next charges you" in said
    assert "We remind you" not in said


@pytest.mark.storage
def test_a_one_time_purchase_without_a_refund_follows_the_plans_reason(committed: Runtime) -> None:
    file_committed(committed, plan="course-one-time", requested_outcome=RequestedOutcome.CANCEL)
    run_pending_jobs(committed)
    [message] = outbox(committed)
    said = words(part(message, "text/plain"))
    assert "No letter is written: a one-time purchase has nothing to renew, and you did not ask for a refund" in said
    assert "Nothing is sent to Coursera in your name" in said
    assert "Apple" not in said
    assert "Google" not in said
    assert "withdraw it on your case page" in said
    assert "We send no reminders for it" in said


@pytest.mark.storage
def test_a_letter_case_gets_no_such_email(committed: Runtime) -> None:
    file_committed(committed)
    assert tracking_rows(committed) == []


# --- the case page --------------------------------------------------------------------------------------------------

@pytest.mark.http
def test_the_case_page_says_where_the_link_went_and_asks_to_confirm_the_address(client: FlaskClient,
                                                                                committed: Runtime) -> None:
    response = post_form(client, "/", filing_form(billing_channel="apple_app_store"))
    assert response.status_code == 303
    page = words(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "We are e-mailing a link to this case to jane@example.com" in page
    run_pending_jobs(committed)
    page = words(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "We e-mailed a link to this case to jane@example.com" in page
    for wrong in ("confirm it from the e-mail", "Review and confirm", "preparing your letter", "confirm the letter"):
        assert wrong not in page
    assert "Until you confirm that this address is yours, we send it no reminders and no news of this case" in page
    with committed.sessions() as session:
        assert session.execute(select(func.count(Letter.id))).scalar_one() == 0
    [message] = outbox(committed)
    assert [str(m["To"]) for m in outbox(committed)] == ["jane@example.com"]  # nothing to any company
    link = case_link(committed, part(message, "text/plain"))
    assert "Apple bills this subscription" in client.get(link).get_data(as_text=True)


# --- with a real worker: it lands once ------------------------------------------------------------------------------

@pytest.mark.worker
def test_a_real_worker_sends_it_once(committed: Runtime, start_worker: Any) -> None:
    start_worker()
    case_id = file_committed(committed, **APPLE_WITH_RENEWAL)

    def sent() -> list[OutboundEmail]:
        return [row for row in tracking_rows(committed) if row.status == "sent"]

    [row] = wait_for(sent, 60, "the e-mail with the case's link")
    [message] = outbox(committed)
    assert message["Message-ID"] == row.message_id
    said = words(part(message, "text/plain"))
    assert f"{committed.settings.base_url}/c/" in said
    assert "Tap the subscription, then Cancel Subscription, and confirm." in said
    assert APPLE_REFUND in said
    assert long_date(days_ahead(20)) in said
    assert long_date(days_ago(7)) in said
    # The task again, and the filing's e-mail asked for again: nothing new goes out.
    assert send_email(committed, row.id) == "skipped"
    with writing(committed) as session:
        again = start_tracking(session, committed.settings, session.get_one(Case, case_id), utcnow())
        assert again is not None
        assert again.id == row.id
    assert len(tracking_rows(committed)) == 1
    assert len(outbox(committed)) == 1
