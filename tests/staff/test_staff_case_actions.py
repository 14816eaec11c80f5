"""The caseworker's case page: every action through its form, the rules of API.md's transitions (409 with a
sentence, 422 with the field and what was typed), internal notes kept from the consumer, and who read the case.

Jobs run in this process (tests/support/jobs.py), so letters are written and e-mails reach the outbox.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import re
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from casework.cases.filing import file_case
from casework.cases.models import Case, CaseAttachment, CaseEvent, CompanyResponse, Delivery
from casework.cases.states import INTERNAL_ACTIONS, Actor, BillingChannel, CaseStatus, Outcome
from casework.cases.workflow import start_delivery, transition, withdraw
from casework.db import utcnow
from casework.letters.models import Letter
from casework.letters.services import latest_letter
from casework.mail.models import OutboundEmail
from casework.runtime import Runtime
from casework.staff.accounts import create_staff
from casework.staff.models import CaseNote, CaseRead
from casework.web import limiter
from tests.support.factories import case_facts
from tests.support.jobs import run_pending_jobs
from tests.support.today import TODAY, TODAY_ISO, clock_at, iso_days_ago, iso_days_ahead
from tests.support.web import csrf_token
from tests.support.writes import writing

pytestmark = pytest.mark.http
PASSWORD = "correct horse battery staple"
ACME = {"name": "Acme Streaming", "email": "cancel@acme.example"}
PDF = b"%PDF-1.4\n% a short reply\n"


@dataclass(frozen=True)
class Filed:
    case_id: int
    reference: str
    token: str


@pytest.fixture
def staff(committed: Runtime) -> dict[str, int]:
    limiter.reset()
    with writing(committed) as session:
        people = {"casey": create_staff(session, "casey@casework.test", "Casey Worker", PASSWORD),
                  "robin": create_staff(session, "robin@casework.test", "Robin Other", PASSWORD),
                  "sam": create_staff(session, "sam@casework.test", "Sam Supervisor", PASSWORD, role="supervisor")}
        session.flush()
        return {name: user.id for name, user in people.items()}


def signed_in(app: Flask, name: str) -> FlaskClient:
    client = app.test_client()
    response = client.post("/staff/login", data={"csrf_token": csrf_token(client, "/staff/login"),
                                                  "email": f"{name}@casework.test", "password": PASSWORD})
    assert response.status_code == 303
    return client


@pytest.fixture
def casey(app: Flask, staff: dict[str, int]) -> FlaskClient:
    return signed_in(app, "casey")


def file(runtime: Runtime, **changes: Any) -> Filed:
    """A filed case whose letter is written and sent to the consumer to confirm."""
    with writing(runtime) as session:
        filed = file_case(session, case_facts(**changes), runtime.settings.secret_key)
    run_pending_jobs(runtime)
    return Filed(filed.case_id, filed.reference, filed.access_token)


def delivered(runtime: Runtime) -> Filed:
    """A case confirmed and delivered by e-mail to the company (→ sent)."""
    filed = file(runtime, provider="other", plan="other-monthly", company=ACME)
    now = utcnow()
    with writing(runtime) as session:
        case = session.get_one(Case, filed.case_id)
        case.confirmed_at = case.email_confirmed_at = now
        transition(session, case, CaseStatus.READY, Actor.CONSUMER, "confirmed", now)
        letter = latest_letter(session, case.id)
        assert letter is not None
        start_delivery(session, runtime.settings, case, letter, now)
    run_pending_jobs(runtime)
    assert load(runtime, filed).status is CaseStatus.SENT
    return filed


def load(runtime: Runtime, filed: Filed) -> Case:
    with runtime.sessions() as session:
        return session.get_one(Case, filed.case_id)


def events(runtime: Runtime, filed: Filed, action: str) -> list[CaseEvent]:
    with runtime.sessions() as session:
        return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == filed.case_id,
                                                            CaseEvent.action == action).order_by(CaseEvent.id)))


def emails(runtime: Runtime, filed: Filed, kind: str) -> list[OutboundEmail]:
    with runtime.sessions() as session:
        return list(session.scalars(select(OutboundEmail).where(OutboundEmail.case_id == filed.case_id,
                                                                OutboundEmail.kind == kind)
                                    .order_by(OutboundEmail.id)))


def act(client: FlaskClient, runtime: Runtime, filed: Filed, path: str, data: dict[str, Any] | None = None,
        *, version: int | None = None) -> TestResponse:
    """Post a case form as the page does: its CSRF token and the case's current version."""
    page = f"/staff/cases/{filed.reference}"
    token = csrf_token(client, page)
    return client.post(f"{page}/{path}", data={"csrf_token": token, "version": str(
        load(runtime, filed).version if version is None else version), **(data or {})})


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def staff_event(runtime: Runtime, filed: Filed, action: str, staff_id: int) -> CaseEvent:
    [event] = events(runtime, filed, action)
    assert (event.actor, event.actor_staff_id) == (Actor.STAFF, staff_id)
    return event


