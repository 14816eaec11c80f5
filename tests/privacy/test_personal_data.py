"""Personal data: deletion on the consumer's confirmed request, on expiry and by retention, and the export.

After a deletion, every text, JSON and binary value of every table (found by reflecting the database, so a
new table is searched too) and every file under var/ (the outbox's e-mails decoded) is searched for the
consumer's name, e-mail, address, phone, account identifier and free text: nothing may be left, while the
anonymous record stays.
"""

from __future__ import annotations

import datetime as dt
import email
import io
import json
import re
import secrets
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import MetaData, func, select, update
from sqlalchemy.engine import Engine

from casework.cases.answers import Upload, store_attachment
from casework.cases.filing import file_case
from casework.cases.models import Case, CaseEvent, CompanyResponse
from casework.cases.states import Actor, CaseStatus, Outcome
from casework.cases.workflow import send_links
from casework.db import utcnow
from casework.letters.models import Letter
from casework.mail.models import OutboundEmail
from casework.privacy.commands import parse_cutoff
from casework.privacy.erasure import ERASED_ACTION, anonymous_event_data
from casework.privacy.expiry import expire_unconfirmed
from casework.privacy.models import ErasureCode
from casework.reminders.models import Reminder
from casework.runtime import Runtime
from casework.staff.accounts import create_staff
from casework.staff.models import CaseNote, CaseRead, SavedView
from casework.web import limiter
from tests.support.factories import case_facts
from tests.support.jobs import run_pending_jobs
from tests.support.mailbox import as_sent_text
from tests.support.staff import PASSWORD, case_in_status, signed_in
from tests.support.web import post_form, token_from_location
from tests.support.writes import writing

pytestmark = [pytest.mark.http, pytest.mark.storage]

ACME = {"name": "Acme Streaming", "email": "cancel@acme.example"}
TINY_PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
            b"\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


def someone() -> dict[str, str]:
    """A consumer whose every identifier is unique to this test, so no other test's leftovers can match."""
    tag = secrets.token_hex(4)
    return {"consumer_name": f"Ottoline Quarrendon-{tag}", "consumer_email": f"ottoline.{tag}@example.org",
            "consumer_postal_address": f"{tag} Wistful Lane\nBrunswick VIC 3056", "consumer_phone": f"+61 4{tag}",
            "account_identifier": f"acct-{tag}-quarrendon", "details": f"Please hurry, case of {tag} Quarrendon"}


def needles(person: dict[str, str]) -> list[str]:
    return [person["consumer_name"], person["consumer_email"], person["consumer_postal_address"].split("\n")[0],
            person["consumer_phone"], person["account_identifier"], person["details"]]


def _text_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return None


def database_hits(engine: Engine, wanted: list[str]) -> list[str]:
    """Every table and column of the live database holding one of ``wanted`` (case-insensitive)."""
    metadata = MetaData()
    with warnings.catch_warnings():  # an expression index is not reflected; its table and columns are
        warnings.filterwarnings("ignore", message="Skipped unsupported reflection")
        metadata.reflect(bind=engine)
    lowered = [w.lower() for w in wanted]
    hits = []
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(table.select()):
                for column, value in row._mapping.items():
                    text = _text_of(value)
                    if text is not None and any(w in text.lower() for w in lowered):
                        hits.append(f"{table.name}.{column}")
    return sorted(set(hits))


def file_hits(folder: Path, wanted: list[str]) -> list[str]:
    """Files under ``folder`` holding one of ``wanted``, raw or (for e-mails) in any decoded part."""
    lowered = [w.lower().encode() for w in wanted]
    hits = []
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        texts = [data]
        if path.suffix == ".eml":
            texts += [part.get_payload(decode=True) or b"" for part in email.message_from_bytes(data).walk()
                      if not part.is_multipart()]
        if any(w in t.lower() for t in texts for w in lowered):
            hits.append(str(path.relative_to(folder)))
    return hits


