"""Delivery by every channel: e-mail with its evidence, the web form, the post, a caseworker's approval
and retry. Jobs run in this process; tests/jobs/test_worker.py proves the same through a real worker."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import re
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.cases.filing import file_case
from casework.cases.models import Case, CaseEvent, Delivery
from casework.cases.states import CaseStatus
from casework.cases.workflow import start_delivery
from casework.config import ConfigError, load_settings
from casework.db import utcnow
from casework.letters.models import Letter
from casework.mail.models import OutboundEmail
from casework.runtime import Runtime
from casework.staff.accounts import create_staff
from casework.staff.models import StaffUser
from casework.web import limiter
from tests.support.factories import case_facts
from tests.support.http import JsonClient, serve
from tests.support.jobs import run_pending_jobs
from tests.support.smtp import SMTPServer
from tests.support.today import days_ago, long_date
from tests.support.web import filing_form, post_form, token_from_location
from tests.support.writes import writing
from worker.jobs import send_email

pytestmark = pytest.mark.http
PASSWORD = "correct horse battery staple"
SCRIPT = "<script>alert(1)</script>"
MELBOURNE = ZoneInfo("Australia/Melbourne")


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with writing(committed) as session:
        create_staff(session, "casey@casework.test", "Casey Worker", PASSWORD)
    with app.test_client() as test_client:
        yield test_client


@pytest.fixture
def approval_required(app: Flask, committed: Runtime, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    """The same app, database and broker with CASEWORK_REQUIRE_DELIVERY_APPROVAL on."""
    strict = dataclasses.replace(committed, settings=dataclasses.replace(committed.settings,
                                                                         require_delivery_approval=True))
    monkeypatch.setitem(app.extensions, "casework", strict)
    return strict


def outbox(runtime: Runtime) -> list[Message]:
    return [email.message_from_bytes(p.read_bytes()) for p in runtime.settings.outbox.glob("*.eml")]


def part(message: Message, content_type: str) -> str:
    [found] = [p for p in message.walk() if p.get_content_type() == content_type]
    payload = found.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def the_case(runtime: Runtime) -> Case:
    with runtime.sessions() as session:
        return session.execute(select(Case)).scalar_one()


def events(runtime: Runtime) -> list[CaseEvent]:
    with runtime.sessions() as session:
        return list(session.scalars(select(CaseEvent).order_by(CaseEvent.id)))


def emails(runtime: Runtime, kind: str | None = None) -> list[OutboundEmail]:
    with runtime.sessions() as session:
        query = select(OutboundEmail).order_by(OutboundEmail.id)
        if kind:
            query = query.where(OutboundEmail.kind == kind)
        return list(session.scalars(query))


def file_and_confirm(client: FlaskClient, runtime: Runtime, **changes: str) -> str:
    """File through the form, confirm with the e-mailed code; return the status page's token."""
    response = post_form(client, "/", filing_form(**changes))
    assert response.status_code == 303, response.get_data(as_text=True)
    run_pending_jobs(runtime)
    [message] = [m for m in outbox(runtime) if "confirm" in str(m["Subject"]).lower()]
    link = re.search(r"http://casework\.test(/c/[^\s]+/confirm)\?code=([0-9A-Z-]+)", part(message, "text/plain"))
    assert link is not None
    response = post_form(client, link.group(1), {"code": link.group(2)}, page=link.group(1))
    assert response.status_code == 303
    return token_from_location(response)  # the links made before confirming stop working


def sign_in(client: FlaskClient) -> None:
    response = post_form(client, "/staff/login", {"email": "casey@casework.test", "password": PASSWORD},
                         page="/staff/login")
    assert response.status_code == 303


def staff_post(client: FlaskClient, path: str, data: dict[str, str], reference: str) -> Any:
    return post_form(client, path, {"version": str(the_case_version(client, reference)), **data},
                     page=f"/staff/cases/{reference}")


