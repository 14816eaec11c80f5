"""Every route against every kind of caller: who gets in, who is sent to sign in, who is refused, and that a wrong or
borrowed consumer token is a 404 indistinguishable from a case that does not exist.

Each route has a row saying how to call it for real (the form or body, and the state its case must be in);
a route without a row fails the test, so a new route cannot go unchecked.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from casework.access import RULE_ATTRIBUTE
from casework.cases.confirmation import issue_code
from casework.cases.drafts import DRAFT_SESSION_KEY, save_draft
from casework.cases.models import Case, CaseAttachment, CaseEvent
from casework.cases.references import CROCKFORD
from casework.cases.states import Actor, BillingChannel, CaseStatus
from casework.cases.tokens import issue_token as issue_consumer_token
from casework.db import utcnow
from casework.letters.models import Letter
from casework.mail.models import OutboundEmail
from casework.mail.services import queue_email
from casework.privacy.requests import _issue_code as issue_erasure_code
from casework.reminders.links import unsubscribe_token
from casework.runtime import Runtime
from casework.staff.accounts import hash_password
from casework.staff.actions import ask_consumer
from casework.staff.api_tokens import issue_token as issue_staff_token
from casework.staff.models import StaffUser
from casework.staff.saved_filters import save as save_view
from casework.web import limiter
from tests.conftest import clean_tables
from tests.support.jobs import run_pending_jobs
from tests.support.staff import PASSWORD, case_in_status
from tests.support.today import iso_days_ago
from tests.support.web import CSRF_RE, filing_form
from tests.support.writes import writing

pytestmark = [pytest.mark.http, pytest.mark.storage]

PERSONAS = ("anonymous", "owner", "other_case", "made_up", "caseworker", "supervisor", "staff_token")
MADE_UP = "madeup-" + "Q" * 36
GHOST_REFERENCE = "CW-2026-ZZZZZZZZ"
GHOST_ID = 2_147_483_647
# The consumer API routes a staff API token may use (API.md: staff tokens read every case and record answers).
STAFF_TOKEN_CONSUMER_ROUTES = {("GET", "/api/v1/cases/<reference>"), ("POST", "/api/v1/cases/<reference>/responses"),
                               ("GET", "/api/v1/cases/<reference>/letters/<int(max=2147483647):letter_id>.pdf")}


@dataclasses.dataclass
class Filed:
    """A case as the tests address it; ids the URLs need are filled in where the case has them."""

    reference: str
    id: int
    token: str
    version: int = 0
    letter_id: int = GHOST_ID
    attachment_id: int = GHOST_ID
    verification_code: str = "00000-00000"
    code: str = ""
    email_id: int = GHOST_ID
    email: str = "nobody@example.com"
    erasure_code: str = ""
    duplicate: tuple[str, int] = ("", 0)


@dataclasses.dataclass
class World:
    app: Flask
    runtime: Runtime
    pdf: bytes
    caseworker_id: int
    supervisor_id: int
    staff_token: str
    mine: Filed
    theirs: Filed
    clients: dict[str, FlaskClient]


@dataclasses.dataclass
class Ctx:
    """What a row builds its request from: the case, the token that goes in a page URL, the caller's staff id."""

    w: World
    case: Filed
    token: str
    staff_id: int


@dataclasses.dataclass
class Call:
    path: str
    form: dict[str, Any] | None = None  # a page's form (its CSRF token is added)
    json: Any = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    ok: tuple[int, ...] = (200,)
    prepare: Callable[[FlaskClient], None] | None = None  # e.g. a wizard draft in the caller's session


@dataclasses.dataclass(frozen=True)
class Row:
    build: Callable[[Ctx], Call]
    fresh: dict[str, Any] | None = None  # allowed callers act on a new case made this way (the request changes it)
    own_session: bool = False  # signs in or out: staff callers use a throwaway account of their role


# --- making cases in the state a route needs --------------------------------------------------------------------


def _verification_code() -> str:
    chars = "".join(secrets.choice(CROCKFORD) for _ in range(10))
    return f"{chars[:5]}-{chars[5:]}"