def test_a_note_is_kept_from_the_consumer(casey: FlaskClient, committed: Runtime, staff: dict[str, int],
                                          app: Flask) -> None:
    filed = delivered(committed)
    response = act(casey, committed, filed, "notes", {"note": "Called their support line; no answer."})
    assert response.status_code == 303
    event = staff_event(committed, filed, "note_added", staff["casey"])
    assert "Called" not in str(event.data)
    page = text(casey.get(f"/staff/cases/{filed.reference}"))
    assert "Called their support line; no answer." in page
    assert "Casey Worker" in page
    consumer = app.test_client().get(f"/c/{filed.token}")
    assert consumer.status_code == 200
    assert "Called their support line" not in text(consumer)
    assert "note added" not in text(consumer).lower()


def test_the_consumer_api_leaves_out_notes_and_internal_events(casey: FlaskClient, committed: Runtime,
                                                               app: Flask) -> None:
    filed = delivered(committed)
    assert act(casey, committed, filed, "notes", {"note": "Internal only."}).status_code == 303
    assert act(casey, committed, filed, "assign", {"assignee": "me"}).status_code == 303
    document = app.test_client().get(f"/api/v1/cases/{filed.reference}",
                                     headers={"Authorization": f"Bearer {filed.token}"})
    assert document.status_code == 200
    assert "Internal only." not in text(document)
    actions = {e["action"] for e in document.get_json()["events"]}
    assert "delivered" in actions
    assert not actions & INTERNAL_ACTIONS


@pytest.mark.parametrize("note", ["", "   ", "x" * 5001])
def test_a_bad_note_is_422_with_what_was_typed(casey: FlaskClient, committed: Runtime, note: str) -> None:
    filed = delivered(committed)
    response = act(casey, committed, filed, "notes", {"note": note})
    assert response.status_code == 422
    page = text(response)
    assert 'href="#note"' in page
    assert 'id="note-error"' in page
    if note.strip():
        assert note in page
    with committed.sessions() as session:
        assert session.scalars(select(CaseNote)).all() == []


def test_a_stale_version_is_409_and_changes_nothing(casey: FlaskClient, committed: Runtime) -> None:
    filed = delivered(committed)
    version = load(committed, filed).version
    response = act(casey, committed, filed, "resolve", {"outcome": "cancelled"}, version=version - 1)
    assert response.status_code == 409
    assert "Someone changed this case" in text(response)
    assert load(committed, filed).status is CaseStatus.SENT


def test_an_invalid_transition_is_409_with_a_sentence(casey: FlaskClient, committed: Runtime) -> None:
    filed = delivered(committed)
    response = act(casey, committed, filed, "close")
    assert response.status_code == 409
    assert "A case that is sent cannot become closed." in text(response)
    assert load(committed, filed).status is CaseStatus.SENT


def test_resolving_needs_an_outcome_and_keeps_what_was_typed(casey: FlaskClient, committed: Runtime) -> None:
    filed = delivered(committed)
    response = act(casey, committed, filed, "resolve",
                   {"outcome": "", "refund.amount": "12.34", "refund.currency": "AUD"})
    assert response.status_code == 422
    page = text(response)
    assert '<a href="#outcome">Choose the outcome.</a>' in page
    assert 'value="12.34"' in page
    assert load(committed, filed).status is CaseStatus.SENT


