"""No live consumer secret at rest: every private link, access token and code a consumer was given works only
from their mailbox or their client, never from a copy kept by us.

One consumer's cases are driven through the steps that issue a secret (filing over the API and its idempotent
replay, the first e-mails with their codes, a new code, confirmation, delivery and its status e-mail, a reminder
with its calendar file, a deletion code, new links for a lost one, a caseworker's question and the resolution),
with a real worker mailing through a real SMTP server. Each secret is taken from what the consumer received (the
API's answers, the messages the SMTP server took), then looked for in every table of the database, every file
under var/ and a supervisor's personal-data export.
"""

from __future__ import annotations

import secrets as random
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from casework.cases.filing import file_case
from casework.cases.models import Case
from casework.db import Base
from casework.jobs.models import JobMixin
from casework.mail.models import OutboundEmail
from casework.reminders.models import Reminder
from casework.reminders.planning import CONSUMER_KINDS
from casework.reminders.sweep import run_reminder_sweep
from casework.runtime import Runtime
from casework.staff.accounts import create_staff
from casework.web import limiter
from tests.support.factories import case_facts
from tests.support.secrets_at_rest import (
    Finding,
    Secret,
    scan_database,
    scan_export,
    scan_files,
    secrets_in_message,
)
from tests.support.smtp import SMTPServer
from tests.support.staff import PASSWORD, signed_in
from tests.support.today import iso_days_ago
from tests.support.waiting import wait_for
from tests.support.web import post_form
from tests.support.writes import writing

pytestmark = pytest.mark.worker

API_TOKEN = "access token from the filing answer"


def case_body(address: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "provider": "coursera", "plan": "coursera-plus-annual", "billing_channel": "direct", "country": "AU",
        "timezone": "Australia/Melbourne", "payment_date": iso_days_ago(7),
        "amount": {"value": "599.00", "currency": "AUD"}, "requested_outcome": "cancel_and_refund",
        "consumer": {"name": "Pat Example", "email": address, "postal_address": "3 Sample Road\nCarlton VIC 3053",
                     "phone": None},
        "account_identifier": address, "details": "Tried to cancel online.", "company": None,
        "consent": {"send_in_my_name": True},
    }
    body.update(changes)
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def email_rows(runtime: Runtime) -> dict[str, tuple[str, int | None, int]]:
    """Message-ID → (kind, case id, row id) of every e-mail row."""
    with runtime.sessions() as session:
        rows = session.execute(select(OutboundEmail.message_id, OutboundEmail.kind, OutboundEmail.case_id,
                                      OutboundEmail.id))
        return {message_id: (kind, case_id, row_id) for message_id, kind, case_id, row_id in rows}


def received(runtime: Runtime, smtp: SMTPServer, kind: str, case_id: int | None, count: int = 1) -> list[Message]:
    """Wait for ``count`` messages of ``kind`` about ``case_id`` at the SMTP server; oldest first."""
    def poll() -> list[Message]:
        rows = email_rows(runtime)
        found = [m for m in smtp.messages if rows.get(m["Message-ID"], ("", None, 0))[:2] == (kind, case_id)]
        return sorted(found, key=lambda m: rows[m["Message-ID"]][2]) if len(found) >= count else []
    return wait_for(poll, 90, f"{count} {kind} e-mail(s)")


def pending_jobs(runtime: Runtime) -> int:
    """Job rows (letters, e-mails, packs, any later kind) the worker has not finished."""
    models = [m.class_ for m in Base.registry.mappers if issubclass(m.class_, JobMixin)]
    with runtime.sessions() as session:
        return sum(session.execute(select(func.count()).select_from(model).where(model.status == "pending"))
                   .scalar_one() for model in models)


def case_id_of(runtime: Runtime, reference: str) -> int:
    with runtime.sessions() as session:
        return session.execute(select(Case.id).where(Case.reference == reference)).scalar_one()


def staff_client(app: Flask, runtime: Runtime, role: str) -> FlaskClient:
    login = f"{role}.{random.token_hex(3)}@casework.test"
    with writing(runtime) as session:
        create_staff(session, login, f"Sam {role.title()}", PASSWORD, role)
    return signed_in(app, login)