def make_case(runtime: Runtime, pdf: bytes, status: CaseStatus = CaseStatus.READY, *, letter: bool = True,
              letter_sent: bool = False, attachment: bool = False, code: bool = False, failed_email: bool = False,
              duplicate: bool = False, needs_review: bool = False, erasure_code: bool = False,
              assignee_id: int | None = None, asked: bool = False, **facts: Any) -> Filed:
    """A filed case in ``status``; its letter stands rendered (the module's one real PDF) unless ``letter`` is
    false, so no request here waits for a renderer."""
    email = facts.pop("consumer_email", f"c{secrets.token_hex(6)}@example.com")
    reference = case_in_status(runtime, status, needs_review=needs_review, consumer_email=email,
                               assignee_id=assignee_id, **facts)
    other = case_in_status(runtime, status, consumer_email=email, **facts) if duplicate else ""
    now = utcnow()
    with writing(runtime) as session:
        case = session.execute(select(Case).where(Case.reference == reference)).scalar_one()
        filed = Filed(reference, case.id, issue_consumer_token(session, case, runtime.settings.secret_key),
                      email=email)
        if erasure_code:
            _, filed.erasure_code = issue_erasure_code(session, case, runtime.settings.secret_key, now)
        row = session.scalars(select(Letter).where(Letter.case_id == case.id)).first()
        if letter and row is not None:
            row.status, row.pdf, row.pages, row.rendered_at = "rendered", pdf, 1, now
            row.sha256 = f"{secrets.token_hex(32)}"
            row.verification_code = filed.verification_code = _verification_code()
            row.sent_at = now if letter_sent else None
            filed.letter_id = row.id
            if code:
                _, filed.code = issue_code(session, case.id, row.id, email, runtime.settings.secret_key, now)
        if attachment:
            stored = CaseAttachment(case_id=case.id, filename="reply.pdf", content_type="application/pdf",
                                    size=len(pdf), sha256="0" * 64, data=pdf, uploaded_by=Actor.CONSUMER)
            session.add(stored)
            session.flush()
            filed.attachment_id = stored.id
        if failed_email:
            mail = queue_email(session, runtime.settings, key=f"t:{secrets.token_hex(8)}", kind="lost_link",
                               to=[email], template="lost_link", context={"links": []}, now=now, case_id=case.id)
            mail.status = "failed"
            session.flush()
            filed.email_id = mail.id
        if asked:  # a caseworker's question, so the case waits for the consumer's answer
            staff = session.scalars(select(StaffUser).order_by(StaffUser.id)).first()
            assert staff is not None
            ask_consumer(session, runtime.settings, case, staff, "Which e-mail is on the account?", now)
        if other:
            twin = session.execute(select(Case).where(Case.reference == other)).scalar_one()
            filed.duplicate = (other, twin.version)
        session.flush()
        filed.version = case.version
    return filed


# --- every route, called the way its page or program calls it ------------------------------------------------


def _today() -> str:
    return utcnow().date().isoformat()


def _api(path: str, ok: tuple[int, ...] = (200,), json: Any = None, **headers: str) -> Callable[[Ctx], Call]:
    return lambda c: Call(path.format(c=c.case), json=json, headers=headers, ok=ok)


def _staff_post(path: str, **form: str) -> Callable[[Ctx], Call]:
    return lambda c: Call(path.format(c=c.case), form={"version": str(c.case.version), **form}, ok=(303,))


# An evidence pack is served once the worker has stored it; until then a page says it is being prepared.
PACK = (200, 202)


def _page(path: str, ok: tuple[int, ...] = (200,)) -> Callable[[Ctx], Call]:
    return lambda c: Call(path.format(c=c.case, t=c.token), ok=ok)


def _post(path: str, ok: tuple[int, ...] = (303,), **form: str) -> Callable[[Ctx], Call]:
    return lambda c: Call(path.format(c=c.case, t=c.token), form=form, ok=ok)


def _if_match(c: Ctx, json: Any) -> Call:
    return Call("", json=json, headers={"If-Match": f'"{c.case.version}"'})


@functools.cache
def _password_hash() -> str:
    """One slow hash for the module: every account here has the same password."""
    return hash_password(PASSWORD)


def _account(runtime: Runtime, role: str = "caseworker") -> tuple[int, str]:
    """A staff account (id, e-mail) that signs in with PASSWORD."""
    email = f"{role}-{secrets.token_hex(5)}@casework.test"
    with writing(runtime) as session:
        user = StaffUser(email=email, name=role.title(), password_hash=_password_hash(), role=role)
        session.add(user)
        session.flush()
        return user.id, email


def _new_staff_token(c: Ctx) -> Call:
    with writing(c.w.runtime) as session:
        _, row = issue_staff_token(session, session.get_one(StaffUser, c.w.caseworker_id), "script",
                                   c.w.runtime.settings.secret_key, utcnow())
    return Call(f"/staff/tokens/{row.id}/revoke", form={}, ok=(303,))


