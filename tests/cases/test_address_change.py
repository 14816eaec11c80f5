"""Only a confirmed address is trusted, and a changed address is not confirmed: a correction or a new-code request
that changes the consumer's e-mail address withdraws the confirmation, stops codes sent to the old address, and
sends a code to the new one; nothing else reaches the new address until its owner uses that code."""

from __future__ import annotations

import datetime as dt
import email
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.cases.filing import file_case
from casework.cases.models import Case, CaseEvent
from casework.cases.workflow import queue_letter_to_company, send_links
from casework.db import utcnow
from casework.letters.services import latest_letter
from casework.mail.models import OutboundEmail
from casework.privacy.expiry import expire_unconfirmed
from casework.runtime import Runtime
from casework.web import limiter
from tests.support.factories import case_facts
from tests.support.http import JsonClient, serve
from tests.support.jobs import run_pending_jobs
from tests.support.today import iso_days_ago, iso_days_ahead
from tests.support.web import post_form
from tests.support.writes import writing

pytestmark = [pytest.mark.http, pytest.mark.dates]
OLD, NEW = "jane@example.com", "someone.else@example.net"


@pytest.fixture
def api(app: Flask, committed: Runtime) -> Iterator[JsonClient]:
    limiter.reset()
    with serve(app) as base_url:
        yield JsonClient(base_url)


def case_body(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "provider": "coursera", "plan": "coursera-plus-annual", "billing_channel": "direct", "country": "AU",
        "timezone": "Australia/Melbourne", "payment_date": iso_days_ago(7),
        "amount": {"value": "599.00", "currency": "AUD"}, "requested_outcome": "cancel_and_refund",
        "consumer": {"name": "Jane Q. Consumer", "email": OLD, "postal_address": "12 Example Street\nBrunswick",
                     "phone": None},
        "account_identifier": "jane-account", "details": "Tried twice to cancel online.",
        "company": None, "consent": {"send_in_my_name": True},
    }
    data.update(changes)
    return data


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def code_sent_to(runtime: Runtime, address: str) -> str:
    """The newest confirmation code e-mailed to ``address``."""
    for path in sorted(runtime.settings.outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns, reverse=True):
        message = email.message_from_bytes(path.read_bytes())
        if str(message["To"]) != address:
            continue
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                found = re.search(r"Your confirmation code is ([0-9A-Z-]+)", part.get_payload(decode=True).decode())
                if found:
                    return found.group(1)
    raise AssertionError(f"no confirmation e-mail to {address}")


def emails_to(runtime: Runtime, address: str) -> list[tuple[str, str]]:
    """(kind, status) of every e-mail row addressed to ``address``, in order."""
    with runtime.sessions() as session:
        rows = session.scalars(select(OutboundEmail).order_by(OutboundEmail.id))
        return [(row.kind, row.status) for row in rows if address in row.recipients + row.cc]


def case_of(runtime: Runtime, reference: str) -> Case:
    with runtime.sessions() as session:
        return session.execute(select(Case).where(Case.reference == reference)).scalar_one()


def corrections(runtime: Runtime, reference: str) -> list[dict[str, Any]]:
    with runtime.sessions() as session:
        case = session.execute(select(Case).where(Case.reference == reference)).scalar_one()
        return [event.data for event in session.scalars(select(CaseEvent).where(
            CaseEvent.case_id == case.id, CaseEvent.action == "email_corrected"))]


def test_a_confirmed_letter_case_that_changes_its_address_confirms_the_new_one(api: JsonClient,
                                                                               committed: Runtime) -> None:
    filed = api.post("/api/v1/cases", case_body()).json
    ref, auth = filed["reference"], bearer(filed["access_token"])
    run_pending_jobs(committed)
    confirmed = api.post(f"/api/v1/cases/{ref}/confirm", {"code": code_sent_to(committed, OLD)}, headers=auth)
    assert (confirmed.json["status"], confirmed.json["email_confirmed"]) == ("ready", True)

    changed = api.request("PATCH", f"/api/v1/cases/{ref}", {"consumer": {"email": NEW}}, headers=auth)
    assert changed.status == 200, changed.body
    assert (changed.json["status"], changed.json["email_confirmed"]) == ("ready", False)
    case = case_of(committed, ref)
    assert (case.consumer_email, case.email_confirmed_at) == (NEW, None)
    assert case.confirmed_at is not None  # the letter stays confirmed; only the address is unproven
    [event] = corrections(committed, ref)
    assert "@" not in json.dumps(event)
    run_pending_jobs(committed)
    assert emails_to(committed, NEW) == [("confirm_address", "sent")]

    # Nothing else reaches the new address meanwhile: the news of the delivery is held back, no links go to it.
    sent = api.post(f"/api/v1/cases/{ref}/delivery", {"channel": "web_form"}, headers=auth)
    assert sent.json["status"] == "sent"
    run_pending_jobs(committed)
    assert [kind for kind, status in emails_to(committed, NEW) if status != "cancelled"] == ["confirm_address"]
    with writing(committed) as session:
        assert send_links(session, committed.settings, NEW, utcnow()) == 0

    again = api.post(f"/api/v1/cases/{ref}/confirm", {"code": code_sent_to(committed, NEW)}, headers=auth)
    assert again.status == 200, again.body
    assert (again.json["status"], again.json["email_confirmed"]) == ("sent", True)