def test_resolving_with_a_refund_stores_the_amount(casey: FlaskClient, committed: Runtime,
                                                   staff: dict[str, int]) -> None:
    filed = delivered(committed)
    today = utcnow().date().isoformat()
    refused = act(casey, committed, filed, "resolve", {"outcome": "cancelled", "refund.amount": "20.00",
                                                       "refund.currency": "AUD", "refund.on": today})
    assert refused.status_code == 422
    assert 'href="#refund-amount"' in text(refused)
    response = act(casey, committed, filed, "resolve", {"outcome": "cancelled_partial_refund",
                                                        "refund.amount": "120.50", "refund.currency": "aud",
                                                        "refund.on": today})
    assert response.status_code == 303
    case = load(committed, filed)
    assert (case.status, case.outcome) == (CaseStatus.RESOLVED, Outcome.CANCELLED_PARTIAL_REFUND)
    assert (case.refund_received_amount, case.refund_received_currency) == (decimal.Decimal("120.50"), "AUD")
    assert staff_event(committed, filed, "refund_received", staff["casey"]).data["amount"] == "120.50"
    assert staff_event(committed, filed, "resolved", staff["casey"]).to_status is CaseStatus.RESOLVED
    assert len(emails(committed, filed, "status_resolved")) == 1


def test_close_and_reopen(casey: FlaskClient, committed: Runtime, staff: dict[str, int]) -> None:
    filed = delivered(committed)
    assert act(casey, committed, filed, "resolve", {"outcome": "cancelled"}).status_code == 303
    assert act(casey, committed, filed, "close").status_code == 303
    staff_event(committed, filed, "closed", staff["casey"])
    assert load(committed, filed).status is CaseStatus.CLOSED
    no_reason = act(casey, committed, filed, "reopen", {"reason": " "})
    assert no_reason.status_code == 422
    assert 'href="#reason"' in text(no_reason)
    assert act(casey, committed, filed, "reopen", {"reason": "Charged again on the 3rd."}).status_code == 303
    case = load(committed, filed)
    assert (case.status, case.outcome) == (CaseStatus.SENT, None)
    assert staff_event(committed, filed, "reopened", staff["casey"]).data["reason"] == "Charged again on the 3rd."


def test_an_app_store_case_reopens_to_new_and_a_withdrawn_one_never(casey: FlaskClient,
                                                                    committed: Runtime) -> None:
    app_store = file(committed, billing_channel=BillingChannel.APPLE_APP_STORE)
    assert act(casey, committed, app_store, "resolve", {"outcome": "redirected_app_store"}).status_code == 303
    assert act(casey, committed, app_store, "reopen", {"reason": "Apple kept charging."}).status_code == 303
    assert load(committed, app_store).status is CaseStatus.NEW

    filed = delivered(committed)
    with writing(committed) as session:
        withdraw(session, session.get_one(Case, filed.case_id), Actor.CONSUMER, utcnow())
    response = act(casey, committed, filed, "reopen", {"reason": "Asked to."})
    assert response.status_code == 409
    assert "A withdrawn case cannot be reopened" in text(response)


def test_asking_the_consumer_mails_the_question_and_their_answer_returns_the_case(
        casey: FlaskClient, committed: Runtime, app: Flask, staff: dict[str, int]) -> None:
    filed = delivered(committed)
    question = "Which card was charged: the last four digits, please?"
    assert act(casey, committed, filed, "ask", {"question": question}).status_code == 303
    case = load(committed, filed)
    assert (case.status, case.status_before_needs_info) == (CaseStatus.NEEDS_INFO, CaseStatus.SENT)
    assert staff_event(committed, filed, "info_requested", staff["casey"]).data["question"] == question
    [mail] = emails(committed, filed, "info_request")
    assert mail.recipients == ["jane@example.com"]
    assert question in mail.body_text
    assert "/c/" in mail.body_text
    run_pending_jobs(committed)
    assert any(question in path.read_text(errors="replace") for path in committed.settings.outbox.glob("*.eml"))

    consumer = app.test_client()
    page = text(consumer.get(f"/c/{filed.token}"))
    assert question in page
    answer = consumer.post(f"/c/{filed.token}/info", data={"csrf_token": csrf_token(consumer, f"/c/{filed.token}"),
                                                           "info.text": "Visa ending 4242."})
    assert answer.status_code in (302, 303)
    case = load(committed, filed)
    assert (case.status, case.status_before_needs_info) == (CaseStatus.SENT, None)
    again = act(casey, committed, filed, "ask", {"question": ""})
    assert again.status_code == 422
    assert len(emails(committed, filed, "info_request")) == 1