def staff_action(client: FlaskClient, runtime: Runtime, reference: str, action: str, data: dict[str, str]) -> None:
    """A caseworker's form on the case page, with the case's current version."""
    with runtime.sessions() as session:
        version = session.execute(select(Case.version).where(Case.reference == reference)).scalar_one()
    page = f"/staff/cases/{reference}"
    done = post_form(client, f"{page}/{action}", {"version": str(version), **data}, page=page)
    assert done.status_code == 303, done.get_data(as_text=True)


def supervisor_export(app: Flask, runtime: Runtime, address: str) -> bytes:
    """The ZIP a supervisor downloads from the staff page for ``address``."""
    download = post_form(staff_client(app, runtime, "supervisor"), "/staff/personal-data/export", {"email": address},
                         page="/staff/personal-data")
    assert download.status_code == 200
    assert download.mimetype == "application/zip"
    return download.data


def everywhere(runtime: Runtime, export: bytes, secrets: list[Secret]) -> list[str]:
    """Each place a secret rests: ``database <table.column>``, ``var <file>``, ``export <key or member>``."""
    found: list[tuple[str, list[Finding]]] = [
        ("database", scan_database(runtime.engine, secrets)),
        ("var", scan_files(runtime.settings.var_dir, secrets)),
        ("export", scan_export(export, secrets)),
    ]
    return [f"{where} {finding}" for where, findings in found for finding in findings]


def test_no_issued_secret_rests_in_the_database_var_or_an_export(
        app: Flask, committed: Runtime, start_worker: Any, smtp_server: SMTPServer) -> None:
    limiter.reset()
    start_worker(smtp_url=smtp_server.url)
    client: FlaskClient = app.test_client()
    address = f"pat.{random.token_hex(4)}@example.org"
    issued: set[Secret] = set()

    # Filing: a Coursera case (the consumer submits the letter through the web form), a company reached by
    # e-mail (the worker delivers the letter) and an app-store case (no letter; its first e-mail has a code).
    tokens: dict[str, str] = {}
    key = f"order-{random.token_hex(4)}"
    for body in (case_body(address),
                 case_body(address, provider="other", plan="other-monthly",
                           company={"name": "Acme Streaming", "email": f"cancel.{random.token_hex(3)}@acme.example"}),
                 case_body(address, billing_channel="apple_app_store")):
        filed = client.post("/api/v1/cases", json=body, headers={"Idempotency-Key": key} if not tokens else {})
        assert filed.status_code == 201, filed.get_data(as_text=True)
        tokens[filed.get_json()["reference"]] = filed.get_json()["access_token"]
        issued.add(Secret(API_TOKEN, filed.get_json()["access_token"]))
    coursera, acme, app_store = tokens
    replay = client.post("/api/v1/cases", json=case_body(address), headers={"Idempotency-Key": key})
    assert (replay.status_code, replay.get_json()["reference"]) == (200, coursera)  # a new token for the same case
    issued.add(Secret(API_TOKEN, replay.get_json()["access_token"]))
    ids = {reference: case_id_of(committed, reference) for reference in tokens}
    received(committed, smtp_server, "case_without_letter", ids[app_store])

    # Confirming the letter cases with the code of their newest e-mail; the second asks for a new code first.
    received(committed, smtp_server, "confirm_letter", ids[acme])
    again = client.post(f"/api/v1/cases/{acme}/resend-confirmation", json={}, headers=bearer(tokens[acme]))
    assert again.status_code == 200, again.get_data(as_text=True)
    for reference, count in ((coursera, 1), (acme, 2)):
        newest = received(committed, smtp_server, "confirm_letter", ids[reference], count)[-1]
        [code] = {s.value for s in secrets_in_message(newest, "confirm_letter") if s.kind.startswith("code")}
        confirmed = client.post(f"/api/v1/cases/{reference}/confirm", json={"code": code},
                                headers=bearer(tokens[reference]))
        assert confirmed.status_code == 200, confirmed.get_data(as_text=True)

    # Delivery: the consumer says they submitted the web form; the worker e-mails the other company.
    submitted = client.post(f"/api/v1/cases/{coursera}/delivery", json={"channel": "web_form"},
                            headers=bearer(tokens[coursera]))
    assert submitted.status_code == 200, submitted.get_data(as_text=True)
    for reference in (coursera, acme):
        received(committed, smtp_server, "status_delivered", ids[reference])

    # A deadline reminder with its calendar entry: the sweep run at the first reminder's moment.
    with committed.sessions() as session:
        first_due = session.execute(
            select(func.min(Reminder.due_at)).where(Reminder.case_id == ids[coursera], Reminder.status == "scheduled",
                                                    Reminder.kind.in_(CONSUMER_KINDS))).scalar_one()
    assert first_due is not None
    assert run_reminder_sweep(committed, first_due)["sent"] >= 1
    [reminder] = received(committed, smtp_server, "reminder", ids[coursera])
    assert "text/calendar" in {part.get_content_type() for part in reminder.walk()}

    # A deletion code that is never used, and new links for a lost one.
    erasure = client.post(f"/api/v1/cases/{coursera}/erasure-request", headers=bearer(tokens[coursera]))
    assert erasure.status_code == 200, erasure.get_data(as_text=True)
    received(committed, smtp_server, "erasure_code", ids[coursera])
    asked = post_form(client, "/lost-link", {"email": address}, page="/lost-link")
    assert asked.status_code == 200
    received(committed, smtp_server, "lost_link", None)

    # A caseworker asks the consumer a question, then resolves the case: both e-mails link to the case page.
    caseworker = staff_client(app, committed, "caseworker")
    staff_action(caseworker, committed, acme, "ask", {"question": "Which e-mail address is the account under?"})
    received(committed, smtp_server, "info_request", ids[acme])
    staff_action(caseworker, committed, acme, "resolve", {"outcome": "cancelled"})
    received(committed, smtp_server, "status_resolved", ids[acme])

    wait_for(lambda: pending_jobs(committed) == 0, 90, "the worker to finish every job")
    rows = email_rows(committed)
    for message in smtp_server.messages:
        issued |= secrets_in_message(message, rows[message["Message-ID"]][0])
    assert {s.kind for s in issued} >= {  # what the scan must look for, at the least
        API_TOKEN, "code from the confirm_letter e-mail", "code from the case_without_letter e-mail",
        "code from the erasure_code e-mail", "link token from the lost_link e-mail",
        "link token from the reminder e-mail", "unsubscribe token from the reminder e-mail"}

    export = supervisor_export(app, committed, address)
    found = everywhere(committed, export, sorted(issued, key=lambda s: s.kind))
    assert not found, "live consumer secrets at rest:\n" + "\n".join(found)


