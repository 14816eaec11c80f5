"""The consumer tells us what happened: the company's answer with a reply file, a refund, a new charge,
an answer to a caseworker; and the status e-mails that tell the consumer what happened to the case."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import EnvironBuilder, FlaskClient
from PIL import Image
from pypdf import PdfWriter
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from casework.cases.answers import ATTACHMENT_MAX
from casework.cases.filing import file_case
from casework.cases.models import Case, CaseAttachment, CaseEvent, CompanyResponse
from casework.cases.notify import notify_status
from casework.cases.states import Actor, CaseStatus, Outcome
from casework.cases.workflow import transition, withdraw
from casework.db import utcnow
from casework.mail.models import OutboundEmail
from casework.runtime import Runtime
from casework.web import limiter
from tests.support.factories import case_facts
from tests.support.mailbox import as_sent_text
from tests.support.today import TODAY, clock_at, iso_days_ago, iso_days_ahead
from tests.support.web import csrf_token
from tests.support.writes import writing

pytestmark = [pytest.mark.http, pytest.mark.dates]


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


def new_case(runtime: Runtime, status: CaseStatus = CaseStatus.SENT, outcome: Outcome | None = None,
             **facts: Any) -> tuple[int, str]:
    """A filed case put straight into ``status``; returns (case id, status-page token)."""
    with writing(runtime) as session:
        filed = file_case(session, case_facts(**facts), runtime.settings.secret_key)
        session.flush()
        case = session.get(Case, filed.case_id)
        assert case is not None
        case.status, case.outcome = status, outcome
        if status is not CaseStatus.NEW:
            case.confirmed_at = case.email_confirmed_at = utcnow()
    return filed.case_id, filed.access_token


def load(runtime: Runtime, case_id: int) -> Case:
    with runtime.sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case


def count(runtime: Runtime, model: Any) -> int:
    with runtime.sessions() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def post(client: FlaskClient, token: str, path: str, data: dict[str, Any], page: str = "") -> TestResponse:
    """A browser's multipart post; its body is closed after, as a large one lives in a temporary file."""
    form = {"csrf_token": csrf_token(client, page or f"/c/{token}"), **data}
    builder = EnvironBuilder(client.application, path=f"/c/{token}/{path}", method="POST", data=form,
                             content_type="multipart/form-data")
    environ = builder.get_environ()
    try:
        return client.open(environ)
    finally:
        environ["wsgi.input"].close()
        builder.close()


def yesterday() -> str:
    return (utcnow().date() - dt.timedelta(days=1)).isoformat()


def pdf_bytes() -> bytes:
    out = io.BytesIO()
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.write(out)
    return out.getvalue()


def image_bytes(kind: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format=kind)
    return out.getvalue()


def answer(kind: str = "refused", summary: str = "They said no refunds.", **extra: Any) -> dict[str, Any]:
    return {"answer.type": kind, "answer.received_on": yesterday(), "answer.summary": summary, **extra}


@pytest.mark.parametrize(("data", "declared", "name", "detected", "stored_name"), [
    (pdf_bytes, "application/pdf", "reply.pdf", "application/pdf", "reply.pdf"),
    (lambda: image_bytes("PNG"), "image/png", "screen shot.png", "image/png", "screen-shot.png"),
    (lambda: image_bytes("JPEG"), "image/jpeg", "photo.jpeg", "image/jpeg", "photo.jpg"),
    # Declared as a PDF, but the content is a PNG: allowed, and stored as what it is.
    (lambda: image_bytes("PNG"), "application/pdf", "not-really.pdf", "image/png", "not-really.png"),
])
def test_an_answer_with_a_real_file_is_stored_by_its_content(
    client: FlaskClient, committed: Runtime, data: Any, declared: str, name: str, detected: str, stored_name: str
) -> None:
    content = data()
    case_id, token = new_case(committed)
    response = post(client, token, "answer", answer(**{"answer.file": (io.BytesIO(content), name, declared)}))
    assert response.status_code == 303, response.get_data(as_text=True)
    with committed.sessions() as session:
        reply = session.execute(select(CompanyResponse)).scalar_one()
        stored = session.execute(select(CaseAttachment)).scalar_one()
        assert (reply.case_id, reply.type, reply.recorded_by) == (case_id, "refused", Actor.CONSUMER)
        assert (stored.response_id, stored.content_type, stored.filename) == (reply.id, detected, stored_name)
        assert stored.sha256 == hashlib.sha256(content).hexdigest()
        assert stored.size == len(content)
        attachment_id = stored.id
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert stored_name in page
    assert "They said no refunds." in page
    download = client.get(f"/c/{token}/attachments/{attachment_id}")
    assert download.status_code == 200
    assert download.data == content
    assert download.headers["Content-Type"] == detected
    assert download.headers["Content-Disposition"] == f'attachment; filename="{stored_name}"'
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    # Another case's token does not reach this file.
    _, other_token = new_case(committed)
    assert client.get(f"/c/{other_token}/attachments/{attachment_id}").status_code == 404