def the_case_version(client: FlaskClient, reference: str) -> int:
    page = client.get(f"/staff/cases/{reference}").get_data(as_text=True)
    found = re.search(r'name="version" value="(\d+)"', page)
    assert found is not None, page
    return int(found.group(1))


def test_every_email_has_text_and_html_and_consumer_values_are_escaped(client: FlaskClient,
                                                                      committed: Runtime) -> None:
    file_and_confirm(client, committed, plan="other:other-monthly",
                     **{"consumer.name": f"Jane {SCRIPT}", "company.name": f"Acme {SCRIPT} Ltd",
                        "company.email": "cancel@acme.example"})
    run_pending_jobs(committed)
    post_form(client, "/lost-link", {"email": "jane@example.com"}, page="/lost-link")
    run_pending_jobs(committed)
    messages = outbox(committed)
    assert len(messages) == 4  # confirmation, letter to the company, "delivered" to the consumer, lost link
    for message in messages:
        text, html = part(message, "text/plain"), part(message, "text/html")
        assert "<script>" not in html
        if "Acme" in text:
            assert SCRIPT in text
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    [to_company] = [m for m in messages if m["To"] == "cancel@acme.example"]
    assert f"Jane {SCRIPT}" in part(to_company, "text/plain")
    assert "Jane &lt;script&gt;" in part(to_company, "text/html")


def test_address_sources_are_recorded(client: FlaskClient, committed: Runtime) -> None:
    file_and_confirm(client, committed, plan="other:other-monthly",
                     **{"company.name": "Acme", "company.email": "cancel@acme.example"})
    assert {e.kind: e.address_source for e in emails(committed)} == {
        "confirm_letter": "consumer", "letter_to_company": "consumer:company"}


def test_a_catalog_address_names_its_policy_version(db_session: Session, runtime: Runtime) -> None:
    case = db_session.get(Case, file_case(db_session, case_facts(), runtime.settings.secret_key).case_id)
    assert case is not None
    letter = db_session.execute(select(Letter).where(Letter.case_id == case.id)).scalar_one()
    snapshot = dict(letter.data_snapshot)
    snapshot["company"] = {**snapshot["company"], "delivery_kind": "email", "delivery_address": "legal@co.example"}
    letter.data_snapshot = snapshot
    start_delivery(db_session, runtime.settings, case, letter, utcnow())
    row = db_session.execute(select(OutboundEmail).where(OutboundEmail.kind == "letter_to_company")).scalar_one()
    assert row.address_source == f"catalog:coursera@{case.policy_version}"
    assert row.recipients == ["legal@co.example"]


@pytest.mark.dates
def test_web_form_page_gives_the_address_the_text_and_the_pdf(client: FlaskClient, committed: Runtime) -> None:
    token = file_and_confirm(client, committed, details="Please ignore my earlier mail")
    case = the_case(committed)
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert 'href="https://learner.coursera.help/hc/en-us/requests/new"' in page
    [paste] = re.findall(r'<textarea id="paste-text"[^>]*>(.*?)</textarea>', page, re.S)
    assert "Jane Q. Consumer" in paste
    assert "the account jane@example.com" in paste
    assert case.reference in paste
    assert f"refund the payment of $599.00 made on {long_date(days_ago(7))}" in paste
    assert "if you refuse the refund, end the subscription at the end of the period already paid for" in paste
    assert "stop all further charges" not in paste
    assert "earlier mail" not in paste  # the consumer's free text never goes to the company
    assert f"/c/{token}/letters/" in page
    assert "I have submitted it" in page

    at_local = (utcnow() - dt.timedelta(minutes=2)).astimezone(MELBOURNE)
    response = post_form(client, f"/c/{token}/delivery",
                         {"channel": "web_form", "at": at_local.strftime("%Y-%m-%dT%H:%M"),
                          "confirmation": "Request #4471"}, page=f"/c/{token}")
    assert response.status_code == 303
    due = (at_local.date() + dt.timedelta(days=10)).isoformat()
    [delivered] = [e for e in events(committed) if e.action == "delivered"]
    assert delivered.data["answer_due"] == due
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert f'<time datetime="{due}">' in page