def test_escalating_records_where_and_can_send_the_final_notice(casey: FlaskClient, committed: Runtime,
                                                                staff: dict[str, int]) -> None:
    unconfirmed = file(committed)
    refused = act(casey, committed, unconfirmed, "escalate",
                  {"escalation.kind": "regulator", "escalation.name": "ACCC"})
    assert refused.status_code == 409
    assert "cannot become escalated" in text(refused)

    filed = delivered(committed)
    bad = act(casey, committed, filed, "escalate", {"escalation.kind": "police", "escalation.name": "ACCC"})
    assert bad.status_code == 422
    assert 'value="ACCC"' in text(bad)
    response = act(casey, committed, filed, "escalate", {"escalation.kind": "regulator", "escalation.name": "ACCC",
                                                         "escalation.reference": "R-77", "final_notice": "1"})
    assert response.status_code == 303
    case = load(committed, filed)
    assert (case.status, case.escalated_to, case.escalated_to_name) == (CaseStatus.ESCALATED, "regulator", "ACCC")
    data = staff_event(committed, filed, "escalated", staff["casey"]).data
    assert (data["kind"], data["name"], data["reference"]) == ("regulator", "ACCC", "R-77")
    assert data["evidence_pack"]["staff"].endswith(f"/staff/cases/{filed.reference}/evidence.pdf")
    with committed.sessions() as session:
        kinds = list(session.scalars(select(Letter.kind).where(Letter.case_id == filed.case_id)))
    assert "final_notice" in kinds
    assert "evidence_pack" not in kinds


def test_a_follow_up_now_goes_out_like_the_automatic_one(casey: FlaskClient, committed: Runtime,
                                                         staff: dict[str, int]) -> None:
    filed = delivered(committed)
    assert act(casey, committed, filed, "follow-up").status_code == 303
    staff_event(committed, filed, "follow_up_requested", staff["casey"])
    assert load(committed, filed).follow_ups_sent == 1
    run_pending_jobs(committed)
    case = load(committed, filed)
    assert case.status is CaseStatus.FOLLOW_UP
    assert case.answer_due_on is not None
    letter_mail, follow_up_mail = emails(committed, filed, "letter_to_company")
    assert follow_up_mail.recipients == [ACME["email"]]
    assert follow_up_mail.letter_id != letter_mail.letter_id
    again = act(casey, committed, filed, "follow-up")
    assert again.status_code == 409
    assert "follow-up" in text(again).lower()


def test_a_new_letter_version_only_before_confirmation(casey: FlaskClient, committed: Runtime) -> None:
    filed = file(committed)
    assert len(emails(committed, filed, "confirm_letter")) == 1
    assert act(casey, committed, filed, "letters/regenerate").status_code == 303
    run_pending_jobs(committed)
    with committed.sessions() as session:
        letter = latest_letter(session, filed.case_id)
        assert letter is not None
        assert (letter.version, letter.status) == (2, "rendered")
    assert len(emails(committed, filed, "confirm_letter")) == 2

    sent = delivered(committed)
    response = act(casey, committed, sent, "letters/regenerate")
    assert response.status_code == 409
    assert "confirmed version 1" in text(response)


def test_resending_a_delivered_letter_is_a_new_email(casey: FlaskClient, committed: Runtime) -> None:
    unconfirmed = file(committed)
    assert act(casey, committed, unconfirmed, "letters/resend").status_code == 409

    filed = delivered(committed)
    assert act(casey, committed, filed, "letters/resend").status_code == 303
    assert act(casey, committed, filed, "letters/resend").status_code == 303
    resent = emails(committed, filed, "letter_resent")
    assert [e.idempotency_key.rsplit(":", 1)[1] for e in resent] == ["1", "2"]
    assert resent[0].recipients == [ACME["email"]]
    assert resent[0].cc == ["jane@example.com"]
    [first] = emails(committed, filed, "letter_to_company")
    assert resent[0].message_id != first.message_id
    assert resent[0].attachments == first.attachments