def outbox_text(runtime: Runtime, subject_part: str) -> str:
    for path in runtime.settings.outbox.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes())
        if subject_part in str(message["Subject"]):
            for part in message.walk():
                if part.get_content_type() == "text/plain":
                    payload = part.get_payload(decode=True)
                    assert isinstance(payload, bytes)
                    return payload.decode()
    raise AssertionError(f"no e-mail about {subject_part!r}")


def filed_case(runtime: Runtime, person: dict[str, str], **facts: Any) -> tuple[int, str, str]:
    """A case filed by ``person``: (id, reference, status token)."""
    with writing(runtime) as session:
        filed = file_case(session, case_facts(**person, **facts), runtime.settings.secret_key)
    return filed.case_id, filed.reference, filed.access_token


def sent_case(client: FlaskClient, runtime: Runtime, person: dict[str, str]) -> tuple[int, str, str]:
    """A case confirmed by its consumer and e-mailed to the company (consumer in Cc): status ``sent``."""
    case_id, reference, token = filed_case(runtime, person, provider="other", plan="other-monthly", company=ACME)
    run_pending_jobs(runtime)
    code = re.search(r"code is ([0-9A-Z]{4}-[0-9A-Z]{4})", outbox_text(runtime, "Please confirm"))
    assert code is not None
    confirmed = post_form(client, f"/c/{token}/confirm", {"code": code.group(1)}, page=f"/c/{token}/confirm")
    assert confirmed.status_code == 303
    run_pending_jobs(runtime)
    with runtime.sessions() as session:
        assert session.get_one(Case, case_id).status is CaseStatus.SENT
    return case_id, reference, token_from_location(confirmed)  # the links made before confirming stop working


def erasure_code(runtime: Runtime) -> str:
    run_pending_jobs(runtime)
    found = re.search(r"Your code is ([0-9A-Z]{4}-[0-9A-Z]{4})", outbox_text(runtime, "delete your details"))
    assert found is not None
    return found.group(1)