def test_post_page_and_tracking_number_through_the_api(app: Flask, committed: Runtime) -> None:
    limiter.reset()
    with app.test_client() as browser:
        token = file_and_confirm(browser, committed, plan="other:other-monthly",
                                 **{"company.name": "Postal Only Co",
                                    "company.postal_address": "Postal Only Co\nPO Box 7\nSydney NSW 2001"})
        page = browser.get(f"/c/{token}").get_data(as_text=True)
    assert "PO Box 7" in page
    assert "window envelope" in page
    assert "I have posted it" in page
    assert "Tracking number" in page
    case = the_case(committed)
    api_token = token  # the status page's token is also the API's bearer token
    with serve(app) as base_url:
        api = JsonClient(base_url)
        auth = {"Authorization": f"Bearer {api_token}"}
        too_long = api.post(f"/api/v1/cases/{case.reference}/delivery",
                            {"channel": "post", "confirmation": "X" * 101}, headers=auth)
        assert (too_long.status, list(too_long.json["fields"])) == (422, ["confirmation"])
        at = (utcnow() - dt.timedelta(minutes=3)).replace(microsecond=0).astimezone(MELBOURNE)
        posted = api.post(f"/api/v1/cases/{case.reference}/delivery",
                          {"channel": "post", "at": at.isoformat(), "confirmation": "RR123456785AU"},
                          headers=auth)
    assert posted.status == 200, posted.json
    [entry] = posted.json["delivery"]
    assert entry == {"channel": "post", "address": "Postal Only Co\nPO Box 7\nSydney NSW 2001",
                     "at": at.astimezone(dt.UTC).isoformat(), "by": "consumer", "confirmation": "RR123456785AU"}
    with committed.sessions() as session:
        delivery = session.execute(select(Delivery)).scalar_one()
    assert delivery.tracking_number == "RR123456785AU"
    [delivered] = [e for e in events(committed) if e.action == "delivered"]
    due = (at.date() + dt.timedelta(days=10)).isoformat()
    assert (delivered.data["tracking_number"], delivered.data["answer_due"]) == ("RR123456785AU", due)


def test_a_caseworker_records_a_posting(client: FlaskClient, committed: Runtime) -> None:
    file_and_confirm(client, committed)
    case = the_case(committed)
    sign_in(client)
    page = client.get(f"/staff/cases/{case.reference}").get_data(as_text=True)
    assert "Record a delivery" in page
    stale = post_form(client, f"/staff/cases/{case.reference}/delivery",
                      {"version": str(case.version - 1), "channel": "post"}, page=f"/staff/cases/{case.reference}")
    assert stale.status_code == 409
    assert the_case(committed).status is CaseStatus.READY
    at = utcnow() - dt.timedelta(minutes=1)  # staff enter UTC
    response = staff_post(client, f"/staff/cases/{case.reference}/delivery",
                          {"channel": "post", "at": at.strftime("%Y-%m-%dT%H:%M"), "confirmation": "RR99"},
                          case.reference)
    assert response.status_code == 303
    with committed.sessions() as session:
        delivery = session.execute(select(Delivery)).scalar_one()
        staff = session.execute(select(StaffUser)).scalar_one()
    assert (delivery.channel, delivery.by.value, delivery.tracking_number) == ("post", "staff", "RR99")
    assert delivery.address.startswith("Coursera, Inc., 381 E. Evelyn Ave.")  # the catalog's postal channel
    assert delivery.by_staff_id == staff.id
    assert delivery.at == at.replace(second=0, microsecond=0)
    [delivered] = [e for e in events(committed) if e.action == "delivered"]
    assert (delivered.actor.value, delivered.actor_staff_id) == ("staff", delivery.by_staff_id)
    assert "Casey Worker" in client.get(f"/staff/cases/{case.reference}").get_data(as_text=True)