def _new_view(c: Ctx) -> Call:
    with writing(c.w.runtime) as session:
        view, _ = save_view(session, c.staff_id or c.w.caseworker_id, f"view {secrets.token_hex(4)}", "status=new")
    return Call(f"/staff/views/{view.id}/delete", form={}, ok=(303,))


def _new_colleague(action: str, ok: tuple[int, ...] = (303,)) -> Callable[[Ctx], Call]:
    def build(c: Ctx) -> Call:
        return Call(f"/staff/users/{_account(c.w.runtime)[0]}/{action}", form={}, ok=ok)
    return build


def _login(c: Ctx) -> Call:
    _, email = _account(c.w.runtime)
    return Call("/staff/login", form={"email": email, "password": PASSWORD}, ok=(303,))


def _wizard_answers(runtime: Runtime, client: FlaskClient) -> None:
    answers = {**filing_form(), "provider": "coursera", "plan": "coursera-plus-annual", "billing_channel": "direct"}
    with writing(runtime) as db_session:
        key = save_draft(db_session, None, answers, utcnow())
    with client.session_transaction() as session:
        session[DRAFT_SESSION_KEY] = key


def _wizard_preview(c: Ctx) -> Call:
    return Call("/start/preview.pdf", prepare=functools.partial(_wizard_answers, c.w.runtime))


ASSESSMENT = {"provider": "coursera", "plan": "coursera-plus-annual", "billing_channel": "direct", "country": "AU",
              "payment_date": iso_days_ago(7), "requested_outcome": "cancel_and_refund"}
FILING = {**ASSESSMENT, "consumer": {"name": "Jane Q. Consumer", "email": "jane@example.com"},
          "consent": {"send_in_my_name": True}}
ANSWER = {"type": "refused", "received_on": None, "summary": "They said no."}
SENT = {"status": CaseStatus.SENT}
NEW = {"status": CaseStatus.NEW}
READY = {"status": CaseStatus.READY}
APP_STORE = {"status": CaseStatus.NEW, "letter": False, "billing_channel": BillingChannel.APPLE_APP_STORE}
RESOLVED = {"status": CaseStatus.RESOLVED}