@pytest.mark.parametrize("content", [
    b"<!DOCTYPE html><html><script>alert(1)</script></html>",
    b"",
    b"GIF89a\x01\x00\x01\x00",
])
def test_a_file_that_is_not_pdf_png_or_jpeg_is_refused_and_nothing_saved(
    client: FlaskClient, committed: Runtime, content: bytes
) -> None:
    case_id, token = new_case(committed)
    response = post(client, token, "answer", answer(summary="Kept as typed",
                                                    **{"answer.file": (io.BytesIO(content), "reply.pdf",
                                                                       "application/pdf")}))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="answer-file-error"' in page
    assert "Kept as typed" in page  # what was typed is kept
    assert 'value="refused" selected' in page
    assert count(committed, CompanyResponse) == 0
    assert count(committed, CaseAttachment) == 0
    assert load(committed, case_id).status is CaseStatus.SENT


def test_an_oversize_file_is_answered_clearly_never_a_500(client: FlaskClient, committed: Runtime) -> None:
    _, token = new_case(committed)
    just_over = pdf_bytes() + b"\0" * (ATTACHMENT_MAX + 1 - len(pdf_bytes()))
    response = post(client, token, "answer", answer(**{"answer.file": (io.BytesIO(just_over), "a.pdf",
                                                                       "application/pdf")}))
    assert response.status_code == 422
    assert "larger than 5 MB" in response.get_data(as_text=True)
    far_over = pdf_bytes() + b"\0" * (ATTACHMENT_MAX * 2)
    response = post(client, token, "answer", answer(**{"answer.file": (io.BytesIO(far_over), "b.pdf",
                                                                       "application/pdf")}))
    assert response.status_code == 413
    assert "larger than we accept" in response.get_data(as_text=True)
    assert count(committed, CompanyResponse) == 0
    assert count(committed, CaseAttachment) == 0
    # Other forms keep the small limit: a large refund post is refused before any work.
    response = post(client, token, "refund", {"refund.amount": "1" * 100_000})
    assert response.status_code == 413


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"answer.type": "shrugged"}, "answer-type", "Choose what happened"),
    ({"answer.received_on": "2999-01-01"}, "answer-received_on",
     "The date the company answered must be today or in the past"),
    ({"answer.received_on": "yesterday"}, "answer-received_on", "Enter a date"),
    ({"answer.summary": "   "}, "answer-summary", "Write what they said"),
    ({"answer.summary": "x" * 2001}, "answer-summary", "At most 2000 characters"),
])
def test_answer_field_errors_are_shown_and_nothing_is_saved(
    client: FlaskClient, committed: Runtime, changes: dict[str, str], field: str, message: str
) -> None:
    _, token = new_case(committed)
    events = count(committed, CaseEvent)
    form = {**answer(), **changes}
    response = post(client, token, "answer", form)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "There is a problem" in page
    assert f'href="#{field}"' in page
    assert f'id="{field}-error"' in page
    assert message in page
    assert form["answer.summary"].strip()[:100] in page
    assert count(committed, CompanyResponse) == 0
    assert count(committed, CaseEvent) == events