def test_the_case_page_asks_for_the_new_addresss_code(api: JsonClient, committed: Runtime, app: Flask) -> None:
    filed = api.post("/api/v1/cases", case_body()).json
    ref, auth, token = filed["reference"], bearer(filed["access_token"]), filed["access_token"]
    run_pending_jobs(committed)
    api.post(f"/api/v1/cases/{ref}/confirm", {"code": code_sent_to(committed, OLD)}, headers=auth)
    api.request("PATCH", f"/api/v1/cases/{ref}", {"consumer": {"email": NEW}}, headers=auth)
    run_pending_jobs(committed)
    client = app.test_client()
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert 'id="confirm-address"' in page
    assert "deleted after 7 days" not in page  # a case proven once does not expire while it waits
    confirm_page = client.get(f"/c/{token}/confirm").get_data(as_text=True)
    assert "Confirm my e-mail address" in confirm_page
    assert "Your letter was confirmed before" in confirm_page
    done = post_form(client, f"/c/{token}/confirm", {"code": code_sent_to(committed, NEW)}, page=f"/c/{token}")
    assert done.status_code == 303
    assert "your e-mail address is confirmed" in client.get(f"/c/{token}").get_data(as_text=True)
    assert case_of(committed, ref).email_confirmed_at is not None


def test_a_code_sent_to_the_old_address_does_not_confirm_the_new_one(api: JsonClient, committed: Runtime) -> None:
    filed = api.post("/api/v1/cases", case_body(billing_channel="apple_app_store")).json
    ref, auth = filed["reference"], bearer(filed["access_token"])
    run_pending_jobs(committed)
    old_code = code_sent_to(committed, OLD)
    changed = api.request("PATCH", f"/api/v1/cases/{ref}", {"consumer": {"email": NEW}}, headers=auth)
    assert changed.status == 200, changed.body
    stale = api.post(f"/api/v1/cases/{ref}/confirm", {"code": old_code}, headers=auth)
    assert stale.status == 422
    run_pending_jobs(committed)
    assert emails_to(committed, NEW) == [("case_without_letter", "sent")]  # never confirmed: its first e-mail
    done = api.post(f"/api/v1/cases/{ref}/confirm", {"code": code_sent_to(committed, NEW)}, headers=auth)
    assert (done.status, done.json["email_confirmed"]) == (200, True)


def test_a_confirmed_case_without_a_letter_waits_for_its_new_address_and_does_not_expire(
        api: JsonClient, committed: Runtime) -> None:
    filed = api.post("/api/v1/cases", case_body(billing_channel="apple_app_store",
                                                next_renewal_date=iso_days_ahead(60))).json
    ref, auth = filed["reference"], bearer(filed["access_token"])
    run_pending_jobs(committed)
    assert api.post(f"/api/v1/cases/{ref}/confirm", {"code": code_sent_to(committed, OLD)},
                    headers=auth).json["email_confirmed"] is True
    changed = api.request("PATCH", f"/api/v1/cases/{ref}", {"consumer": {"email": NEW}}, headers=auth)
    assert changed.json["email_confirmed"] is False
    assert corrections(committed, ref) == [{"confirmation_withdrawn": True}]
    run_pending_jobs(committed)
    assert emails_to(committed, NEW) == [("confirm_address", "sent")]
    with writing(committed) as session:
        assert expire_unconfirmed(session, utcnow() + dt.timedelta(days=30)) == 0
    assert case_of(committed, ref).personal_data_deleted_at is None


def test_asking_for_a_new_code_at_another_address_withdraws_the_confirmation(api: JsonClient,
                                                                             committed: Runtime) -> None:
    """A case whose address was confirmed before its facts called for a letter waits for that letter's code: a new
    code asked for at another address leaves the new address unconfirmed."""
    filed = api.post("/api/v1/cases", case_body()).json
    ref, auth = filed["reference"], bearer(filed["access_token"])
    run_pending_jobs(committed)
    with writing(committed) as session:
        session.execute(select(Case).where(Case.reference == ref)).scalar_one().email_confirmed_at = utcnow()
    resent = api.post(f"/api/v1/cases/{ref}/resend-confirmation", {"email": NEW}, headers=auth)
    assert resent.status == 200, resent.body
    assert (resent.json["status"], resent.json["email_confirmed"]) == ("new", False)
    assert corrections(committed, ref) == [{"confirmation_withdrawn": True}]
    run_pending_jobs(committed)
    assert emails_to(committed, NEW) == [("confirm_letter", "sent")]
    done = api.post(f"/api/v1/cases/{ref}/confirm", {"code": code_sent_to(committed, NEW)}, headers=auth)
    assert (done.json["status"], done.json["email_confirmed"]) == ("ready", True)


def test_the_company_letter_copies_the_consumer_only_at_a_confirmed_address(db_session: Session,
                                                                             runtime: Runtime) -> None:
    filed = file_case(db_session, case_facts(), runtime.settings.secret_key)
    case = db_session.get_one(Case, filed.case_id)
    letter = latest_letter(db_session, case.id)
    assert letter is not None
    unproven = queue_letter_to_company(db_session, runtime.settings, case, letter, utcnow(), key="test:1")
    assert unproven.cc == []
    case.email_confirmed_at = utcnow()
    proven = queue_letter_to_company(db_session, runtime.settings, case, letter, utcnow(), key="test:2")
    assert proven.cc == [case.consumer_email]