def test_deleting_on_request_leaves_nothing_personal_and_keeps_the_anonymous_record(
        app: Flask, client: FlaskClient, committed: Runtime, var_dir: Path) -> None:
    person = someone()
    case_id, reference, token = sent_case(client, committed, person)
    now = utcnow()
    with writing(committed) as session:  # everything else that can hold the person
        case = session.get_one(Case, case_id)
        response = CompanyResponse(case_id=case_id, type="refused", received_on=now.date(), recorded_by=Actor.CONSUMER,
                                   summary=f"They refused {person['consumer_name']}")
        session.add(response)
        upload = Upload(f"{person['account_identifier']}.png", TINY_PNG)
        store_attachment(session, case, None, upload, Actor.CONSUMER, now)
        staff = create_staff(session, "casey@casework.test", "Casey Worker", PASSWORD)
        session.add(CaseNote(case_id=case_id, staff_id=staff.id, body=f"Rang {person['consumer_phone']}"))
        session.add(SavedView(staff_id=staff.id, name="Ottoline", query=f"q={person['consumer_email']}"))
        send_links(session, committed.settings, person["consumer_email"], now)
    run_pending_jobs(committed)
    mailed = re.search(r"/c/([A-Za-z0-9_-]+)", outbox_text(committed, "Your casework links"))
    assert mailed is not None
    token = mailed.group(1)  # the new links replace the one held before
    with committed.sessions() as session:
        letters_before = {(x.kind, x.version, x.sha256, x.pages) for x in session.scalars(select(Letter))}
        message_ids = set(session.scalars(select(OutboundEmail.message_id)))
    assert {h.split(".")[0] for h in database_hits(committed.engine, needles(person))} >= {
        "cases", "letters", "outbound_emails", "case_notes", "company_responses", "case_attachments", "saved_views"}
    assert file_hits(committed.settings.outbox, needles(person))  # the search finds what is there

    assert post_form(client, f"/c/{token}/erasure-request", {}, page=f"/c/{token}").status_code == 303
    code = erasure_code(committed)
    page = client.get(f"/c/{token}/erase?code={code}")  # what a mail scanner does: nothing is deleted
    assert page.status_code == 200
    assert code in page.get_data(as_text=True)
    wrong = post_form(client, f"/c/{token}/erase", {"code": "AAAA-AAAA"}, page=f"/c/{token}/erase")
    assert wrong.status_code == 422
    assert "not right" in wrong.get_data(as_text=True)
    with committed.sessions() as session:
        assert session.get_one(Case, case_id).personal_data_deleted_at is None
    done = post_form(client, f"/c/{token}/erase", {"code": code}, page=f"/c/{token}/erase")
    assert done.status_code == 303

    assert database_hits(committed.engine, needles(person)) == []
    assert file_hits(var_dir, needles(person)) == []
    gone = client.get(f"/c/{token}").get_data(as_text=True)
    assert "Your details are deleted" in gone
    assert reference in gone
    with committed.sessions() as session:
        case = session.get_one(Case, case_id)
        assert (case.status, case.outcome) == (CaseStatus.RESOLVED, Outcome.WITHDRAWN)  # withdrawn first
        assert (case.provider_slug, case.plan_slug, str(case.amount_value)) == ("other", "other-monthly", "599.00")
        assert case.company == {"name": "Acme Streaming"}
        assert {(x.kind, x.version, x.sha256, x.pages) for x in session.scalars(select(Letter))} == letters_before
        assert set(session.scalars(select(OutboundEmail.message_id))) >= message_ids
        actions = list(session.scalars(select(CaseEvent.action).where(CaseEvent.case_id == case_id)
                                       .order_by(CaseEvent.id)))
        assert {"filed", "confirmed", "delivered", "erasure_requested", "withdrawn"} <= set(actions)
        assert actions[-1] == ERASED_ACTION
        erased = session.scalars(select(CaseEvent).where(CaseEvent.action == ERASED_ACTION)).one()
        assert (erased.actor, erased.data) == (Actor.CONSUMER, {"reason": "consumer_request"})
        assert session.scalars(select(CompanyResponse.type)).all() == ["refused"]
        assert not session.scalars(select(Reminder).where(Reminder.status == "scheduled")).all()
        assert not session.scalars(select(OutboundEmail).where(OutboundEmail.status == "pending")).all()
        letter_id = session.scalars(select(Letter.id)).first()
    old_pdf = client.get(f"/c/{token}/letters/{letter_id}.pdf")  # every page of the link says only that it is gone
    staff_page = signed_in(app, "casey@casework.test").get(f"/staff/cases/{reference}")
    assert staff_page.status_code == 200
    # The consumer's token is revoked with the data: the API answers as for a token never issued.
    refused = client.get(f"/api/v1/cases/{reference}", headers={"Authorization": f"Bearer {token}"})
    document = refused.get_json()
    assert (refused.status_code, document["error"]) == (404, "not_found")
    with committed.sessions() as session:
        assert set(session.scalars(select(Letter.sha256))) == {x[2] for x in letters_before}
    shown = (staff_page.get_data(as_text=True) + json.dumps(document)).lower()
    assert not [n for n in needles(person) if n.lower() in shown]
    assert old_pdf.mimetype == "text/html"
    assert "Your details are deleted" in old_pdf.get_data(as_text=True)