def test_recording_the_companys_answer_with_a_copy(casey: FlaskClient, committed: Runtime,
                                                   staff: dict[str, int]) -> None:
    filed = delivered(committed)
    today = utcnow().date().isoformat()
    page = f"/staff/cases/{filed.reference}"
    form = {"csrf_token": csrf_token(casey, page), "version": str(load(committed, filed).version),
            "response.type": "confirmed_cancellation", "response.received_on": today,
            "response.summary": "They confirmed by e-mail."}
    bad = casey.post(f"{page}/responses", data={**form, "response.file": (io.BytesIO(b"MZ..."),
                                                                          "reply.exe")},
                     content_type="multipart/form-data")
    assert bad.status_code == 422
    assert 'href="#response-file"' in text(bad)
    assert "They confirmed by e-mail." in text(bad)
    good = casey.post(f"{page}/responses", data={**form, "response.file": (io.BytesIO(PDF),
                                                                           "reply.pdf")},
                      content_type="multipart/form-data")
    assert good.status_code == 303
    staff_event(committed, filed, "response_recorded", staff["casey"])
    staff_event(committed, filed, "attachment_added", staff["casey"])
    assert load(committed, filed).answer_due_on is None
    with committed.sessions() as session:
        [stored] = session.scalars(select(CaseAttachment)).all()
    download = casey.get(f"{page}/attachments/{stored.id}")
    assert download.data == PDF
    assert "attachment" in download.headers["Content-Disposition"]


def test_mark_reviewed_clears_the_flag(casey: FlaskClient, committed: Runtime, staff: dict[str, int]) -> None:
    filed = delivered(committed)
    assert act(casey, committed, filed, "reviewed").status_code == 409
    with writing(committed) as session:
        session.add(CaseEvent(case_id=filed.case_id, at=utcnow(), actor=Actor.CONSUMER, action="info_provided",
                              data={}))
    assert load(committed, filed).needs_review
    assert "Mark reviewed" in text(casey.get(f"/staff/cases/{filed.reference}"))
    assert act(casey, committed, filed, "reviewed").status_code == 303
    assert not load(committed, filed).needs_review
    staff_event(committed, filed, "reviewed", staff["casey"])


def test_a_caseworker_cannot_take_someone_elses_case_but_a_supervisor_can_move_it(
        app: Flask, casey: FlaskClient, committed: Runtime, staff: dict[str, int]) -> None:
    filed = delivered(committed)
    assert "Take this case" in text(casey.get(f"/staff/cases/{filed.reference}"))
    assert act(casey, committed, filed, "assign", {"assignee": "me"}).status_code == 303
    assert load(committed, filed).assignee_id == staff["casey"]
    staff_event(committed, filed, "assigned", staff["casey"])
    robin = signed_in(app, "robin")
    assert act(robin, committed, filed, "assign", {"assignee": "me"}).status_code == 403
    assert act(robin, committed, filed, "assign", {"assignee": ""}).status_code == 403
    sam = signed_in(app, "sam")
    assert ">Assign</button>" in text(sam.get(f"/staff/cases/{filed.reference}"))
    assert act(sam, committed, filed, "assign", {"assignee": str(staff["robin"])}).status_code == 303
    assert act(sam, committed, filed, "assign", {"assignee": "nobody"}).status_code == 422
    assert load(committed, filed).assignee_id == staff["robin"]


def test_reads_of_the_page_are_logged(casey: FlaskClient, committed: Runtime, staff: dict[str, int]) -> None:
    filed = delivered(committed)
    casey.get(f"/staff/cases/{filed.reference}")
    page = text(casey.get(f"/staff/cases/{filed.reference}"))
    with committed.sessions() as session:
        reads = list(session.scalars(select(CaseRead).where(CaseRead.case_id == filed.case_id)))
    assert [(r.staff_id, r.via) for r in reads] == [(staff["casey"], "page")] * 2
    viewed = page.split("<h2>Viewed by</h2>", 1)[1]
    assert len(re.findall(r"Casey Worker \(page\)", viewed)) == 2


def test_forms_are_offered_by_status(casey: FlaskClient, committed: Runtime) -> None:
    filed = delivered(committed)
    page = text(casey.get(f"/staff/cases/{filed.reference}"))
    assert 'data-status="sent"' in page
    for button in ("Add note", "Record answer", "Resolve case", "Ask the consumer", "Escalate",
                   "Send follow-up now", "E-mail the letter to the company again"):
        assert button in page
    for button in ("Close case", "Reopen case", "Write a new version"):
        assert button not in page


