"""Evidence: the public letter check by code, and the case's evidence pack (PDF and ZIP)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import zipfile
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import undefer
from werkzeug.test import TestResponse

from casework.cases.models import Case, CaseEvent, Delivery
from casework.cases.states import Actor, CaseStatus
from casework.cases.workflow import record_response
from casework.db import utcnow
from casework.evidence.bundle import evidence_zip
from casework.evidence.models import StoredPack
from casework.evidence.verify import normalise_code, normalise_sha256
from casework.letters.models import Letter
from casework.letters.services import request_letter
from casework.mail.models import OutboundEmail
from casework.privacy.expiry import expire_unconfirmed
from casework.runtime import Runtime
from casework.staff.accounts import create_staff
from casework.staff.models import CaseRead
from casework.web import limiter
from tests.support.jobs import run_pending_jobs
from tests.support.mailbox import as_sent_text
from tests.support.today import days_ago
from tests.support.web import filing_form, post_form, token_from_location
from tests.support.writes import writing

pytestmark = pytest.mark.http
PASSWORD = "correct horse battery staple"
HOSTILE_NAME = "Jane <script>alert(1)</script> & <b>Co</b>"
HOSTILE_SUMMARY = '<img src="http://169.254.169.254/x"> They said <i>no</i> & "maybe"'
POSTAL = "12 Example Street\nBrunswick VIC 3056"


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


def download(client: FlaskClient, runtime: Runtime, url: str) -> TestResponse:
    """A pack as its reader gets it: asked for, rendered by the jobs (a 202 page meanwhile), then served."""
    response = client.get(url)
    if response.status_code == 202:
        run_pending_jobs(runtime)
        response = client.get(url)
    return response


def the_case(runtime: Runtime) -> Case:
    with runtime.sessions() as session:
        return session.execute(select(Case)).scalar_one()


def letters_of(runtime: Runtime) -> list[Letter]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Letter).options(undefer(Letter.pdf)).order_by(Letter.version)))


def file_case(client: FlaskClient, runtime: Runtime, **changes: str) -> str:
    response = post_form(client, "/", filing_form(**changes))
    assert response.status_code == 303, response.get_data(as_text=True)
    run_pending_jobs(runtime)
    return token_from_location(response)


def confirm(client: FlaskClient, runtime: Runtime, token: str) -> str:
    """Confirm with the code from the newest e-mail row's body, then let the jobs run; the page's new token (the
    links made before confirming stop working)."""
    with runtime.sessions() as session:
        row = session.scalars(select(OutboundEmail).where(OutboundEmail.kind == "confirm_letter")
                              .order_by(OutboundEmail.id.desc())).first()
    assert row is not None
    body = as_sent_text(runtime, row)
    code = re.search(r"confirm\?code=([0-9A-Z-]+)", body)
    assert code is not None
    page = f"/c/{token}/confirm?code={code.group(1)}"
    response = post_form(client, f"/c/{token}/confirm", {"code": code.group(1)}, page=page)
    assert response.status_code == 303
    run_pending_jobs(runtime)
    return token_from_location(response)


def sent_case(client: FlaskClient, runtime: Runtime, **changes: str) -> str:
    """A case for a company that takes e-mail, confirmed and delivered, with an answer recorded."""
    token = file_case(client, runtime, plan="other:other-monthly",
                      **{"company.name": "Acme <i>Streaming</i>", "company.email": "cancel@acme.example", **changes})
    token = confirm(client, runtime, token)
    with writing(runtime) as session:
        case = session.execute(select(Case)).scalar_one()
        assert case.status is CaseStatus.SENT
        record_response(session, case, "refused", days_ago(1), HOSTILE_SUMMARY, Actor.CONSUMER, utcnow())
    return token


def supersede(runtime: Runtime) -> None:
    with writing(runtime) as session:
        request_letter(session, session.execute(select(Case)).scalar_one(), "cancellation", utcnow())
    run_pending_jobs(runtime)


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def squeezed(text: str) -> str:
    """Without any whitespace: long digests and Message-IDs wrap across lines in the PDF."""
    return "".join(text.split())


# --- /verify ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    ("7K2QF-M9XZA", "7K2QF-M9XZA"),
    ("7k2qfm9xza", "7K2QF-M9XZA"),
    (" 7k2qf m9xza ", "7K2QF-M9XZA"),
    ("OIL00-11111", "01100-11111"),
    ("7K2QF-M9XZ", None),
    ("7K2QF-M9XZAB", None),
    ("7K2QF-M9XZU", None),
    ("<script>", None),
])
def test_codes_are_normalised_like_crockford(raw: str, expected: str | None) -> None:
    assert normalise_code(raw) == expected


def test_sha256_input_is_checked() -> None:
    digest = "A" * 64
    assert normalise_sha256(f"  {digest} ") == "a" * 64
    assert normalise_sha256("a" * 63) is None
    assert normalise_sha256("g" * 64) is None


def test_verify_shows_the_letter_and_nothing_personal(client: FlaskClient, committed: Runtime) -> None:
    sent_case(client, committed, **{"consumer.name": "Jane Q. Consumer", "account_identifier": "ACCT-998877"})
    [letter] = letters_of(committed)
    assert letter.verification_code is not None
    response = client.get(f"/verify/{letter.verification_code}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert the_case(committed).reference in page
    assert letter.sha256 is not None
    assert letter.sha256 in page
    assert "Acme &lt;i&gt;Streaming&lt;/i&gt;" in page  # the company's name, as text
    assert "Cancellation, version 1" in page
    assert "email, " in page  # delivered by e-mail, with its time
    for personal in ("Jane", "Consumer", "jane@example.com", "Example Street", "ACCT-998877", "cancel@acme.example"):
        assert personal not in page, personal
    assert "@" not in page.split('<footer')[0]  # no address at all, but the footer's own contact address


def test_verify_accepts_lower_case_and_no_dash_and_look_alikes(client: FlaskClient, committed: Runtime) -> None:
    file_case(client, committed)
    [letter] = letters_of(committed)
    code = letter.verification_code
    assert code is not None
    reference = the_case(committed).reference
    variants = {code.lower(), code.replace("-", ""), code.replace("-", " ").lower(),
                code.replace("1", "l").replace("0", "O")}
    for variant in variants:
        response = client.get(f"/verify/{variant}")
        assert response.status_code == 200, variant
        assert reference in response.get_data(as_text=True)
    form = client.get(f"/verify?code={code.lower()}")
    assert form.status_code == 303
    assert form.headers["Location"].endswith(f"/verify/{code}")


def test_unknown_codes_are_404_with_a_clear_page(client: FlaskClient, committed: Runtime) -> None:
    file_case(client, committed)
    for code in ("00000-00000", "not-a-code", "x" * 300):
        response = client.get(f"/verify/{code}")
        assert response.status_code == 404, code
        assert "No letter has this code" in response.get_data(as_text=True)
    json_answer = client.get("/verify/00000-00000", headers={"Accept": "application/json"})
    assert json_answer.status_code == 404
    assert json_answer.get_json()["error"] == "not_found"


def test_a_pending_letter_is_not_verifiable(client: FlaskClient, committed: Runtime) -> None:
    post_form(client, "/", filing_form())  # the letter job has not run
    [letter] = letters_of(committed)
    assert letter.status == "pending"
    assert client.get(f"/verify/{letter.verification_code}").status_code == 404


def test_a_digest_is_checked_against_the_stored_one(client: FlaskClient, committed: Runtime) -> None:
    file_case(client, committed)
    [letter] = letters_of(committed)
    assert letter.pdf is not None
    assert letter.sha256 is not None
    computed = hashlib.sha256(letter.pdf).hexdigest()
    same = client.get(f"/verify/{letter.verification_code}?sha256={computed.upper()}")
    assert "Matches." in same.get_data(as_text=True)
    assert "Does not match" not in same.get_data(as_text=True)
    other = hashlib.sha256(letter.pdf + b"\n").hexdigest()
    different = client.get(f"/verify/{letter.verification_code}?sha256={other}")
    assert "Does not match." in different.get_data(as_text=True)
    assert "Matches." not in different.get_data(as_text=True)
    garbled = client.get(f"/verify/{letter.verification_code}?sha256=<b>nope</b>")
    assert garbled.status_code == 200
    assert "64 characters" in garbled.get_data(as_text=True)
    assert "<b>nope" not in garbled.get_data(as_text=True)


def test_verify_answers_json_when_asked(client: FlaskClient, committed: Runtime) -> None:
    sent_case(client, committed)
    [letter] = letters_of(committed)
    assert letter.pdf is not None
    response = client.get(f"/verify/{letter.verification_code}?sha256={hashlib.sha256(letter.pdf).hexdigest()}",
                          headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "Accept" in response.headers["Vary"]
    body = response.get_json()
    assert body["reference"] == the_case(committed).reference
    assert (body["kind"], body["version"], body["sha256"], body["pages"]) == \
        ("cancellation", 1, letter.sha256, letter.pages)
    assert body["letter_date"] == letter.data_snapshot["letter_date"]
    assert body["superseded"] is False
    assert body["sha256_matches"] is True
    with committed.sessions() as session:
        delivery = session.execute(select(Delivery)).scalar_one()
    assert body["deliveries"] == [{"channel": "email", "at": delivery.at.isoformat()}]
    assert set(body) >= {"verification_code", "company", "rendered_at", "superseded_by_version"}
    assert "@" not in response.get_data(as_text=True)
    browser = client.get(f"/verify/{letter.verification_code}", headers={"Accept": "text/html,*/*;q=0.8"})
    assert browser.mimetype == "text/html"


def test_a_superseded_letter_says_so(client: FlaskClient, committed: Runtime) -> None:
    file_case(client, committed)
    supersede(committed)
    old, new = letters_of(committed)
    assert (old.status, new.status) == ("superseded", "rendered")
    page = client.get(f"/verify/{old.verification_code}").get_data(as_text=True)
    assert "This version has been replaced." in page
    assert "Version 2 of this letter" in page
    current = client.get(f"/verify/{new.verification_code}").get_data(as_text=True)
    assert "This version has been replaced." not in current
    body = client.get(f"/verify/{old.verification_code}", headers={"Accept": "application/json"}).get_json()
    assert (body["superseded"], body["superseded_by_version"]) == (True, 2)


# --- the evidence pack ----------------------------------------------------------------------------------------


def test_the_pack_lists_every_event_letter_and_message(client: FlaskClient, committed: Runtime) -> None:
    token = sent_case(client, committed)
    response = download(client, committed, f"/c/{token}/evidence.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    reference = the_case(committed).reference
    assert response.headers["Content-Disposition"] == f'attachment; filename="{reference}-evidence.pdf"'
    assert response.headers["Cache-Control"] == "no-store"
    text = pdf_text(response.data)
    flat = squeezed(text)
    assert reference in text
    with committed.sessions() as session:
        actions = set(session.scalars(select(CaseEvent.action)))
        emails = list(session.scalars(select(OutboundEmail)))
    assert {"filed", "letter_rendered", "confirmed", "delivered", "response_recorded"} <= actions
    for action in actions:
        assert f"[{action}]" in flat, action
    for letter in letters_of(committed):
        assert letter.sha256 is not None
        assert letter.sha256 in flat
        assert letter.verification_code is not None
        assert letter.verification_code in flat
    assert len(emails) == 3  # the confirmation, the letter to the company, the consumer's "delivered" notice
    for sent in emails:
        assert squeezed(sent.message_id) in flat
    for fact in ("Jane Q. Consumer", "cancel@acme.example", "Refused", "/verify/", "SHA-256", "Australia/"):
        assert squeezed(fact) in flat, fact


def test_consumer_text_is_text_in_the_pack(client: FlaskClient, committed: Runtime) -> None:
    token = sent_case(client, committed, **{"consumer.name": HOSTILE_NAME})
    flat = squeezed(pdf_text(download(client, committed, f"/c/{token}/evidence.pdf").data))
    for shown in (HOSTILE_NAME, HOSTILE_SUMMARY, "Acme <i>Streaming</i>"):
        assert squeezed(shown) in flat, shown


def test_the_zip_holds_the_letters_byte_for_byte(client: FlaskClient, committed: Runtime) -> None:
    token = file_case(client, committed)
    supersede(committed)
    response = download(client, committed, f"/c/{token}/evidence.zip")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert response.headers["Cache-Control"] == "no-store"
    reference = the_case(committed).reference
    assert response.headers["Content-Disposition"] == f'attachment; filename="{reference}-evidence.zip"'
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = archive.namelist()
    assert names == [f"{reference}-evidence.pdf", f"{reference}-cancellation-v1.pdf",
                     f"{reference}-cancellation-v2.pdf", "SHA256SUMS"]
    for letter in letters_of(committed):
        with committed.sessions() as session:
            stored = session.execute(select(Letter.pdf).where(Letter.id == letter.id)).scalar_one()
        assert archive.read(f"{reference}-cancellation-v{letter.version}.pdf") == stored
    sums = archive.read("SHA256SUMS").decode().splitlines()
    assert len(sums) == 3
    for line in sums:
        digest, name = line.split("  ")
        assert hashlib.sha256(archive.read(name)).hexdigest() == digest
    assert reference in pdf_text(archive.read(f"{reference}-evidence.pdf"))


def test_a_wrong_token_gets_nothing(client: FlaskClient, committed: Runtime) -> None:
    token = file_case(client, committed)
    stranger = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for suffix in ("pdf", "zip"):
        assert client.get(f"/c/{stranger}/evidence.{suffix}").status_code == 404
        assert download(client, committed, f"/c/{token}/evidence.{suffix}").status_code == 200


def test_the_status_page_links_the_pack(client: FlaskClient, committed: Runtime) -> None:
    token = file_case(client, committed)
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert f'href="/c/{token}/evidence.pdf"' in page
    assert f'href="/c/{token}/evidence.zip"' in page


def test_staff_downloads_need_a_signed_in_caseworker(client: FlaskClient, committed: Runtime) -> None:
    file_case(client, committed)
    reference = the_case(committed).reference
    for suffix in ("pdf", "zip"):
        response = client.get(f"/staff/cases/{reference}/evidence.{suffix}")
        assert response.status_code == 302
        assert "/staff/login" in response.headers["Location"]
    with writing(committed) as session:
        create_staff(session, "casey@casework.test", "Casey Worker", PASSWORD)
    post_form(client, "/staff/login", {"email": "casey@casework.test", "password": PASSWORD}, page="/staff/login")
    case_page = client.get(f"/staff/cases/{reference}").get_data(as_text=True)
    assert f'href="/staff/cases/{reference}/evidence.pdf"' in case_page
    pdf = download(client, committed, f"/staff/cases/{reference}/evidence.pdf")
    assert pdf.status_code == 200
    assert reference in pdf_text(pdf.data)
    assert download(client, committed, f"/staff/cases/{reference}/evidence.zip").status_code == 200
    with committed.sessions() as session:
        downloads = session.scalars(select(CaseRead.via).where(CaseRead.via == "evidence")).all()
    assert len(downloads) == 2  # who took a copy of the consumer's evidence is on record
    assert client.get("/staff/cases/CW-2026-NOPE0000/evidence.pdf").status_code == 404
    with committed.sessions() as session:
        assert session.scalars(select(StoredPack.id)).all() != []
    with writing(committed) as session:
        assert expire_unconfirmed(session, utcnow() + dt.timedelta(days=8)) == 1
    assert client.get(f"/staff/cases/{reference}/evidence.pdf").status_code == 404
    with committed.sessions() as session:
        assert session.scalars(select(StoredPack.id)).all() == []  # the stored pack went with the personal data


def test_a_pack_not_stored_yet_is_a_page_that_asks_again_and_links_back(client: FlaskClient,
                                                                         committed: Runtime) -> None:
    token = file_case(client, committed)
    reference = the_case(committed).reference
    with writing(committed) as session:
        create_staff(session, "casey@casework.test", "Casey Worker", PASSWORD)
    for url, back in ((f"/c/{token}/evidence.pdf", f"/c/{token}"), (f"/c/{token}/evidence.zip", f"/c/{token}"),
                      (f"/staff/cases/{reference}/evidence.zip", f"/staff/cases/{reference}")):
        if url.startswith("/staff/"):
            post_form(client, "/staff/login", {"email": "casey@casework.test", "password": PASSWORD},
                      page="/staff/login")
        response = client.get(url)
        assert response.status_code == 202, url
        assert int(response.headers["Retry-After"]) >= 5  # the rate limit's window may ask for longer
        page = response.get_data(as_text=True)
        assert '<meta http-equiv="refresh" content="5">' in page
        assert f'href="{url}"' in page
        assert f'href="{back}"' in page
        run_pending_jobs(committed)
        assert client.get(url).status_code == 200
        with writing(committed) as session:  # something new on the case: the stored pack is stale
            case = session.execute(select(Case)).scalar_one()
            session.add(CaseEvent(case_id=case.id, actor=Actor.SYSTEM, action="reminder_sent", data={}))
    with committed.sessions() as session:
        assert session.execute(select(CaseRead.via)).scalars().all() == ["evidence"]  # only what was served


def test_failures_refusals_and_post_are_in_the_pack(client: FlaskClient, committed: Runtime) -> None:
    token = file_case(client, committed)
    with writing(committed) as session:
        case = session.execute(select(Case)).scalar_one()
        letter = session.execute(select(Letter)).scalar_one()
        session.add(OutboundEmail(
            idempotency_key="test:failed", message_id="<failed-1@casework.test>", case_id=case.id,
            kind="letter_to_company", sender="casework@casework.test", recipients=["cancel@acme.example"],
            cc=["jane@example.com"], subject="Cancellation", body_text="…", status="failed", attempts=5,
            last_error="SMTPRecipientsRefused: 550 mailbox unavailable",
            recipients_refused={"cc-refused@example.net": "550 no such user"}, address_source="consumer"))
        session.add(Delivery(case_id=case.id, letter_id=letter.id, channel="post",
                             address="Acme Ltd\n1 Post Road", at=utcnow(), by=Actor.STAFF,
                             tracking_number="RR123456789GB"))
    flat = squeezed(pdf_text(download(client, committed, f"/c/{token}/evidence.pdf").data))
    for fact in ("<failed-1@casework.test>", "Attempts5", "550 mailbox unavailable", "cc-refused@example.net",
                 "550 no such user", "RR123456789GB", "1 Post Road", "Post—", "cancellationv1"):
        assert squeezed(fact) in flat, fact


def test_the_zip_is_the_same_for_the_same_files() -> None:
    case = Case(reference="CW-2026-AAAAAAAA")
    letters = [("CW-2026-AAAAAAAA-cancellation-v1.pdf", b"%PDF-1.7 one")]
    first = evidence_zip(case.reference, b"%PDF-1.7 pack", letters)
    assert first == evidence_zip(case.reference, b"%PDF-1.7 pack", letters)
    assert first != evidence_zip(case.reference, b"%PDF-1.7 pack", [(letters[0][0], b"%PDF-1.7 two")])
    sums = zipfile.ZipFile(io.BytesIO(first)).read("SHA256SUMS").decode()
    assert f"{hashlib.sha256(b'%PDF-1.7 one').hexdigest()}  CW-2026-AAAAAAAA-cancellation-v1.pdf\n" in sums


@pytest.mark.parametrize(("changes", "entity", "card_law"), [
    ({"country": "DE", "amount.currency": "EUR"}, "Coursera Europe B.V.", False),
    ({"country": "US", "region": "US-NY", "amount.currency": "USD"}, "Coursera, Inc.", True),
    ({}, "Coursera, Inc.", False),
], ids=["de", "us", "au"])
def test_the_pack_names_the_contracting_company_and_the_card_law_where_it_is_the_consumers(
    client: FlaskClient, committed: Runtime, changes: dict[str, str], entity: str, card_law: bool,
) -> None:
    token = file_case(client, committed, **changes)
    text = squeezed(pdf_text(download(client, committed, f"/c/{token}/evidence.pdf").data))
    assert squeezed(f"Contracting company{entity}") in text
    assert ("FairCreditBillingAct" in text) is card_law
    for letter in letters_of(committed):
        assert letter.pdf is not None
        assert ("FairCreditBillingAct" in squeezed(pdf_text(letter.pdf))) is False  # never to the company