def test_html_in_a_summary_is_shown_as_text(client: FlaskClient, committed: Runtime) -> None:
    _, token = new_case(committed)
    hostile = '<script>alert("x")</script><b>bold</b>'
    assert post(client, token, "answer", answer(summary=hostile)).status_code == 303
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in page


def test_charged_again_reopens_a_resolved_case_but_never_a_withdrawn_one(
    client: FlaskClient, committed: Runtime
) -> None:
    case_id, token = new_case(committed, CaseStatus.RESOLVED, Outcome.CANCELLED)
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert "I was charged again" in page
    assert "I received a refund" not in page  # a finished case hears only of a new charge
    response = post(client, token, "answer", answer(kind="refused"))  # not offered on a finished case
    assert response.status_code == 303
    assert load(committed, case_id).status is CaseStatus.RESOLVED
    response = post(client, token, "answer", answer(kind="charged_again", summary="Charged 49.00 AUD again"))
    assert response.status_code == 303
    case = load(committed, case_id)
    assert (case.status, case.outcome) == (CaseStatus.SENT, None)
    assert count(committed, CompanyResponse) == 1

    withdrawn_id, withdrawn_token = new_case(committed, CaseStatus.SENT)
    with writing(committed) as session:
        case = session.get(Case, withdrawn_id)
        assert case is not None
        withdraw(session, case, Actor.CONSUMER, utcnow())
    assert "Tell us what happened" not in client.get(f"/c/{withdrawn_token}").get_data(as_text=True)
    response = post(client, withdrawn_token, "answer", answer(kind="charged_again"), page="/")
    assert response.status_code == 303
    assert "cannot be reopened" in client.get(f"/c/{withdrawn_token}").get_data(as_text=True)
    case = load(committed, withdrawn_id)
    assert (case.status, case.outcome) == (CaseStatus.RESOLVED, Outcome.WITHDRAWN)
    assert count(committed, CompanyResponse) == 1