def test_a_wrong_expired_or_missing_code_deletes_nothing(client: FlaskClient, committed: Runtime) -> None:
    person = someone()
    case_id, reference, token = filed_case(committed, person)
    run_pending_jobs(committed)
    url = f"/api/v1/cases/{reference}/erasure"
    auth = {"Authorization": f"Bearer {token}"}
    missing = client.post(url, json={"code": "AAAA-AAAA"}, headers=auth)
    assert missing.status_code == 422
    assert missing.get_json()["fields"]["code"].startswith("There is no deletion code")
    assert client.post(f"/api/v1/cases/{reference}/erasure-request", headers=auth).status_code == 200
    code = erasure_code(committed)
    assert client.post(url, json={}, headers=auth).get_json()["fields"] == {"code": "required"}
    wrong = client.post(url, json={"code": "AAAA-AAAA"}, headers=auth)
    assert (wrong.status_code, wrong.get_json()["error"]) == (422, "validation_failed")
    assert client.post(url, json={"code": code}, headers={"Authorization": "Bearer someone-else"}).status_code == 404
    with writing(committed) as session:
        session.execute(update(ErasureCode).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    expired = client.post(url, json={"code": code}, headers=auth)
    assert expired.status_code == 422
    assert "expired" in expired.get_json()["message"]
    with committed.sessions() as session:
        case = session.get_one(Case, case_id)
        assert (case.personal_data_deleted_at, case.consumer_name) == (None, person["consumer_name"])
        assert case.status is CaseStatus.NEW

    limiter.reset()
    request_url = f"/api/v1/cases/{reference}/erasure-request"
    assert client.post(request_url, headers=auth).status_code == 200  # a new code; five wrong tries use it up
    code = erasure_code_newest(committed)
    for _ in range(5):
        client.post(url, json={"code": "AAAA-AAAA"}, headers=auth)
    used_up = client.post(url, json={"code": code}, headers=auth)
    assert used_up.status_code == 422
    assert "Too many" in used_up.get_json()["message"]
    limiter.reset()
    assert client.post(request_url, headers=auth).status_code == 200
    code = erasure_code_newest(committed)
    erased = client.post(url, json={"code": code}, headers=auth)
    assert erased.status_code == 200
    document = erased.get_json()
    assert document["personal_data_deleted_at"] is not None
    assert (document["status"], document["outcome"]) == ("resolved", "withdrawn")
    # The deletion revoked the token: nothing more is done through it, as for a token never issued.
    again = client.post(url, json={"code": code}, headers=auth)
    assert (again.status_code, again.get_json()["error"]) == (404, "not_found")
    again = client.post(request_url, headers=auth)
    assert (again.status_code, again.get_json()["error"]) == (404, "not_found")


def erasure_code_newest(runtime: Runtime) -> str:
    """The code of the newest deletion e-mail (earlier ones were superseded)."""
    run_pending_jobs(runtime)
    with runtime.sessions() as session:
        newest = session.scalars(select(OutboundEmail).where(OutboundEmail.kind == "erasure_code")
                                 .order_by(OutboundEmail.id.desc()).limit(1)).one()
    found = re.search(r"Your code is ([0-9A-Z]{4}-[0-9A-Z]{4})", as_sent_text(runtime, newest))
    assert found is not None
    return found.group(1)


def test_unconfirmed_cases_expire_through_the_same_erasure(committed: Runtime) -> None:
    person = someone()
    case_id, _, _ = filed_case(committed, person)
    run_pending_jobs(committed)
    with writing(committed) as session:
        assert expire_unconfirmed(session, utcnow() + dt.timedelta(days=8), outbox=committed.settings.outbox) == 1
        assert expire_unconfirmed(session, utcnow() + dt.timedelta(days=9)) == 0
    assert database_hits(committed.engine, needles(person)) == []
    assert file_hits(committed.settings.outbox, needles(person)) == []
    with committed.sessions() as session:
        erased = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                         CaseEvent.action == ERASED_ACTION)).one()
        assert erased.data == {"reason": "expired"}
        letter = session.scalars(select(Letter)).one()
        assert letter.sha256 is not None
        assert letter.pdf_erased_at is not None