ROWS: dict[tuple[str, str], Row] = {
    # open to everyone
    ("GET", "/"): Row(_page("/")),
    ("POST", "/"): Row(lambda c: Call("/", form=filing_form(), ok=(303,))),
    ("GET", "/api/openapi.json"): Row(_api("/api/openapi.json")),
    ("POST", "/api/v1/assessments"): Row(_api("/api/v1/assessments", json=ASSESSMENT)),
    ("POST", "/api/v1/cases"): Row(_api("/api/v1/cases", ok=(201,), json=FILING)),
    ("GET", "/api/v1/providers"): Row(_api("/api/v1/providers")),
    ("GET", "/api/v1/providers/<slug>"): Row(_api("/api/v1/providers/coursera")),
    ("GET", "/favicon.ico"): Row(_page("/favicon.ico")),
    ("GET", "/healthz"): Row(_api("/healthz")),
    ("GET", "/lost-link"): Row(_page("/lost-link")),
    ("POST", "/lost-link"): Row(lambda c: Call("/lost-link", form={"email": "nobody@example.com"})),
    ("GET", "/reminders/unsubscribe/<token>"): Row(
        lambda c: Call(f"/reminders/unsubscribe/{unsubscribe_token(c.w.runtime.settings.secret_key, c.case.id)}")),
    ("POST", "/reminders/unsubscribe/<token>"): Row(
        lambda c: Call(f"/reminders/unsubscribe/{unsubscribe_token(c.w.runtime.settings.secret_key, c.case.id)}",
                       form={}), fresh=READY),
    ("GET", "/staff/login"): Row(_page("/staff/login")),
    ("POST", "/staff/login"): Row(_login, own_session=True),
    ("GET", "/start"): Row(_page("/start")),
    ("GET", "/start/<name>"): Row(_page("/start/company")),
    ("POST", "/start/<name>"): Row(_post("/start/company", provider="coursera")),
    ("POST", "/start/check"): Row(_post("/start/check")),
    ("GET", "/start/preview.pdf"): Row(_wizard_preview),
    ("GET", "/verify"): Row(_page("/verify")),
    ("GET", "/verify/<code>"): Row(_page("/verify/{c.verification_code}")),
    # the consumer's pages (the token in the URL)
    ("GET", "/c/<token>"): Row(_page("/c/{t}")),
    ("GET", "/c/<token>/confirm"): Row(_page("/c/{t}/confirm")),
    ("GET", "/c/<token>/progress"): Row(_page("/c/{t}/progress")),
    ("POST", "/c/<token>/confirm"): Row(lambda c: Call(f"/c/{c.token}/confirm", form={"code": c.case.code},
                                                       ok=(303,)), fresh={**NEW, "code": True}),
    ("POST", "/c/<token>/resend"): Row(_post("/c/{t}/resend"), fresh=NEW),
    ("POST", "/c/<token>/delivery"): Row(_post("/c/{t}/delivery", channel="web_form"), fresh=READY),
    ("POST", "/c/<token>/withdraw"): Row(_post("/c/{t}/withdraw", sure="yes"), fresh=READY),
    ("POST", "/c/<token>/sign-out"): Row(_post("/c/{t}/sign-out", ok=(200,)), fresh=READY),
    ("POST", "/c/<token>/cancelled"): Row(_post("/c/{t}/cancelled"), fresh=APP_STORE),
    ("POST", "/c/<token>/answer"): Row(lambda c: Call(f"/c/{c.token}/answer", form={
        "answer.type": "refused", "answer.received_on": _today(), "answer.summary": "They said no."}, ok=(303,)),
        fresh=SENT),
    ("POST", "/c/<token>/refund"): Row(lambda c: Call(f"/c/{c.token}/refund", form={
        "refund.amount": "10.00", "refund.currency": "AUD", "refund.on": _today()}, ok=(303,)), fresh=SENT),
    ("POST", "/c/<token>/info"): Row(_post("/c/{t}/info", **{"info.text": "My account is jane@example.com."}),
                                     fresh={**SENT, "asked": True}),
    ("GET", "/c/<token>/letters/<int(max=2147483647):letter_id>.pdf"): Row(_page("/c/{t}/letters/{c.letter_id}.pdf")),
    ("GET", "/c/<token>/attachments/<int(max=2147483647):attachment_id>"): Row(
        _page("/c/{t}/attachments/{c.attachment_id}")),
    ("GET", "/c/<token>/evidence.pdf"): Row(_page("/c/{t}/evidence.pdf", PACK)),
    ("GET", "/c/<token>/evidence.zip"): Row(_page("/c/{t}/evidence.zip", PACK)),
    ("POST", "/c/<token>/erasure-request"): Row(_post("/c/{t}/erasure-request"), fresh=RESOLVED),
    ("GET", "/c/<token>/erase"): Row(_page("/c/{t}/erase")),
    ("POST", "/c/<token>/erase"): Row(lambda c: Call(f"/c/{c.token}/erase", form={"code": c.case.erasure_code},
                                                     ok=(303,)), fresh={**RESOLVED, "erasure_code": True}),
    ("GET", "/c/<token>/my-data.zip"): Row(_page("/c/{t}/my-data.zip")),
    # the consumer API (Authorization: Bearer <access token>)
    ("GET", "/api/v1/cases/<reference>"): Row(_api("/api/v1/cases/{c.reference}")),
    ("GET", "/api/v1/cases/<reference>/letters/<int(max=2147483647):letter_id>.pdf"): Row(
        _api("/api/v1/cases/{c.reference}/letters/{c.letter_id}.pdf")),
    ("PATCH", "/api/v1/cases/<reference>"): Row(_api("/api/v1/cases/{c.reference}", json={"details": "Annual."}),
                                                fresh=NEW),
    ("POST", "/api/v1/cases/<reference>/confirm"): Row(
        lambda c: Call(f"/api/v1/cases/{c.case.reference}/confirm", json={"code": c.case.code}),
        fresh={**NEW, "code": True}),
    ("POST", "/api/v1/cases/<reference>/resend-confirmation"): Row(
        _api("/api/v1/cases/{c.reference}/resend-confirmation"), fresh=NEW),
    ("POST", "/api/v1/cases/<reference>/delivery"): Row(
        _api("/api/v1/cases/{c.reference}/delivery", json={"channel": "web_form"}), fresh=READY),
    ("POST", "/api/v1/cases/<reference>/responses"): Row(
        lambda c: Call(f"/api/v1/cases/{c.case.reference}/responses", json={**ANSWER, "received_on": _today()}),
        fresh=SENT),
    ("POST", "/api/v1/cases/<reference>/confirm-cancelled"): Row(
        _api("/api/v1/cases/{c.reference}/confirm-cancelled"), fresh=APP_STORE),
    ("POST", "/api/v1/cases/<reference>/withdraw"): Row(_api("/api/v1/cases/{c.reference}/withdraw"), fresh=READY),
    ("POST", "/api/v1/cases/<reference>/erasure-request"): Row(
        _api("/api/v1/cases/{c.reference}/erasure-request"), fresh=RESOLVED),
    ("POST", "/api/v1/cases/<reference>/erasure"): Row(
        lambda c: Call(f"/api/v1/cases/{c.case.reference}/erasure", json={"code": c.case.erasure_code}),
        fresh={**RESOLVED, "erasure_code": True}),
    # the staff API (Authorization: Bearer cwst_…)
    ("GET", "/api/v1/queue"): Row(_api("/api/v1/queue")),
    ("POST", "/api/v1/queue/take-next"): Row(_api("/api/v1/queue/take-next")),
    ("POST", "/api/v1/cases/<reference>/assign"): Row(
        lambda c: dataclasses.replace(_if_match(c, {"assignee": "me"}),
                                      path=f"/api/v1/cases/{c.case.reference}/assign"), fresh=READY),
    ("POST", "/api/v1/cases/<reference>/notes"): Row(
        _api("/api/v1/cases/{c.reference}/notes", json={"body": "Called the company."}), fresh=READY),
    ("POST", "/api/v1/cases/<reference>/status"): Row(
        lambda c: dataclasses.replace(_if_match(c, {"status": "resolved", "outcome": "cancelled"}),
                                      path=f"/api/v1/cases/{c.case.reference}/status"), fresh=SENT),
    # staff pages
    ("GET", "/staff"): Row(_page("/staff")),
    ("GET", "/staff/catalog"): Row(_page("/staff/catalog")),
    ("GET", "/staff/tokens"): Row(_page("/staff/tokens")),
    ("POST", "/staff/tokens"): Row(lambda c: Call("/staff/tokens", form={"name": "script", "password": PASSWORD},
                                                  ok=(201,))),
    ("POST", "/staff/tokens/<token_id>/revoke"): Row(_new_staff_token),
    ("POST", "/staff/take-next"): Row(lambda c: Call("/staff/take-next", form={}, ok=(303,))),
    ("POST", "/staff/bulk"): Row(lambda c: Call("/staff/bulk", form={
        "case": f"{c.case.reference}:{c.case.version}", "action": "assign", "assignee": "me"}, ok=(303,)),
        fresh=READY),
    ("POST", "/staff/views"): Row(lambda c: Call("/staff/views", form={
        "view_name": f"v{secrets.token_hex(3)}", "return": "status=new"}, ok=(303,))),
    ("POST", "/staff/views/<int(max=2147483647):view_id>/delete"): Row(_new_view),
    ("POST", "/staff/logout"): Row(lambda c: Call("/staff/logout", form={}, ok=(303,)), own_session=True),
    ("GET", "/staff/password"): Row(_page("/staff/password")),
    ("POST", "/staff/password"): Row(lambda c: Call("/staff/password", form={
        "current_password": PASSWORD, "new_password": "another long password", "confirm_password":
        "another long password"}, ok=(303,)), own_session=True),
    ("GET", "/staff/cases/<reference>"): Row(_page("/staff/cases/{c.reference}")),
    ("GET", "/staff/cases/<reference>/attachments/<int(max=2147483647):attachment_id>"): Row(
        _page("/staff/cases/{c.reference}/attachments/{c.attachment_id}")),
    ("GET", "/staff/cases/<reference>/evidence.pdf"): Row(_page("/staff/cases/{c.reference}/evidence.pdf", PACK)),
    ("GET", "/staff/cases/<reference>/evidence.zip"): Row(_page("/staff/cases/{c.reference}/evidence.zip", PACK)),
    ("POST", "/staff/cases/<reference>/approve-delivery"): Row(
        _staff_post("/staff/cases/{c.reference}/approve-delivery"), fresh=READY),
    ("POST", "/staff/cases/<reference>/ask"): Row(
        _staff_post("/staff/cases/{c.reference}/ask", question="Which e-mail is on the account?"), fresh=SENT),
    ("POST", "/staff/cases/<reference>/assign"): Row(
        _staff_post("/staff/cases/{c.reference}/assign", assignee="me"), fresh=READY),
    ("POST", "/staff/cases/<reference>/close"): Row(_staff_post("/staff/cases/{c.reference}/close"), fresh=RESOLVED),
    ("POST", "/staff/cases/<reference>/delivery"): Row(
        _staff_post("/staff/cases/{c.reference}/delivery", channel="web_form"), fresh=READY),
    ("POST", "/staff/cases/<reference>/emails/<email_id>/retry"): Row(
        lambda c: dataclasses.replace(_staff_post("/staff/cases/{c.reference}")(c),
                                      path=f"/staff/cases/{c.case.reference}/emails/{c.case.email_id}/retry"),
        fresh={**SENT, "failed_email": True}),
    ("POST", "/staff/cases/<reference>/escalate"): Row(
        _staff_post("/staff/cases/{c.reference}/escalate", **{"escalation.kind": "regulator",
                                                               "escalation.name": "ACCC"}), fresh=SENT),
    ("POST", "/staff/cases/<reference>/final-notice"): Row(
        _staff_post("/staff/cases/{c.reference}/final-notice"), fresh=SENT),
    ("POST", "/staff/cases/<reference>/follow-up"): Row(_staff_post("/staff/cases/{c.reference}/follow-up"),
                                                        fresh=SENT),
    ("POST", "/staff/cases/<reference>/letters/regenerate"): Row(
        _staff_post("/staff/cases/{c.reference}/letters/regenerate"), fresh=NEW),
    ("POST", "/staff/cases/<reference>/letters/resend"): Row(
        _staff_post("/staff/cases/{c.reference}/letters/resend"),
        fresh={**SENT, "letter_sent": True, "provider": "other", "plan": "other-annual",
               "company": {"name": "Acme Streaming", "email": "cancel@acme.example"}}),
    ("POST", "/staff/cases/<reference>/merge"): Row(
        lambda c: Call(f"/staff/cases/{c.case.reference}/merge", form={
            "version": str(c.case.version), "absorb": c.case.duplicate[0],
            "absorb_version": str(c.case.duplicate[1])}, ok=(303,)), fresh={**READY, "duplicate": True}),
    ("POST", "/staff/cases/<reference>/notes"): Row(
        _staff_post("/staff/cases/{c.reference}/notes", note="Called the company."), fresh=READY),
    ("POST", "/staff/cases/<reference>/reopen"): Row(
        _staff_post("/staff/cases/{c.reference}/reopen", reason="Charged again."), fresh=RESOLVED),
    ("POST", "/staff/cases/<reference>/resolve"): Row(
        _staff_post("/staff/cases/{c.reference}/resolve", outcome="cancelled"), fresh=SENT),
    ("POST", "/staff/cases/<reference>/responses"): Row(
        lambda c: _staff_post("/staff/cases/{c.reference}/responses", **{
            "response.type": "refused", "response.received_on": _today(), "response.summary": "No."})(c),
        fresh=SENT),
    ("POST", "/staff/cases/<reference>/reviewed"): Row(
        _staff_post("/staff/cases/{c.reference}/reviewed"), fresh={**READY, "needs_review": True}),
    # supervisors only
    ("GET", "/staff/stats"): Row(_page("/staff/stats")),
    ("GET", "/staff/stats/<figure>.csv"): Row(_page("/staff/stats/status.csv")),
    ("GET", "/staff/personal-data"): Row(_page("/staff/personal-data")),
    ("POST", "/staff/personal-data/export"): Row(lambda c: Call("/staff/personal-data/export",
                                                                form={"email": c.case.email})),
    ("GET", "/staff/users"): Row(_page("/staff/users")),
    ("POST", "/staff/users"): Row(lambda c: Call("/staff/users", form={
        "email": f"n{secrets.token_hex(5)}@casework.test", "name": "New Colleague", "role": "caseworker"}, ok=(201,))),
    ("POST", "/staff/users/<user_id>/disable"): Row(_new_colleague("disable")),
    ("POST", "/staff/users/<user_id>/enable"): Row(_new_colleague("enable")),
    ("POST", "/staff/users/<user_id>/reset-password"): Row(_new_colleague("reset-password", ok=(200,))),
}