def test_with_approval_required_nothing_goes_out_before_a_caseworker_approves(
        client: FlaskClient, approval_required: Runtime) -> None:
    token = file_and_confirm(client, approval_required, plan="other:other-monthly",
                             **{"company.name": "Acme", "company.email": "cancel@acme.example"})
    run_pending_jobs(approval_required)
    case = the_case(approval_required)
    assert case.status is CaseStatus.READY
    assert emails(approval_required, "letter_to_company") == []
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert "A caseworker checks every letter before it goes to the company" in page

    sign_in(client)
    response = staff_post(client, f"/staff/cases/{case.reference}/approve-delivery", {}, case.reference)
    assert response.status_code == 303
    approved = the_case(approval_required)
    assert approved.delivery_approved_at is not None
    assert approved.delivery_approved_by_id is not None
    [event] = [e for e in events(approval_required) if e.action == "delivery_approved"]
    assert (event.actor.value, event.actor_staff_id) == ("staff", approved.delivery_approved_by_id)
    assert "Approve delivery" not in client.get(f"/staff/cases/{case.reference}").get_data(as_text=True)
    again = post_form(client, f"/staff/cases/{case.reference}/approve-delivery", {"version": str(approved.version)},
                      page=f"/staff/cases/{case.reference}")
    assert again.status_code == 409
    run_pending_jobs(approval_required)
    assert the_case(approval_required).status is CaseStatus.SENT
    [sent] = emails(approval_required, "letter_to_company")
    assert (sent.status, sent.recipients) == ("sent", ["cancel@acme.example"])


def test_with_approval_required_the_consumer_cannot_record_a_submission_first(
        client: FlaskClient, approval_required: Runtime) -> None:
    token = file_and_confirm(client, approval_required)
    response = post_form(client, f"/c/{token}/delivery", {"channel": "web_form"}, page=f"/c/{token}")
    assert response.status_code == 303
    assert the_case(approval_required).status is CaseStatus.READY


def test_a_refused_company_address_fails_visibly_and_a_caseworker_retries_it(
        client: FlaskClient, committed: Runtime) -> None:
    token = file_and_confirm(client, committed, plan="other:other-monthly",
                             **{"company.name": "Acme", "company.email": "nobody@acme.example"})
    [row] = emails(committed, "letter_to_company")
    server = SMTPServer(refuse={"nobody@acme.example": "550 5.1.1 <nobody@acme.example>: no such user"})
    server.start()
    try:
        over_smtp = dataclasses.replace(committed, settings=dataclasses.replace(committed.settings,
                                                                                smtp_url=server.url))
        assert send_email(over_smtp, row.id) == "failed"
        [failed] = emails(committed, "letter_to_company")
        assert (failed.status, failed.attempts, failed.sent_at) == ("failed", 1, None)
        assert failed.recipients_refused == {"nobody@acme.example": "550 5.1.1 <nobody@acme.example>: no such user"}
        assert "copies were accepted" in (failed.last_error or "")
        [event] = [e for e in events(committed) if e.action == "email_failed"]
        assert event.data["permanent"] is True
        assert "no such user" in event.data["error"]
        assert the_case(committed).status is CaseStatus.READY

        status_page = client.get(f"/c/{token}").get_data(as_text=True)
        assert "could not be e-mailed to the company" in status_page
        assert "no such user" in status_page
        case = the_case(committed)
        sign_in(client)
        staff_page = client.get(f"/staff/cases/{case.reference}").get_data(as_text=True)
        assert "Send again (same Message-ID)" in staff_page
        assert "refused: nobody@acme.example" in staff_page

        server.handler.refuse.clear()  # the company's server takes it now
        response = staff_post(client, f"/staff/cases/{case.reference}/emails/{row.id}/retry", {}, case.reference)
        assert response.status_code == 303
        [retried] = emails(committed, "letter_to_company")
        assert (retried.status, retried.attempts) == ("pending", 0)
        [event] = [e for e in events(committed) if e.action == "email_retried"]
        assert event.actor.value == "staff"
        assert event.actor_staff_id is not None
        assert "no such user" in event.data["previous_error"]
        assert send_email(over_smtp, row.id) == "sent"
    finally:
        server.stop()
    [sent] = emails(committed, "letter_to_company")
    assert (sent.status, sent.message_id, sent.recipients_refused) == ("sent", row.message_id, {})
    assert [m["Message-ID"] for m in server.messages if m["To"] == "nobody@acme.example"] == [row.message_id] * 2
    assert the_case(committed).status is CaseStatus.SENT


