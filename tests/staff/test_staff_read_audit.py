"""A read of a case is logged only when the staff member got there from our own pages (or typed the address): a
link on another site cannot make a caseworker's browser write "viewed by" rows, and opens no data either; it gets a
page asking whether to open the case, whose link is one of ours."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from casework.cases.models import Case, CaseAttachment
from casework.cases.states import Actor, CaseStatus
from casework.runtime import Runtime
from casework.staff.accounts import create_staff
from casework.staff.models import CaseRead
from casework.web import limiter
from tests.support.jobs import run_pending_jobs
from tests.support.staff import PASSWORD, case_in_status
from tests.support.web import post_form
from tests.support.writes import writing

pytestmark = pytest.mark.http
CONSUMER = "Jane Q. Consumer"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def casey(app: Flask, committed: Runtime) -> FlaskClient:
    limiter.reset()
    with writing(committed) as session:
        create_staff(session, "casey@casework.test", "Casey", PASSWORD)
    client = app.test_client()
    assert post_form(client, "/staff/login", {"email": "casey@casework.test", "password": PASSWORD},
                     page="/staff/login").status_code == 303
    return client


def reads(runtime: Runtime) -> list[str]:
    with runtime.sessions() as session:
        return list(session.scalars(select(CaseRead.via).order_by(CaseRead.id)))


def with_attachment(runtime: Runtime, reference: str) -> int:
    with writing(runtime) as session:
        case = session.execute(select(Case).where(Case.reference == reference)).scalar_one()
        row = CaseAttachment(case_id=case.id, filename="reply.pdf", content_type="application/pdf", size=len(PDF),
                             sha256="0" * 64, data=PDF, uploaded_by=Actor.CONSUMER)
        session.add(row)
        session.flush()
        return row.id


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},  # a neighbouring subdomain is not our site
    {"Sec-Fetch-Site": "cross-site", "Referer": "http://localhost/staff"},  # the header wins over a Referer
    {"Referer": "https://elsewhere.example/page"},  # no header: the Referer's origin decides
])
def test_a_link_from_another_site_neither_logs_nor_shows_the_case(casey: FlaskClient, committed: Runtime,
                                                                  headers: dict[str, str]) -> None:
    reference = case_in_status(committed, CaseStatus.SENT)
    attachment = with_attachment(committed, reference)
    for path in (f"/staff/cases/{reference}", f"/staff/cases/{reference}/attachments/{attachment}",
                 f"/staff/cases/{reference}/evidence.pdf", f"/staff/cases/{reference}/evidence.zip"):
        response = casey.get(path, headers=headers)
        assert response.status_code == 200, path
        page = response.get_data(as_text=True)
        assert response.mimetype == "text/html"
        assert CONSUMER not in page
        assert f'href="{path}"' in page  # one of our links, to open it from here
        assert "another site" in page
    assert reads(committed) == []


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "same-origin"},
    {"Sec-Fetch-Site": "none"},  # typed, or a bookmark
    {"Referer": "http://localhost/staff"},  # a browser without the header, from our own page
    {},  # neither: a browser without the header, from the address bar
])
def test_our_own_navigations_log_the_read(casey: FlaskClient, committed: Runtime, headers: dict[str, str]) -> None:
    reference = case_in_status(committed, CaseStatus.SENT)
    attachment = with_attachment(committed, reference)
    page = casey.get(f"/staff/cases/{reference}", headers=headers)
    assert CONSUMER in page.get_data(as_text=True)
    assert casey.get(f"/staff/cases/{reference}/attachments/{attachment}", headers=headers).data == PDF
    run_pending_jobs(committed)  # the case's own e-mails and letter first: the pack shows them
    assert casey.get(f"/staff/cases/{reference}/evidence.pdf", headers=headers).status_code == 202
    run_pending_jobs(committed)  # the worker renders the pack; the download is then served (and logged)
    assert casey.get(f"/staff/cases/{reference}/evidence.pdf", headers=headers).mimetype == "application/pdf"
    assert reads(committed) == ["page", "evidence", "evidence"]


def test_the_question_page_opens_the_case_from_our_own_link(casey: FlaskClient, committed: Runtime) -> None:
    reference = case_in_status(committed, CaseStatus.SENT)
    asked = casey.get(f"/staff/cases/{reference}", headers={"Sec-Fetch-Site": "cross-site"}).get_data(as_text=True)
    link = re.search(r'<a class="button" href="([^"]+)"', asked)
    assert link is not None
    opened = casey.get(link.group(1), headers={"Sec-Fetch-Site": "same-origin",
                                               "Referer": f"http://localhost/staff/cases/{reference}"})
    assert CONSUMER in opened.get_data(as_text=True)
    assert reads(committed) == ["page"]


def test_a_made_up_reference_from_elsewhere_is_still_not_found_once_opened(casey: FlaskClient) -> None:
    assert casey.get("/staff/cases/CW-2026-ZZZZZZZZ", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 404