# --- the callers ------------------------------------------------------------------------------------------------


def _signed_in(app: Flask, email: str) -> FlaskClient:
    limiter.reset()
    client = app.test_client()
    page = client.get("/staff/login").get_data(as_text=True)
    match = CSRF_RE.search(page)
    assert match is not None
    response = client.post("/staff/login", data={"email": email, "password": PASSWORD,
                                                  "csrf_token": match.group(1)})
    assert response.status_code == 303, response.status_code
    return client


@pytest.fixture(scope="module")
def world(app: Flask, runtime: Runtime) -> Iterator[World]:
    clean_tables(runtime)
    # One real letter, rendered once; every other case's letter stands rendered with its bytes.
    seed = case_in_status(runtime, CaseStatus.NEW)
    run_pending_jobs(runtime)
    with runtime.sessions() as session:
        pdf = session.scalars(select(Letter.pdf).join(Case).where(Case.reference == seed)).one()
    assert pdf is not None
    assert pdf.startswith(b"%PDF")
    caseworker_id, caseworker_email = _account(runtime, "caseworker")
    supervisor_id, supervisor_email = _account(runtime, "supervisor")
    with writing(runtime) as session:
        staff_token, _ = issue_staff_token(session, session.get_one(StaffUser, caseworker_id), "matrix",
                                           runtime.settings.secret_key, utcnow())
    # Assigned, so that "take the next case" never takes them.
    mine = make_case(runtime, pdf, CaseStatus.SENT, attachment=True, assignee_id=supervisor_id)
    theirs = make_case(runtime, pdf, CaseStatus.SENT, attachment=True, assignee_id=supervisor_id)
    clients = {"caseworker": _signed_in(app, caseworker_email), "supervisor": _signed_in(app, supervisor_email)}
    yield World(app, runtime, pdf, caseworker_id, supervisor_id, staff_token, mine, theirs, clients)
    clean_tables(runtime)