def test_a_refund_is_recorded_and_shown_in_the_api(client: FlaskClient, committed: Runtime) -> None:
    case_id, token = new_case(committed)
    response = post(client, token, "refund", {"refund.amount": "12", "refund.currency": "aud",
                                              "refund.on": yesterday()})
    assert response.status_code == 303
    case = load(committed, case_id)
    api = client.get(f"/api/v1/cases/{case.reference}", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200
    assert api.get_json()["refund_received"] == {"amount": "12.00", "currency": "AUD", "on": yesterday()}
    with committed.sessions() as session:
        event = session.execute(select(CaseEvent).where(CaseEvent.action == "refund_received")).scalar_one()
    assert event.data == {"amount": "12.00", "currency": "AUD", "on": yesterday()}
    assert "12.00 AUD" in client.get(f"/c/{token}").get_data(as_text=True)


def test_the_api_shows_no_refund_until_one_is_reported(client: FlaskClient, committed: Runtime) -> None:
    case_id, token = new_case(committed)
    reference = load(committed, case_id).reference
    api = client.get(f"/api/v1/cases/{reference}", headers={"Authorization": f"Bearer {token}"})
    assert api.get_json()["refund_received"] is None


@pytest.mark.parametrize(("form", "field"), [
    ({"refund.amount": "-5", "refund.currency": "AUD"}, "refund-amount"),
    ({"refund.amount": "1.234", "refund.currency": "AUD"}, "refund-amount"),
    ({"refund.amount": "12.00", "refund.currency": "XYZ"}, "refund-currency"),
    ({"refund.amount": "12.00", "refund.currency": "AUD", "refund.on": "2999-12-01"}, "refund-on"),
])
def test_refund_errors_keep_what_was_typed_and_save_nothing(
    client: FlaskClient, committed: Runtime, form: dict[str, str], field: str
) -> None:
    case_id, token = new_case(committed)
    events = count(committed, CaseEvent)
    response = post(client, token, "refund", {"refund.on": yesterday(), **form})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error"' in page
    assert f'value="{form["refund.amount"]}"' in page
    case = load(committed, case_id)
    assert case.refund_received_amount is None
    assert count(committed, CaseEvent) == events


def test_answering_the_caseworker_returns_the_case_to_where_it_was(client: FlaskClient, committed: Runtime) -> None:
    case_id, token = new_case(committed, CaseStatus.NEEDS_INFO)
    events = count(committed, CaseEvent)
    with writing(committed) as session:
        case = session.get(Case, case_id)
        assert case is not None
        case.status_before_needs_info = CaseStatus.FOLLOW_UP
        session.add(CaseEvent(case_id=case_id, at=utcnow(), actor=Actor.STAFF, action="info_requested",
                              from_status=CaseStatus.FOLLOW_UP, to_status=CaseStatus.NEEDS_INFO,
                              data={"question": "Which card was charged?"}))
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert "Which card was charged?" in page
    response = post(client, token, "info", {"info.text": "   "})
    assert response.status_code == 422
    assert 'id="info-text-error"' in response.get_data(as_text=True)
    assert load(committed, case_id).status is CaseStatus.NEEDS_INFO
    response = post(client, token, "info", {"info.text": "The Visa ending 4242."})
    assert response.status_code == 303
    case = load(committed, case_id)
    assert (case.status, case.status_before_needs_info) == (CaseStatus.FOLLOW_UP, None)
    with committed.sessions() as session:
        event = session.execute(select(CaseEvent).where(CaseEvent.action == "info_provided")).scalar_one()
    assert (event.from_status, event.to_status, event.data) == (
        CaseStatus.NEEDS_INFO, CaseStatus.FOLLOW_UP, {"text": "The Visa ending 4242."})
    # Nothing is asked any more: a second answer is refused.
    assert post(client, token, "info", {"info.text": "again"}).status_code == 303
    assert count(committed, CaseEvent) == events + 2


def status_emails(runtime: Runtime) -> list[OutboundEmail]:
    with runtime.sessions() as session:
        return list(session.scalars(select(OutboundEmail).where(OutboundEmail.kind.like("status_%"))
                                    .order_by(OutboundEmail.id)))


def test_delivery_and_resolution_email_the_consumer_once_each(client: FlaskClient, committed: Runtime) -> None:
    case_id, _ = new_case(committed, CaseStatus.READY)
    now = utcnow()
    with writing(committed) as session:
        case = session.get(Case, case_id)
        assert case is not None
        transition(session, case, CaseStatus.SENT, Actor.SYSTEM, "delivered", now,
                   data={"answer_due": "2026-12-11"})
        again = notify_status(session, committed.settings, case, "delivered", now)
    [delivered] = status_emails(committed)
    assert again is not None
    assert again.id == delivered.id
    assert delivered.kind == "status_delivered"
    assert delivered.recipients == ["jane@example.com"]
    assert "2026-12-11" in delivered.body_text
    link = re.search(r"http://casework\.test(/c/[A-Za-z0-9_-]+)", as_sent_text(committed, delivered))
    assert link is not None
    assert client.get(link.group(1)).status_code == 200  # a fresh, working private link
    with writing(committed) as session:
        case = session.get(Case, case_id)
        assert case is not None
        transition(session, case, CaseStatus.RESOLVED, Actor.STAFF, "resolved", now, outcome=Outcome.CANCELLED)
        notify_status(session, committed.settings, case, "resolved", now)
    emails = status_emails(committed)
    assert [e.kind for e in emails] == ["status_delivered", "status_resolved"]
    assert "resolved: cancelled" in emails[1].body_text
    assert len({e.message_id for e in emails}) == 2


def test_clock_emails_are_idempotent_per_due_date_and_follow_up(committed: Runtime) -> None:
    case_id, _ = new_case(committed, CaseStatus.SENT)
    now = utcnow()
    with writing(committed) as session:
        case = session.get(Case, case_id)
        assert case is not None
        case.answer_due_on = dt.date(2026, 12, 11)
        first = notify_status(session, committed.settings, case, "answer_due", now)
        assert notify_status(session, committed.settings, case, "answer_due", now) is first
        case.follow_ups_sent = 1
        notify_status(session, committed.settings, case, "follow_up", now)
        notify_status(session, committed.settings, case, "follow_up", now)
        case.follow_ups_sent = 2
        notify_status(session, committed.settings, case, "follow_up", now)
        with pytest.raises(ValueError, match="no status e-mail"):
            notify_status(session, committed.settings, case, "filed", now)
    emails = status_emails(committed)
    assert [e.kind for e in emails] == ["status_answer_due", "status_follow_up", "status_follow_up"]
    assert [e.idempotency_key for e in emails] == [f"status:{case_id}:answer_due:2026-12-11",
                                                  f"status:{case_id}:follow_up:1", f"status:{case_id}:follow_up:2"]
    assert "follow-up number 2" in emails[2].body_text


def test_a_company_name_with_html_is_text_in_the_email(committed: Runtime) -> None:
    company = {"name": "<b>Acme</b><script>x()</script>", "email": "cancel@acme.example"}
    case_id, _ = new_case(committed, CaseStatus.SENT, provider="other", plan="other-monthly", company=company)
    with writing(committed) as session:
        case = session.get(Case, case_id)
        assert case is not None
        email = notify_status(session, committed.settings, case, "follow_up", utcnow())
        assert email is not None
        html = email.body_html or ""
    assert "<script>" not in html
    assert "&lt;b&gt;Acme&lt;/b&gt;&lt;script&gt;" in html


@pytest.mark.parametrize(("path", "form", "field", "message"), [
    ("answer", answer(**{"answer.received_on": iso_days_ahead(1)}), "answer-received_on",
     "The date the company answered must be today or in the past"),
    ("answer", answer(kind="charged_again", **{"answer.received_on": iso_days_ahead(1)}), "answer-received_on",
     "The date of the new charge must be today or in the past"),
    ("answer", answer(**{"answer.received_on": iso_days_ago(400)}), "answer-received_on",
     "The date the company answered must be no more than a year before the case was filed"),
    ("refund", {"refund.amount": "12.00", "refund.currency": "AUD", "refund.on": iso_days_ahead(1)}, "refund-on",
     "The date the refund was received must be today or in the past"),
])
def test_a_date_after_the_consumers_today_is_refused_with_what_was_typed(
    client: FlaskClient, committed: Runtime, path: str, form: dict[str, str], field: str, message: str
) -> None:
    case_id, token = new_case(committed)
    events = count(committed, CaseEvent)
    response = post(client, token, path, form)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'href="#{field}"' in page
    assert message in page
    assert f'id="{field}-error"' in page
    typed = form.get("answer.received_on") or form["refund.on"]
    assert f'value="{typed}"' in page
    assert (count(committed, CompanyResponse), count(committed, CaseEvent)) == (0, events)
    case = load(committed, case_id)
    assert (case.status, case.refund_received_amount) == (CaseStatus.SENT, None)


def test_today_is_the_consumers_own_day(client: FlaskClient, committed: Runtime) -> None:
    """Late evening in New York is already the next morning in Melbourne: each may date an answer on their today."""
    _, melbourne = new_case(committed)
    _, new_york = new_case(committed, country="US", timezone="America/New_York", amount_currency="USD")
    tomorrow = iso_days_ahead(1)
    with clock_at(dt.datetime.combine(TODAY, dt.time(23, 30), tzinfo=dt.UTC)):
        refused = post(client, new_york, "answer", answer(**{"answer.received_on": tomorrow}))
        accepted = post(client, melbourne, "answer", answer(**{"answer.received_on": tomorrow}))
    assert refused.status_code == 422
    assert "The date the company answered must be today or in the past" in refused.get_data(as_text=True)
    assert accepted.status_code == 303
    with committed.sessions() as session:
        assert [r.received_on.isoformat() for r in session.scalars(select(CompanyResponse))] == [tomorrow]