def _finished(runtime: Runtime, person: dict[str, str], status: CaseStatus, finished_ago: dt.timedelta) -> str:
    reference = case_in_status(runtime, status, **person)
    with writing(runtime) as session:
        case = session.scalars(select(Case).where(Case.reference == reference)).one()
        case.resolved_at = utcnow() - finished_ago if status in (CaseStatus.RESOLVED, CaseStatus.CLOSED) else None
    return reference


def _names(runtime: Runtime) -> dict[str, str]:
    with runtime.sessions() as session:
        return {c.reference: c.consumer_name for c in session.scalars(select(Case))}


def test_purge_counts_in_a_dry_run_then_deletes_once(app: Flask, committed: Runtime) -> None:
    old = [_finished(committed, someone(), CaseStatus.RESOLVED, dt.timedelta(days=800)),
           _finished(committed, someone(), CaseStatus.CLOSED, dt.timedelta(days=900))]
    recent = _finished(committed, someone(), CaseStatus.RESOLVED, dt.timedelta(days=30))
    still_open = _finished(committed, someone(), CaseStatus.SENT, dt.timedelta(days=900))
    runner = app.test_cli_runner()
    before = _names(committed)

    dry = runner.invoke(args=["purge", "--older-than", "2y", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "2 finished cases" in dry.output
    assert "nothing was changed" in dry.output
    assert _names(committed) == before

    run = runner.invoke(args=["purge", "--older-than", "2y", "--batch-size", "1"])
    assert run.exit_code == 0, run.output
    assert run.output.strip().splitlines()[-1].startswith("Deleted the personal data of 2 cases finished before")
    after = _names(committed)
    assert [after[r] for r in old] == ["(deleted)", "(deleted)"]
    assert (after[recent], after[still_open]) == (before[recent], before[still_open])
    with committed.sessions() as session:
        reasons = session.scalars(select(CaseEvent.data).where(CaseEvent.action == ERASED_ACTION)).all()
        assert reasons == [{"reason": "retention"}] * 2
        assert session.scalars(select(func.count(Case.id)).where(Case.status == CaseStatus.CLOSED)).one() == 1

    again = runner.invoke(args=["purge", "--older-than", "2y"])
    assert "Deleted the personal data of 0 cases" in again.output
    with committed.sessions() as session:
        assert session.scalars(select(func.count(CaseEvent.id)).where(CaseEvent.action == ERASED_ACTION)).one() == 2
    by_date = runner.invoke(args=["purge", "--older-than", (utcnow() - dt.timedelta(days=20)).date().isoformat(),
                                  "--dry-run"])
    assert "1 finished case from before" in by_date.output
    for bad in ("2 years", "-3d", "2999-01-01", "yesterday"):
        refused = runner.invoke(args=["purge", "--older-than", bad])
        assert refused.exit_code == 2, (bad, refused.output)


def test_cutoffs_count_back_in_days_years_or_from_a_date() -> None:
    now = dt.datetime(2028, 2, 29, 12, 0, tzinfo=dt.UTC)
    assert parse_cutoff("90d", now) == now - dt.timedelta(days=90)
    assert parse_cutoff("1y", now) == dt.datetime(2027, 2, 28, 12, 0, tzinfo=dt.UTC)
    assert parse_cutoff("2025-01-31", now) == dt.datetime(2025, 1, 31, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="give an age"):
        parse_cutoff("soon", now)


def _zip_json(data: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(files["export.json"]), files


def test_export_holds_every_case_of_the_address_and_nothing_of_anyone_else(
        app: Flask, client: FlaskClient, committed: Runtime, tmp_path: Path) -> None:
    person, other = someone(), someone()
    first, first_ref, token = sent_case(client, committed, person)
    _, second_ref, _ = filed_case(committed, {**person, "consumer_email": person["consumer_email"].upper()})
    _, other_ref, _ = filed_case(committed, other)
    run_pending_jobs(committed)
    with writing(committed) as session:
        casey = create_staff(session, "casey@casework.test", "Casey Worker", PASSWORD)
        session.add(CaseNote(case_id=first, staff_id=casey.id, body="Asked for a refund by phone"))

    output = tmp_path / "export.zip"
    result = app.test_cli_runner().invoke(args=["export-consumer", "--email", person["consumer_email"],
                                                "--output", str(output)])
    assert result.exit_code == 0, result.output
    document, files = _zip_json(output.read_bytes())
    assert {c["reference"] for c in document["cases"]} == {first_ref, second_ref}
    everything = b"".join(files.values()).lower()
    assert not [n for n in needles(other) if n.lower().encode() in everything]
    assert other_ref.encode().lower() not in everything
    [sent] = [c for c in document["cases"] if c["reference"] == first_ref]
    assert sent["facts"]["consumer"]["name"] == person["consumer_name"]
    [note] = sent["notes"]
    assert (note["by"], note["text"]) == ("a caseworker", "Asked for a refund by phone")
    assert b"casey" not in everything  # caseworkers are not named
    pdfs = [name for name in files if name.startswith("letters/")]
    assert pdfs
    assert all(files[name].startswith(b"%PDF") for name in pdfs)
    assert {x["file"] for c in document["cases"] for x in c["letters"] if x["file"]} == set(pdfs)
    assert {m["kind"] for m in sent["emails"]} >= {"confirm_letter", "letter_to_company"}
    assert person["consumer_email"] in document["email"]

    own = client.get(f"/c/{token}/my-data.zip")
    assert own.status_code == 200
    assert [c["reference"] for c in _zip_json(own.data)[0]["cases"]] == [first_ref]


def test_supervisors_download_it_from_a_staff_page_and_each_case_logs_it(app: Flask, committed: Runtime) -> None:
    person = someone()
    _, first_ref, _ = filed_case(committed, person)
    _, second_ref, _ = filed_case(committed, {**person, "consumer_email": person["consumer_email"].upper()})
    filed_case(committed, someone())
    with writing(committed) as session:
        create_staff(session, "sam@casework.test", "Sam Supervisor", PASSWORD, "supervisor")
        create_staff(session, "casey@casework.test", "Casey Worker", PASSWORD)
    staff = signed_in(app, "sam@casework.test")
    assert "The consumer" in staff.get("/staff/personal-data").get_data(as_text=True)
    bad = post_form(staff, "/staff/personal-data/export", {"email": "not an address"}, page="/staff/personal-data")
    assert bad.status_code == 422
    assert 'value="not an address"' in bad.get_data(as_text=True)
    download = post_form(staff, "/staff/personal-data/export", {"email": person["consumer_email"]},
                         page="/staff/personal-data")
    assert download.status_code == 200
    assert download.mimetype == "application/zip"
    assert {c["reference"] for c in _zip_json(download.data)[0]["cases"]} == {first_ref, second_ref}
    with committed.sessions() as session:
        reads = session.execute(select(CaseRead.case_id, CaseRead.staff_id).where(CaseRead.via == "export")).all()
    assert len([r for r in reads if r.staff_id is not None]) == 2  # each case's export is on its record
    caseworker = signed_in(app, "casey@casework.test")
    assert caseworker.get("/staff/personal-data").status_code == 403



def test_event_details_keep_identifiers_and_drop_what_people_typed() -> None:
    data = {"letter_id": 3, "kind": "cancellation", "text": "my name is Jane", "to": "jane@example.com",
            "tracking_number": "RR1", "amount": "10.00", "reminders": [{"kind": "renewal", "due_at": "2027"}],
            "email": "jane@example.com", "bulk": 2, "reason": "she rang"}
    assert anonymous_event_data(data) == {"letter_id": 3, "kind": "cancellation", "amount": "10.00",
                                          "reminders": [{"kind": "renewal", "due_at": "2027"}], "bulk": 2}
    assert anonymous_event_data({"to": 7, "from": None, "how": "take_next"}) == {"to": 7, "from": None,
                                                                                  "how": "take_next"}