def _routes(app: Flask) -> list[tuple[str, str, str]]:
    """(method, rule, audience) for every route but static files."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        audience = getattr(app.view_functions[rule.endpoint], RULE_ATTRIBUTE)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, rule.rule, audience))
    return found


def _client(w: World, persona: str, row: Row, staff_id: int) -> FlaskClient:
    if persona in ("caseworker", "supervisor"):
        if row.own_session:
            _, email = _account(w.runtime, persona)
            return _signed_in(w.app, email)
        return w.clients[persona]
    return w.app.test_client()


def _bearer(w: World, persona: str, case: Filed) -> dict[str, str]:
    token = {"owner": case.token, "other_case": w.mine.token, "made_up": MADE_UP,
             "staff_token": w.staff_token}.get(persona)
    return {"Authorization": f"Bearer {token}"} if token else {}


def _send(client: FlaskClient, method: str, call: Call, bearer: dict[str, str]) -> TestResponse:
    limiter.reset()
    with client.session_transaction() as session:
        session.pop("_flashes", None)  # a message left by an earlier action is not part of this answer
    if call.prepare is not None:
        call.prepare(client)
    headers = {**bearer, **call.headers}
    if call.form is not None:
        match = CSRF_RE.search(client.get("/staff/login").get_data(as_text=True))
        assert match is not None
        return client.open(call.path, method=method, data={"csrf_token": match.group(1), **call.form},
                           headers=headers)
    if call.json is not None:
        return client.open(call.path, method=method, json=call.json, headers=headers)
    return client.open(call.path, method=method, headers=headers)


def _staff_id(w: World, persona: str) -> int:
    return {"caseworker": w.caseworker_id, "supervisor": w.supervisor_id}.get(persona, 0)


def _allowed(audience: str, persona: str, method: str, rule: str) -> bool:
    if audience == "anonymous":
        return True
    if audience == "consumer":
        return persona == "owner" or (persona == "staff_token" and (method, rule) in STAFF_TOKEN_CONSUMER_ROUTES)
    if audience == "staff":
        return persona in ("caseworker", "supervisor")
    if audience == "supervisor":
        return persona == "supervisor"
    return persona == audience == "staff_token"


def _page_token(w: World, persona: str, case: Filed) -> str:
    """The token a caller puts in a consumer page's URL: their own, another case's, or one that is no token."""
    return {"owner": case.token, "other_case": w.mine.token, "staff_token": w.staff_token}.get(persona, MADE_UP)


def _is_login_redirect(response: TestResponse) -> bool:
    """The guard's answer to a caller who is not signed in: to the sign-in page, remembering where they were."""
    return response.status_code in (302, 303) and "/staff/login?next=" in response.headers.get("Location", "")