@pytest.mark.parametrize(("path", "data"), [
    ("resolve", {"outcome": "cancelled_refunded", "refund.amount": "1e9999", "refund.on": "9999-99-99"}),
    ("resolve", {"outcome": "cancelled_refunded", "refund.amount": "5", "refund.currency": "ZZZ",
                 "refund.on": "2999-01-01"}),
    ("resolve", {"outcome": "withdrawn"}),
    ("assign", {"assignee": "9999999999"}),
    ("escalate", {"escalation.kind": "regulator", "escalation.name": "x" * 300}),
    ("responses", {"response.type": "nonsense", "response.received_on": "0001-01-01", "response.summary": ""}),
    ("reopen", {"reason": "r" * 3000}),
])
def test_odd_input_is_a_field_error_never_a_crash(casey: FlaskClient, committed: Runtime, path: str,
                                                  data: dict[str, str]) -> None:
    filed = delivered(committed)
    response = act(casey, committed, filed, path, data)
    assert response.status_code in (409, 422)
    assert 'class="error-summary"' in text(response)
    assert load(committed, filed).status is CaseStatus.SENT


def test_a_retry_of_an_email_id_out_of_range_is_404(casey: FlaskClient, committed: Runtime) -> None:
    filed = delivered(committed)
    assert act(casey, committed, filed, "emails/9999999999/retry").status_code == 404


def opened(page: str) -> list[str]:
    """The side panel's disclosures shown open."""
    return re.findall(r'<details class="case-action" id="action-[a-z_]+" data-panel="([a-z_]+)" open>', page)


def test_staff_pages_have_their_own_layout(casey: FlaskClient, committed: Runtime) -> None:
    filed = delivered(committed)
    for path in ("/staff", f"/staff/cases/{filed.reference}"):
        page = text(casey.get(path))
        assert "Lost the link to your case?" not in page
        assert "We only send letters in your name" not in page
        assert "Times on staff pages are in UTC" in page
        assert '<main id="main" class="width width--wide"' in page
        assert "/static/staff.css" in page
    queue = text(casey.get("/staff"))
    # The wide table scrolls in its own region, which keyboard users can reach and screen readers name.
    assert '<div class="table-scroll" role="region" aria-labelledby="queue-caption" tabindex="0">' in queue
    assert 'id="queue-caption"' in queue
    assert re.search(r'<td class="queue-table__urgency"><time datetime="[0-9-]+">', queue)


def test_the_actions_are_disclosures_the_most_relevant_open(casey: FlaskClient, committed: Runtime) -> None:
    filed = delivered(committed)
    page = text(casey.get(f"/staff/cases/{filed.reference}"))
    panel = re.findall(r'data-panel="([a-z_]+)"', page)
    assert panel == ["answer", "resolve", "follow_up", "final_notice", "escalate", "ask", "letter", "note"]
    assert opened(page) == ["answer"]
    for field in ('name="response.type"', 'id="response-received_on"', 'id="response-file"', 'id="outcome"',
                  'id="refund-on"', 'id="escalation-kind"', 'id="final_notice"', 'id="question"', 'id="note"'):
        assert field in page
    assert page.index('class="case-layout__facts"') < page.index('class="case-layout__side"') < page.index(
        'class="case-layout__history"') < page.index("<h2 id=\"timeline-title\">Timeline</h2>")

    answered = act(casey, committed, filed, "responses", {"response.type": "refused",
                                                          "response.received_on": TODAY_ISO,
                                                          "response.summary": "No refund."})
    assert answered.status_code == 303
    assert opened(text(casey.get(f"/staff/cases/{filed.reference}"))) == ["resolve"]

    refused = act(casey, committed, filed, "notes", {"note": "x" * 5001})
    assert refused.status_code == 422
    assert opened(text(refused)) == ["note"]
    assert "x" * 5001 in text(refused)


def answers(runtime: Runtime, filed: Filed) -> list[str]:
    with runtime.sessions() as session:
        return [r.received_on.isoformat() for r in session.scalars(
            select(CompanyResponse).where(CompanyResponse.case_id == filed.case_id).order_by(CompanyResponse.id))]


def company_answer(received_on: str) -> dict[str, str]:
    return {"response.type": "refused", "response.received_on": received_on, "response.summary": "No refund."}


