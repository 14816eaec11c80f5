"""The consumer's path through the pages: file, confirm in one act, deliver, follow, withdraw."""

from __future__ import annotations

import datetime as dt
import email
import re
from collections.abc import Iterator
from email.message import Message
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from casework.cases.filing import file_case
from casework.cases.models import Case, ConfirmationCode, Delivery
from casework.cases.states import BillingChannel, CaseStatus, Outcome
from casework.db import utcnow
from casework.letters.models import Letter
from casework.mail.models import OutboundEmail
from casework.privacy.expiry import expire_unconfirmed
from casework.runtime import Runtime
from casework.web import limiter
from tests.support.factories import case_facts
from tests.support.jobs import run_pending_jobs
from tests.support.web import csrf_token, filing_form, post_form, token_from_location
from tests.support.writes import writing

pytestmark = pytest.mark.http


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


def case_count(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.execute(select(func.count(Case.id))).scalar_one())


def the_case(runtime: Runtime) -> Case:
    with runtime.sessions() as session:
        return session.execute(select(Case)).scalar_one()


def outbox(runtime: Runtime) -> list[Message]:
    return [email.message_from_bytes(p.read_bytes()) for p in runtime.settings.outbox.glob("*.eml")]


def body_text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    raise AssertionError("no text part")


def file_and_prepare(client: FlaskClient, runtime: Runtime, **changes: str) -> tuple[str, str, str]:
    """File through the form, run the jobs; return (status token, confirm link path, code)."""
    response = post_form(client, "/", filing_form(**changes))
    assert response.status_code == 303, response.get_data(as_text=True)
    token = token_from_location(response)
    run_pending_jobs(runtime)
    [message] = [m for m in outbox(runtime) if "confirm" in str(m["Subject"]).lower()]
    text = body_text(message)
    link = re.search(r"http://casework\.test(/c/[^\s]+/confirm\?code=([0-9A-Z-]+))", text)
    assert link is not None, text
    return token, link.group(1), link.group(2)


def test_the_form_page_is_accessible_and_strict(client: FlaskClient) -> None:
    response = client.get("/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "style-src 'self'" in csp
    assert "object-src 'none'" in csp
    scripts = re.findall(r"<script\b[^>]*>.*?</script>", page, re.S)
    assert scripts == ['<script src="/static/filing-form.js" defer></script>']  # a static file, nothing inline
    assert page.count("<script") == len(scripts)
    assert re.search(r"<[^>]*\son[a-z]+=", page) is None  # no event-handler attributes
    assert "style=" not in page
    assert "<style" not in page
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    for field in ("consumer.email", "consumer.name", "country", "payment_date", "consent.send_in_my_name"):
        assert f'name="{field}"' in page
    assert 'for="consumer-email"' in page
    assert 'id="consumer-email"' in page


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"consent.send_in_my_name": ""}, "consent-send_in_my_name", "Tick the box to let us write in your name"),
    ({"consumer.email": "jane-at-example"}, "consumer-email", "Enter your e-mail address, like name@example.com"),
    ({"payment_date": "2099-01-01"}, "payment_date", "Date of your last payment must be today or in the past"),
    ({"plan": ""}, "plan", "Select the company and plan you pay for"),
    ({"plan": "other:other-monthly"}, "company-name", "Enter the name of the company"),
])
def test_bad_input_is_answered_field_by_field_and_nothing_is_saved(
    client: FlaskClient, committed: Runtime, changes: dict[str, str], field: str, message: str
) -> None:
    form = filing_form(**changes)
    response = post_form(client, "/", form)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "There is a problem" in page
    assert f'href="#{field}"' in page
    assert f'id="{field}-error"' in page
    assert message in page
    assert 'value="Jane Q. Consumer"' in page  # what was typed is kept
    assert case_count(committed) == 0


def test_a_form_without_its_csrf_token_is_refused(client: FlaskClient, committed: Runtime) -> None:
    response = client.post("/", data=filing_form())
    assert response.status_code == 400
    assert case_count(committed) == 0


def confirm_by_link(client: FlaskClient, link: str, code: str) -> str:
    """Confirm with the e-mailed link and code; the page's new token (the links made before stop working)."""
    response = post_form(client, link.split("?")[0], {"code": code}, page=link)
    assert response.status_code == 303, response.get_data(as_text=True)
    return token_from_location(response)