def test_every_route_has_a_row(app: Flask) -> None:
    routes = {(method, rule) for method, rule, _ in _routes(app)}
    assert sorted(routes - set(ROWS)) == [], "routes without a row in the access matrix"
    assert sorted(set(ROWS) - routes) == [], "rows for routes that no longer exist"


def test_access_matrix(world: World) -> None:
    w = world
    w.clients["caseworker"].get("/staff")  # the shared sessions are alive before the walk
    before = _snapshot(w.runtime, w.theirs)
    failures: list[str] = []
    for method, rule, audience in _routes(w.app):
        row = ROWS.get((method, rule))
        if row is None:
            continue
        for persona in PERSONAS:
            allowed = _allowed(audience, persona, method, rule)
            if audience == "consumer" and persona == "other_case" and rule.startswith("/c/") and not (
                    "letter_id" in rule or "attachment_id" in rule):
                continue  # the URL names only the token: another case's token opens that other case, by design
            failures.extend(_check(w, method, rule, audience, persona, row, allowed))
    assert failures == [], "\n".join(failures)
    assert _snapshot(w.runtime, w.theirs) == before, "a refused request changed the case"


def _snapshot(runtime: Runtime, case: Filed) -> tuple[Any, ...]:
    """What any action on a case leaves a trace in."""
    with runtime.sessions() as session:
        row = session.get_one(Case, case.id)
        events = session.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id))
        mails = session.scalar(select(func.count()).select_from(OutboundEmail).where(OutboundEmail.case_id == case.id))
        return (row.status, row.version, row.assignee_id, row.personal_data_deleted_at, row.reminders_unsubscribed_at,
                events, mails)