def test_the_scan_finds_a_planted_secret_in_a_column_a_var_file_and_the_export(
        app: Flask, committed: Runtime) -> None:
    """The scan itself is proven: a token in a column, folded across lines in a binary file under var/, and in
    the export; a code written without its dash; and nothing for a secret that was never written."""
    limiter.reset()
    planted = Secret("planted token", random.token_urlsafe(32))
    code = Secret("planted code", "ABCD-EFGH")
    absent = Secret("a secret never written", random.token_urlsafe(32))
    address = f"pat.{random.token_hex(4)}@example.org"
    with writing(committed) as session:  # consumer free text: kept in the case and given back in the export
        file_case(session, case_facts(consumer_email=address, details=f"see /c/{planted.value}?code=ABCDEFGH"),
                  committed.settings.secret_key)
    folder = committed.settings.var_dir / f"planted-{random.token_hex(4)}"
    folded = f"URL;VALUE=URI:http://casework.test/c/{planted.value}".encode()
    try:
        (folder / "deeper").mkdir(parents=True)
        (folder / "deeper" / "entry.ics").write_bytes(b"\x00\xff" + folded[:60] + b"\r\n " + folded[60:])
        export = supervisor_export(app, committed, address)
        found = everywhere(committed, export, [planted, code, absent])
    finally:
        for path in sorted(folder.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        folder.rmdir()
    var_file = f"var {Path(folder.name) / 'deeper' / 'entry.ics'}: planted token"
    assert {"database cases.details: planted token", "database cases.details: planted code", var_file,
            "export export.json.cases[*].facts.details: planted token",
            "export export.json.cases[*].facts.details: planted code"} <= set(found)
    assert not [f for f in found if f.endswith(absent.kind)]