def test_filing_leads_to_the_private_page_and_an_email_with_pdf_and_link(
    client: FlaskClient, committed: Runtime
) -> None:
    token, _link, code = file_and_prepare(client, committed)
    case = the_case(committed)
    assert case.status is CaseStatus.NEW
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert case.reference in page
    assert "Waiting for your confirmation" in page
    [message] = outbox(committed)
    assert message["To"] == "jane@example.com"
    pdfs = [p for p in message.walk() if p.get_content_type() == "application/pdf"]
    assert len(pdfs) == 1
    assert code in body_text(message)


def test_opening_the_link_confirms_nothing(client: FlaskClient, committed: Runtime) -> None:
    _, link, code = file_and_prepare(client, committed)
    for _ in range(3):
        page = client.get(link)
        assert page.status_code == 200
        assert ">Confirm the letter</button>" in page.get_data(as_text=True)  # Coursera: the consumer submits it
        assert code in page.get_data(as_text=True)
    case = the_case(committed)
    assert case.status is CaseStatus.NEW
    assert case.confirmed_at is None
    with committed.sessions() as session:
        attempts = session.execute(select(ConfirmationCode.attempts)).scalar_one()
    assert attempts == 0


def test_coursera_case_is_ready_then_submitted_by_the_consumer(client: FlaskClient, committed: Runtime) -> None:
    _, link, code = file_and_prepare(client, committed)
    token = confirm_by_link(client, link, code)
    case = the_case(committed)
    assert case.status is CaseStatus.READY
    assert case.email_confirmed_at is not None
    run_pending_jobs(committed)
    assert len(outbox(committed)) == 1  # nothing went to Coursera by e-mail: it takes a web form
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert "https://learner.coursera.help/hc/en-us/requests/new" in page
    assert "I have submitted it" in page
    submitted_local = (utcnow() + dt.timedelta(minutes=1)).astimezone(ZoneInfo("Australia/Sydney"))
    response = post_form(client, f"/c/{token}/delivery",
                         {"channel": "web_form", "at": submitted_local.strftime("%Y-%m-%dT%H:%M"),
                          "confirmation": "Ticket 12345"},
                         page=f"/c/{token}")
    assert response.status_code == 303
    case = the_case(committed)
    assert case.status is CaseStatus.SENT
    with committed.sessions() as session:
        delivery = session.execute(select(Delivery)).scalar_one()
    assert (delivery.channel, delivery.by.value, delivery.confirmation) == ("web_form", "consumer", "Ticket 12345")
    assert delivery.at == submitted_local.replace(second=0, microsecond=0).astimezone(dt.UTC)


def test_another_company_with_email_is_sent_with_no_staff_step(client: FlaskClient, committed: Runtime) -> None:
    _, link, code = file_and_prepare(
        client, committed, plan="other:other-monthly",
        **{"company.name": "Acme Streaming", "company.email": "cancel@acme.example"},
    )
    assert not [m for m in outbox(committed) if m["To"] == "cancel@acme.example"]  # not before confirmation
    post_form(client, link.split("?")[0], {"code": code}, page=link)
    run_pending_jobs(committed)
    [to_company] = [m for m in outbox(committed) if m["To"] == "cancel@acme.example"]
    assert to_company["Cc"] == "jane@example.com"
    assert "jane@example.com" in to_company["Reply-To"]
    assert to_company["From"] == committed.settings.mail_from
    assert [p.get_content_type() for p in to_company.walk()].count("application/pdf") == 1
    case = the_case(committed)
    assert case.status is CaseStatus.SENT
    with committed.sessions() as session:
        delivery = session.execute(select(Delivery)).scalar_one()
        sent = session.execute(select(OutboundEmail).where(OutboundEmail.kind == "letter_to_company")).scalar_one()
    assert delivery.channel == "email"
    assert delivery.by.value == "system"
    assert sent.message_id in (delivery.confirmation or "")
    assert to_company["Message-ID"] == sent.message_id


def test_wrong_codes_count_and_run_out(client: FlaskClient, committed: Runtime) -> None:
    token, link, code = file_and_prepare(client, committed)
    path = link.split("?")[0]
    for _attempt in range(5):
        response = post_form(client, path, {"code": "AAAA-AAAA"}, page=link)
        assert response.status_code == 422
    assert "no longer works" in response.get_data(as_text=True)
    response = post_form(client, path, {"code": code}, page=link)  # even the right one, now
    assert response.status_code == 422
    assert the_case(committed).status is CaseStatus.NEW
    # A new code can be asked for and works.
    post_form(client, f"/c/{token}/resend", {}, page=f"/c/{token}")
    run_pending_jobs(committed)
    codes = re.findall(r"Your confirmation code is ([0-9A-Z-]+)", "".join(body_text(m) for m in outbox(committed)))
    assert len(set(codes)) == 2
    fresh = next(c for c in codes if c != code)
    assert post_form(client, path, {"code": fresh}, page=link).status_code == 303
    assert the_case(committed).status is CaseStatus.READY