def _check(w: World, method: str, rule: str, audience: str, persona: str, row: Row,
           allowed: bool) -> list[str]:
    name = f"{method} {rule} as {persona}"
    staff_id = _staff_id(w, persona)
    if allowed and row.fresh is not None:
        case = make_case(w.runtime, w.pdf, **row.fresh)
    else:
        case = w.mine if persona == "owner" else w.theirs
    fresh_before = _snapshot(w.runtime, case)
    token = _page_token(w, persona, case)
    call = row.build(Ctx(w, case, token, staff_id))
    client = _client(w, persona, row, staff_id)
    api = rule.startswith("/api/")
    bearer = _bearer(w, persona, case) if api or persona == "staff_token" else {}
    response = _send(client, method, call, bearer)
    status = response.status_code
    if allowed:
        if status not in call.ok or _is_login_redirect(response):
            return [f"{name}: expected {call.ok}, got {status} {response.get_data(as_text=True)[:300]!r}"]
        if row.fresh is not None and _snapshot(w.runtime, case) == fresh_before:
            return [f"{name}: answered {status} but changed nothing on the case"]
        return []
    if audience in ("staff", "supervisor"):
        if persona == "caseworker":
            return [] if status == 403 else [f"{name}: expected 403, got {status}"]
        return [] if _is_login_redirect(response) else [f"{name}: expected a redirect to sign in, got {status}"]
    if audience == "staff_token":
        if status != 401 or (response.get_json(silent=True) or {}).get("error") != "unauthorized":
            return [f"{name}: expected 401 unauthorized, got {status}"]
        return []
    # consumer routes: 404, and the same bytes as for a case that does not exist
    if status != 404:
        return [f"{name}: expected 404, got {status}"]
    ghost = Filed(GHOST_REFERENCE, GHOST_ID, MADE_UP + "x")
    ghost_token = w.mine.token if persona == "other_case" else MADE_UP + "x"
    ghost_call = row.build(Ctx(w, ghost, ghost_token, staff_id))
    ghost_response = _send(client, method, ghost_call, bearer)
    if ghost_response.status_code != 404 or _without_csrf(ghost_response) != _without_csrf(response):
        return [f"{name}: the 404 differs from the one for a case that does not exist"]
    return []


def _without_csrf(response: TestResponse) -> bytes:
    return re.sub(rb'name="csrf_token" value="[^"]+"', b"", response.get_data())


def test_made_up_ids_in_staff_urls_are_404_for_staff(world: World) -> None:
    """Signed in, a reference, letter, attachment, e-mail, token, view or account that does not exist is a 404."""
    client = world.clients["supervisor"]
    for path in (f"/staff/cases/{GHOST_REFERENCE}", f"/staff/cases/{world.theirs.reference}/attachments/{GHOST_ID}",
                 f"/staff/cases/{GHOST_REFERENCE}/evidence.pdf"):
        assert client.get(path).status_code == 404, path
    for path in (f"/staff/tokens/{GHOST_ID}/revoke", f"/staff/views/{GHOST_ID}/delete",
                 f"/staff/users/{GHOST_ID}/disable",
                 f"/staff/cases/{world.theirs.reference}/emails/{GHOST_ID}/retry"):
        response = _send(client, "POST", Call(path, form={"version": str(world.theirs.version)}), {})
        assert response.status_code == 404, path