def test_the_approval_setting_is_validated(tmp_path: Path) -> None:
    base = {"CASEWORK_VAR_DIR": str(tmp_path)}
    assert load_settings(environ=base).require_delivery_approval is False
    assert load_settings(environ={**base, "CASEWORK_REQUIRE_DELIVERY_APPROVAL": "yes"}).require_delivery_approval
    with pytest.raises(ConfigError, match="CASEWORK_REQUIRE_DELIVERY_APPROVAL must be true or false"):
        load_settings(environ={**base, "CASEWORK_REQUIRE_DELIVERY_APPROVAL": "sometimes"})


def test_delivery_times_use_the_consumers_zone() -> None:
    # 10 days from the local calendar date: late evening in Melbourne is already the next day.
    from casework.cases.workflow import answer_due

    case = Case(timezone="Australia/Melbourne")
    at = dt.datetime(2026, 11, 25, 13, 30, tzinfo=dt.UTC)
    assert at.astimezone(ZoneInfo("Australia/Melbourne")).date() == dt.date(2026, 11, 26)
    assert answer_due(case, at) == dt.date(2026, 12, 6)


def test_a_submission_in_the_future_or_before_the_filing_is_refused_on_the_page_and_in_the_api(
        app: Flask, client: FlaskClient, committed: Runtime) -> None:
    token = file_and_confirm(client, committed)  # Coursera takes the letter by its web form
    case = the_case(committed)
    in_two_hours = (utcnow() + dt.timedelta(hours=2)).astimezone(MELBOURNE).strftime("%Y-%m-%dT%H:%M")
    before_filing = (case.created_at - dt.timedelta(days=1)).astimezone(MELBOURNE).strftime("%Y-%m-%dT%H:%M")
    for typed, message in ((in_two_hours, "The time you submitted it must be now or in the past"),
                           (before_filing, "The time you submitted it must be after the case was filed")):
        response = post_form(client, f"/c/{token}/delivery",
                             {"channel": "web_form", "at": typed, "confirmation": "Request #9"}, page=f"/c/{token}")
        page = response.get_data(as_text=True)
        assert response.status_code == 422
        assert message in page
        assert 'href="#at"' in page
        assert f'value="{typed}"' in page
        assert 'value="Request #9"' in page
    with serve(app) as base_url:
        api = JsonClient(base_url)
        auth = {"Authorization": f"Bearer {token}"}
        future = api.post(f"/api/v1/cases/{case.reference}/delivery",
                          {"channel": "web_form", "at": (utcnow() + dt.timedelta(hours=2)).isoformat()},
                          headers=auth)
        early = api.post(f"/api/v1/cases/{case.reference}/delivery",
                         {"channel": "web_form", "at": (case.created_at - dt.timedelta(days=1)).isoformat()},
                         headers=auth)
    assert (future.status, future.json["error"], future.json["fields"]) == (
        422, "validation_failed", {"at": "must not be in the future"})
    assert (early.status, early.json["fields"]) == (422, {"at": "before the case was filed"})
    assert the_case(committed).status is CaseStatus.READY
    with committed.sessions() as session:
        assert session.execute(select(Delivery)).first() is None
    assert [e for e in events(committed) if e.action == "delivered"] == []