def test_an_expired_code_is_refused(client: FlaskClient, committed: Runtime) -> None:
    _, link, code = file_and_prepare(client, committed)
    with writing(committed) as session:
        session.execute(update(ConfirmationCode).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    response = post_form(client, link.split("?")[0], {"code": code}, page=link)
    assert response.status_code == 422
    assert "expired" in response.get_data(as_text=True)
    assert the_case(committed).status is CaseStatus.NEW


def test_a_strangers_token_is_404(client: FlaskClient, committed: Runtime) -> None:
    token, _, _ = file_and_prepare(client, committed)
    stranger = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for path in (f"/c/{stranger}", f"/c/{stranger}/confirm", "/c/x", "/c/" + "a" * 300):
        assert client.get(path).status_code == 404
    response = client.post(f"/c/{stranger}/withdraw", data={"csrf_token": csrf_token(client), "sure": "yes"})
    assert response.status_code == 404
    assert the_case(committed).status is CaseStatus.NEW


def test_the_letter_download_is_the_stored_pdf(client: FlaskClient, committed: Runtime) -> None:
    token, _, _ = file_and_prepare(client, committed)
    with committed.sessions() as session:
        letter = session.execute(select(Letter)).scalar_one()
        pdf, sha = letter.pdf, letter.sha256
    response = client.get(f"/c/{token}/letters/{letter.id}.pdf")
    assert response.status_code == 200
    assert response.data == pdf
    assert response.headers["ETag"] == f'"{sha}"'
    assert client.get(f"/c/{token}/letters/{letter.id}.pdf", headers={"If-None-Match": f'"{sha}"'}).status_code == 304
    assert client.get(f"/c/{token}/letters/{letter.id + 1}.pdf").status_code == 404


def test_withdrawing_needs_the_tick_and_stops_everything(client: FlaskClient, committed: Runtime) -> None:
    _, link, code = file_and_prepare(client, committed, plan="other:other-monthly",
                                     **{"company.name": "Acme", "company.email": "cancel@acme.example"})
    token = confirm_by_link(client, link, code)  # company e-mail now pending
    response = post_form(client, f"/c/{token}/withdraw", {}, page=f"/c/{token}")
    assert response.status_code == 422
    assert the_case(committed).status is CaseStatus.READY
    response = post_form(client, f"/c/{token}/withdraw", {"sure": "yes"}, page=f"/c/{token}")
    assert response.status_code == 303
    case = the_case(committed)
    assert (case.status, case.outcome) == (CaseStatus.RESOLVED, Outcome.WITHDRAWN)
    run_pending_jobs(committed)
    assert not [m for m in outbox(committed) if m["To"] == "cancel@acme.example"]


def test_unconfirmed_cases_expire_and_lose_personal_data(client: FlaskClient, committed: Runtime) -> None:
    token, _, _ = file_and_prepare(client, committed)
    with writing(committed) as session:
        assert expire_unconfirmed(session, utcnow()) == 0
        assert expire_unconfirmed(session, utcnow() + dt.timedelta(days=7, minutes=1)) == 1
    case = the_case(committed)
    assert case.consumer_name == "(deleted)"
    assert case.personal_data_deleted_at is not None
    assert case.status is CaseStatus.CLOSED
    with committed.sessions() as session:  # the letter keeps its hash, not its PDF; the e-mail its Message-ID only
        assert session.execute(select(func.count(Letter.id)).where(Letter.pdf.is_not(None))).scalar_one() == 0
        kept = select(func.count(OutboundEmail.id)).where(OutboundEmail.body_text != "")
        assert session.execute(kept).scalar_one() == 0
    page = client.get(f"/c/{token}")  # its link only says the details are gone
    assert "Your details are deleted" in page.get_data(as_text=True)
    assert "Jane" not in page.get_data(as_text=True)


def test_app_store_cases_have_nothing_to_confirm_and_do_not_expire(committed: Runtime) -> None:
    with writing(committed) as session:
        filed = file_case(session, case_facts(billing_channel=BillingChannel.GOOGLE_PLAY),
                          committed.settings.secret_key)
    with writing(committed) as session:
        assert expire_unconfirmed(session, utcnow() + dt.timedelta(days=30)) == 0
    with committed.sessions() as session:
        case = session.get(Case, filed.case_id)
        assert case is not None
        assert (case.status, case.personal_data_deleted_at) == (CaseStatus.NEW, None)


def test_filing_is_rate_limited(client: FlaskClient, committed: Runtime) -> None:
    responses = [post_form(client, "/", filing_form(**{"consumer.email": f"j{i}@example.com"})) for i in range(4)]
    assert [r.status_code for r in responses] == [303, 303, 303, 429]
    assert int(responses[3].headers["Retry-After"]) > 0
    assert case_count(committed) == 3


@pytest.mark.parametrize("changes", [
    {"consumer.name": "Jane\x00Doe"},
    {"consumer.name": "J" * 100_000},
    {"plan": "coursera:" + "x" * 5000},
    {"plan": "nothing-like-a-plan"},
    {"company.trial_days": "-3", "plan": "other:other-monthly", "company.name": "Acme"},
    {"amount.value": "1e309", "amount.currency": "AUD"},
    {"payment_date": "0000-00-00"},
    {"country": "<script>"},
])
def test_hostile_form_input_is_never_a_500(client: FlaskClient, committed: Runtime, changes: dict[str, str]) -> None:
    response = post_form(client, "/", filing_form(**changes))
    assert response.status_code in (400, 413, 422)
    assert case_count(committed) == 0


def test_hostile_delivery_input_is_never_a_500(client: FlaskClient, committed: Runtime) -> None:
    _, link, code = file_and_prepare(client, committed)
    token = confirm_by_link(client, link, code)
    for at in ("0001-01-01T00:00", "yesterday", "2020-01-01T10:00", "9999-12-31T23:59"):
        response = post_form(client, f"/c/{token}/delivery", {"channel": "web_form", "at": at}, page=f"/c/{token}")
        assert response.status_code == 422, at
    response = post_form(client, f"/c/{token}/delivery", {"channel": "pigeon"}, page=f"/c/{token}")
    assert response.status_code == 422
    assert client.get(f"/c/{token}/letters/{10**12}.pdf").status_code == 404
    assert the_case(committed).status is CaseStatus.READY


def test_lost_link_answers_the_same_and_sends_working_links(client: FlaskClient, committed: Runtime) -> None:
    old_token, _, code = file_and_prepare(client, committed)
    before = len(outbox(committed))
    # An address nobody confirmed gets nothing but its confirmation e-mail: no links either.
    post_form(client, "/lost-link", {"email": "jane@example.com"}, page="/lost-link")
    run_pending_jobs(committed)
    assert len(outbox(committed)) == before
    confirmed = post_form(client, f"/c/{old_token}/confirm", {"code": code}, page=f"/c/{old_token}")
    assert confirmed.status_code == 303
    old_token = token_from_location(confirmed)
    run_pending_jobs(committed)
    before = len(outbox(committed))
    unknown = post_form(client, "/lost-link", {"email": "nobody@example.com"}, page="/lost-link")
    known = post_form(client, "/lost-link", {"email": "Jane@Example.com"}, page="/lost-link")
    assert unknown.status_code == known.status_code == 200
    assert unknown.get_data(as_text=True).replace("nobody@example.com", "X") == \
        known.get_data(as_text=True).replace("jane@example.com", "X").replace("Jane@example.com", "X")
    run_pending_jobs(committed)
    [links] = [m for m in outbox(committed) if m["Subject"] == "Your casework links"]
    assert len(outbox(committed)) == before + 1
    new_path = re.search(r"http://casework\.test(/c/[A-Za-z0-9_-]+)", body_text(links))
    assert new_path is not None
    assert client.get(new_path.group(1)).status_code == 200
    assert client.get(f"/c/{old_token}").status_code == 410  # the links sent before stop working
    assert "sent before no longer work" in " ".join(body_text(links).split())


def test_lost_link_checks_the_address_and_is_rate_limited(client: FlaskClient, committed: Runtime) -> None:
    bad = post_form(client, "/lost-link", {"email": "not an address"}, page="/lost-link")
    assert bad.status_code == 422
    assert "Enter the e-mail address you filed with, like name@example.com" in bad.get_data(as_text=True)
    assert 'value="not an address"' in bad.get_data(as_text=True)  # what was typed stays
    empty = post_form(client, "/lost-link", {"email": ""}, page="/lost-link")
    assert empty.status_code == 422
    assert "Enter the e-mail address you filed with</a>" in empty.get_data(as_text=True)
    codes = [post_form(client, "/lost-link", {"email": "victim@example.com"}, page="/lost-link").status_code
             for _ in range(9)]
    # Past the address's three e-mails an hour the answer stays the usual page (nothing more is sent); the
    # asking client's own limit (ten an hour) is what ends in a 429.
    assert codes == [200] * 8 + [429]