@pytest.mark.parametrize(("received_on", "message"), [
    (iso_days_ahead(2), "The date the company answered must be today or in the past"),
    (iso_days_ago(400), "The date the company answered must be no more than a year before the case was filed"),
])
def test_an_answer_dated_in_the_future_or_long_before_the_case_is_refused(
        casey: FlaskClient, committed: Runtime, received_on: str, message: str) -> None:
    filed = delivered(committed)
    before = load(committed, filed)
    response = act(casey, committed, filed, "responses", company_answer(received_on))
    page = text(response)
    assert response.status_code == 422
    assert f'<a href="#response-received_on">{message}</a>' in page
    assert 'id="response-received_on-error"' in page
    assert f'value="{received_on}"' in page
    assert "No refund." in page
    assert opened(page) == ["answer"]
    assert answers(committed, filed) == []
    assert events(committed, filed, "response_recorded") == []
    after = load(committed, filed)
    assert (after.version, after.answer_due_on) == (before.version, before.answer_due_on)


def test_a_caseworkers_date_may_be_today_anywhere_but_no_later(app: Flask, staff: dict[str, int],
                                                                committed: Runtime) -> None:
    """Just after midnight UTC, tomorrow is not yet today anywhere; by late evening UTC it is already today in
    Sydney or Auckland, where a caseworker may be reading the company's e-mail. (Signed in at each hour: a staff
    session ends after its idle time, and the clock jumps by hours here.)"""
    filed = delivered(committed)
    tomorrow = iso_days_ahead(1)
    with clock_at(dt.datetime.combine(TODAY, dt.time(0, 30), tzinfo=dt.UTC)):
        early = act(signed_in(app, "casey"), committed, filed, "responses", company_answer(tomorrow))
    assert early.status_code == 422
    assert "The date the company answered must be today or in the past" in text(early)
    with clock_at(dt.datetime.combine(TODAY, dt.time(23, 30), tzinfo=dt.UTC)):
        late = act(signed_in(app, "casey"), committed, filed, "responses", company_answer(tomorrow))
    assert late.status_code == 303
    assert answers(committed, filed) == [tomorrow]


def test_a_refund_dated_in_the_future_is_refused(casey: FlaskClient, committed: Runtime) -> None:
    filed = delivered(committed)
    typed = {"outcome": "cancelled_refunded", "refund.amount": "599.00", "refund.currency": "AUD",
             "refund.on": iso_days_ahead(2)}
    response = act(casey, committed, filed, "resolve", typed)
    page = text(response)
    assert response.status_code == 422
    assert '<a href="#refund-on">The date the refund was received must be today or in the past</a>' in page
    assert f'value="{iso_days_ahead(2)}"' in page
    assert 'value="599.00"' in page
    assert opened(page) == ["resolve"]
    case = load(committed, filed)
    assert (case.status, case.refund_received_amount) == (CaseStatus.SENT, None)
    assert events(committed, filed, "refund_received") == []
    assert act(casey, committed, filed, "resolve", {**typed, "refund.on": TODAY_ISO}).status_code == 303


def test_a_delivery_in_the_future_or_before_the_filing_is_refused(casey: FlaskClient, committed: Runtime) -> None:
    filed = file(committed)  # Coursera takes the letter by its web form
    now = utcnow()
    with writing(committed) as session:
        case = session.get_one(Case, filed.case_id)
        case.confirmed_at = case.email_confirmed_at = now
        transition(session, case, CaseStatus.READY, Actor.CONSUMER, "confirmed", now)
    assert opened(text(casey.get(f"/staff/cases/{filed.reference}"))) == ["record_delivery"]
    later = (now + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    earlier = (load(committed, filed).created_at - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    for typed, message in ((later, "The time of delivery must be now or in the past"),
                           (earlier, "The time of delivery must be after the case was filed")):
        response = act(casey, committed, filed, "delivery", {"channel": "post", "at": typed,
                                                             "confirmation": "RR1"})
        page = text(response)
        assert response.status_code == 422
        assert f'<a href="#staff-at">{message}</a>' in page
        assert f'id="staff-at" name="at" class="input" value="{typed}" aria-invalid="true"' in page
        assert 'value="RR1"' in page
        assert re.search(r'name="channel" value="post" checked', page)
        assert opened(page) == ["record_delivery"]
    assert load(committed, filed).status is CaseStatus.READY
    with committed.sessions() as session:
        assert session.scalars(select(Delivery)).all() == []
