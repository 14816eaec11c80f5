"""Consumer links live while they are used and are revoked when they must be: after 90 days unused,
when the case's details are deleted, at confirmation (the links made before it), when the consumer signs out of all
devices and when new links are e-mailed. The API refuses such a token as it refuses an unknown one."""

from __future__ import annotations

import datetime as dt
import email
import re
from collections.abc import Iterator
from email.message import Message

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from werkzeug.test import TestResponse

from casework.cases.filing import file_case
from casework.cases.models import AccessToken, Case, CompanyResponse
from casework.cases.states import BillingChannel, CaseStatus, Outcome
from casework.cases.tokens import status_link
from casework.db import utcnow
from casework.privacy.erasure import erase_case
from casework.runtime import Runtime
from casework.web import limiter
from tests.support.factories import case_facts
from tests.support.jobs import run_pending_jobs
from tests.support.today import NOW, TODAY_ISO, clock_at, days_ahead
from tests.support.web import filing_form, post_form, token_from_location
from tests.support.writes import writing

pytestmark = [pytest.mark.http, pytest.mark.dates]

LINK = re.compile(r"http://casework\.test(/c/[A-Za-z0-9_-]+)")


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


def outbox(runtime: Runtime) -> list[Message]:
    return [email.message_from_bytes(p.read_bytes())
            for p in sorted(runtime.settings.outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)]


def text_of(message: Message) -> str:
    [part] = [p for p in message.walk() if p.get_content_type() == "text/plain"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def words(response: TestResponse) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())


def filed_case(runtime: Runtime, *, status: CaseStatus = CaseStatus.SENT, **facts: object) -> tuple[int, str]:
    """A confirmed case put straight into ``status``; (its id, a link token)."""
    with writing(runtime) as session:
        filed = file_case(session, case_facts(**facts), runtime.settings.secret_key)
        case = session.get_one(Case, filed.case_id)
        case.status = status
        case.outcome = Outcome.CANCELLED if status in (CaseStatus.RESOLVED, CaseStatus.CLOSED) else None
        case.confirmed_at = case.email_confirmed_at = utcnow()
    return filed.case_id, filed.access_token


def reference_of(runtime: Runtime, case_id: int) -> str:
    with runtime.sessions() as session:
        return session.get_one(Case, case_id).reference


def last_used(runtime: Runtime, case_id: int) -> list[dt.datetime]:
    with runtime.sessions() as session:
        return list(session.scalars(select(AccessToken.last_used_at).where(AccessToken.case_id == case_id)))


def live_tokens(runtime: Runtime, case_id: int) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AccessToken).where(
            AccessToken.case_id == case_id, AccessToken.revoked_at.is_(None))) or 0)


def api_get(client: FlaskClient, reference: str, token: str) -> TestResponse:
    return client.get(f"/api/v1/cases/{reference}", headers={"Authorization": f"Bearer {token}"})


def assert_gone(response: TestResponse, heading: str) -> None:
    assert response.status_code == 410, response.status_code
    assert heading in words(response)
    assert 'href="/lost-link"' in response.get_data(as_text=True)  # the way to a new link


def assert_api_not_found(response: TestResponse) -> None:
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def at_day(days: int) -> dt.datetime:
    return NOW + dt.timedelta(days=days)


def test_a_link_unused_for_90_days_expires_and_use_renews_it(client: FlaskClient, committed: Runtime) -> None:
    case_id, token = filed_case(committed)
    _, unused = filed_case(committed, consumer_email="other@example.com")
    reference = reference_of(committed, case_id)
    [made] = last_used(committed, case_id)
    with clock_at(at_day(89)):
        assert client.get(f"/c/{token}").status_code == 200
    [renewed] = last_used(committed, case_id)
    assert renewed - made > dt.timedelta(days=88)
    with clock_at(at_day(89) + dt.timedelta(hours=3)):  # within a day of the last renewal: nothing is written
        assert api_get(client, reference, token).status_code == 200
    assert last_used(committed, case_id) == [renewed]
    with clock_at(at_day(89 + 89)):  # 178 days after filing, 89 after the last use: still working, renewed
        assert api_get(client, reference, token).status_code == 200
    [again] = last_used(committed, case_id)
    assert again - renewed > dt.timedelta(days=88)
    with clock_at(at_day(89 + 89 + 91)):
        assert_gone(client.get(f"/c/{token}"), "This link has expired")
        assert_gone(client.get(f"/c/{token}/confirm"), "This link has expired")
        assert_api_not_found(api_get(client, reference, token))
        assert client.get(f"/c/{token}/progress").status_code == 404
        assert_gone(client.get(f"/c/{unused}"), "This link has expired")
    assert last_used(committed, case_id) == [again]  # an expired link is not brought back by trying it
    with clock_at(at_day(91)):
        assert_gone(client.get(f"/c/{unused}"), "This link has expired")
    assert client.get("/c/not-a-token-at-all").status_code == 404  # an unknown token stays a plain 404


def test_a_page_view_that_cannot_renew_its_link_now_still_answers(client: FlaskClient, committed: Runtime) -> None:
    """Renewing is a write a page view does on the side: while another transaction holds the lock it needs (the
    database's write lock on SQLite, the token's row on PostgreSQL), the page answers and the renewal waits for
    another day."""
    case_id, token = filed_case(committed)
    [made] = last_used(committed, case_id)
    with clock_at(at_day(30)), writing(committed) as session:
        session.execute(update(AccessToken).where(AccessToken.case_id == case_id).values(revoked_at=None))
        assert client.get(f"/c/{token}").status_code == 200
    assert last_used(committed, case_id) == [made]
    with clock_at(at_day(30)):
        assert client.get(f"/c/{token}").status_code == 200
    [renewed] = last_used(committed, case_id)
    assert renewed > made


def test_erasure_revokes_every_link_and_the_api_cannot_reopen_the_case(
    client: FlaskClient, committed: Runtime
) -> None:
    case_id, token = filed_case(committed, status=CaseStatus.RESOLVED)
    reference = reference_of(committed, case_id)
    with writing(committed) as session:
        erase_case(session, session.get_one(Case, case_id), "retention", utcnow())
    assert live_tokens(committed, case_id) == 0
    page = client.get(f"/c/{token}")
    assert page.status_code == 200
    assert "Your details are deleted" in words(page)
    reply = client.post(f"/api/v1/cases/{reference}/responses", headers={"Authorization": f"Bearer {token}"},
                        json={"type": "charged_again", "received_on": TODAY_ISO, "summary": "Charged again."})
    assert_api_not_found(reply)
    assert_api_not_found(api_get(client, reference, token))
    with committed.sessions() as session:
        case = session.get_one(Case, case_id)
        assert case.status is CaseStatus.RESOLVED
        assert session.scalar(select(func.count()).select_from(CompanyResponse)
                              .where(CompanyResponse.case_id == case_id)) == 0


def test_a_token_left_live_on_an_erased_case_opens_nothing(client: FlaskClient, committed: Runtime) -> None:
    """Even if a link were still live, a case whose details are deleted is never written to through it."""
    case_id, token = filed_case(committed, status=CaseStatus.RESOLVED)
    reference = reference_of(committed, case_id)
    with writing(committed) as session:
        erase_case(session, session.get_one(Case, case_id), "retention", utcnow())
        session.execute(update(AccessToken).where(AccessToken.case_id == case_id).values(revoked_at=None))
    reply = client.post(f"/api/v1/cases/{reference}/responses", headers={"Authorization": f"Bearer {token}"},
                        json={"type": "charged_again", "received_on": TODAY_ISO, "summary": "Charged again."})
    assert_api_not_found(reply)
    assert "Your details are deleted" in words(client.get(f"/c/{token}"))
    with committed.sessions() as session:
        assert session.get_one(Case, case_id).status is CaseStatus.RESOLVED


def test_after_confirming_their_own_erasure_the_consumer_sees_the_deleted_page(
    client: FlaskClient, committed: Runtime
) -> None:
    case_id, token = filed_case(committed, status=CaseStatus.RESOLVED)
    asked = post_form(client, f"/c/{token}/erasure-request", {}, page=f"/c/{token}")
    assert asked.status_code == 303
    run_pending_jobs(committed)
    code = re.search(r"Your code is ([0-9A-Z]{4}-[0-9A-Z]{4})", text_of(outbox(committed)[-1]))
    assert code is not None
    done = post_form(client, f"/c/{token}/erase", {"code": code.group(1)}, page=f"/c/{token}/erase")
    assert done.status_code == 303
    page = client.get(done.headers["Location"])
    assert page.status_code == 200
    assert "Your details are deleted" in words(page)
    assert "Your details are deleted" in words(client.get(f"/c/{token}"))
    assert live_tokens(committed, case_id) == 0


def confirmation_email(runtime: Runtime) -> tuple[str, str]:
    """The newest confirmation e-mail's link token and code."""
    text = text_of([m for m in outbox(runtime) if "Your confirmation code is" in text_of(m)][-1])
    link = LINK.search(text)
    code = re.search(r"Your confirmation code is ([0-9A-Z]{4}-[0-9A-Z]{4})", text)
    assert link is not None, text
    assert code is not None, text
    return link.group(1).removeprefix("/c/"), code.group(1)


def test_confirming_revokes_the_links_made_before_and_moves_to_a_fresh_one(
    client: FlaskClient, committed: Runtime
) -> None:
    filed = post_form(client, "/", filing_form())
    typed = token_from_location(filed)  # what whoever typed the address at filing holds
    run_pending_jobs(committed)
    mailed, code = confirmation_email(committed)
    confirmed = post_form(client, f"/c/{mailed}/confirm", {"code": code}, page=f"/c/{mailed}/confirm")
    assert confirmed.status_code == 303
    fresh = token_from_location(confirmed)
    assert fresh not in (typed, mailed)
    page = client.get(f"/c/{fresh}")
    assert page.status_code == 200
    assert "your e-mail address and your letter are confirmed" in words(page)
    assert_gone(client.get(f"/c/{typed}"), "This link no longer works")
    assert_gone(client.get(f"/c/{mailed}"), "This link no longer works")
    with committed.sessions() as session:
        case = session.execute(select(Case)).scalar_one()
    assert_api_not_found(api_get(client, case.reference, typed))
    assert api_get(client, case.reference, fresh).status_code == 200


def test_confirming_an_address_without_a_letter_revokes_the_filing_link(
    client: FlaskClient, committed: Runtime
) -> None:
    with writing(committed) as session:
        filed = file_case(session, case_facts(billing_channel=BillingChannel.APPLE_APP_STORE,
                                              next_renewal_date=days_ahead(20)),
                          committed.settings.secret_key, settings=committed.settings)
    run_pending_jobs(committed)
    text = text_of([m for m in outbox(committed) if "confirmation code" in text_of(m)][-1])
    code = re.search(r"Your confirmation code is ([0-9A-Z]{4}-[0-9A-Z]{4})", text)
    assert code is not None
    token = filed.access_token
    confirmed = post_form(client, f"/c/{token}/confirm", {"code": code.group(1)}, page=f"/c/{token}/confirm")
    assert confirmed.status_code == 303
    fresh = token_from_location(confirmed)
    assert fresh != token
    assert client.get(f"/c/{fresh}").status_code == 200
    assert_gone(client.get(f"/c/{token}"), "This link no longer works")
    with committed.sessions() as session:
        assert session.get_one(Case, filed.case_id).email_confirmed_at is not None


def test_confirming_through_the_api_keeps_the_callers_token_only(client: FlaskClient, committed: Runtime) -> None:
    """The API's answer has no place for a new token: the one that showed the code is kept, the others revoked."""
    body = {"provider": "coursera", "plan": "coursera-plus-annual", "billing_channel": "direct", "country": "AU",
            "payment_date": (NOW.date() - dt.timedelta(days=7)).isoformat(),
            "requested_outcome": "cancel_and_refund", "consent": {"send_in_my_name": True},
            "consumer": {"name": "Jane Q. Consumer", "email": "jane@example.com"}}
    key = {"Idempotency-Key": "links-0001"}
    filed = client.post("/api/v1/cases", json=body, headers=key)
    assert filed.status_code == 201
    reference, token = filed.get_json()["reference"], filed.get_json()["access_token"]
    run_pending_jobs(committed)
    mailed, code = confirmation_email(committed)
    reply = client.post(f"/api/v1/cases/{reference}/confirm", json={"code": code},
                        headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200, reply.get_json()
    assert api_get(client, reference, token).status_code == 200
    assert_api_not_found(api_get(client, reference, mailed))
    assert_gone(client.get(f"/c/{mailed}"), "This link no longer works")
    # Replaying the filing no longer hands out a link to the case: it is the confirmed address's now.
    replay = client.post("/api/v1/cases", json=body, headers=key)
    assert (replay.status_code, replay.get_json()["error"]) == (409, "conflict")


def test_signing_out_of_all_devices_revokes_every_link_and_mails_a_new_one(
    client: FlaskClient, committed: Runtime
) -> None:
    case_id, token = filed_case(committed)
    _, other_device = filed_case(committed, consumer_email="other@example.com")
    with writing(committed) as session:  # a second link to the same case, as an e-mail would carry
        second = status_link(session, committed.settings, session.get_one(Case, case_id))
    second_token = second.rsplit("/", 1)[1]
    page = client.get(f"/c/{token}")
    assert "Sign out of all devices" in words(page)
    done = post_form(client, f"/c/{token}/sign-out", {}, page=f"/c/{token}")
    assert done.status_code == 200
    assert "You are signed out of all devices" in words(done)
    assert "jane@example.com" in words(done)
    assert_gone(client.get(f"/c/{token}"), "This link no longer works")
    assert_gone(client.get(f"/c/{second_token}"), "This link no longer works")
    assert client.get(f"/c/{other_device}").status_code == 200  # another case's links are untouched
    run_pending_jobs(committed)
    [mail] = [m for m in outbox(committed) if m["Subject"] == "Your new casework link"]
    assert mail["To"] == "jane@example.com"
    assert "links to it sent before no longer work" in " ".join(text_of(mail).split())
    found = LINK.search(text_of(mail))
    assert found is not None
    assert client.get(found.group(1)).status_code == 200
    assert live_tokens(committed, case_id) == 1
    # Posting again with the old link changes nothing and sends nothing more.
    again = post_form(client, f"/c/{token}/sign-out", {}, page="/lost-link")
    assert again.status_code == 410
    run_pending_jobs(committed)
    assert len([m for m in outbox(committed) if m["Subject"] == "Your new casework link"]) == 1


def test_signing_out_needs_a_confirmed_address_and_the_form(client: FlaskClient, committed: Runtime) -> None:
    filed = post_form(client, "/", filing_form())
    token = token_from_location(filed)
    page = client.get(f"/c/{token}")
    assert "Sign out of all devices" not in words(page)  # nothing could bring the consumer back in yet
    refused = post_form(client, f"/c/{token}/sign-out", {}, page=f"/c/{token}")
    assert refused.status_code == 303
    assert "Confirm your e-mail address first" in words(client.get(refused.headers["Location"]))
    assert client.get(f"/c/{token}").status_code == 200
    assert client.post(f"/c/{token}/sign-out").status_code == 400  # no CSRF token: refused, nothing revoked
    assert client.get(f"/c/{token}").status_code == 200


def test_the_lost_link_email_revokes_the_older_links_and_says_so(client: FlaskClient, committed: Runtime) -> None:
    case_id, token = filed_case(committed)
    finished_id, finished_token = filed_case(committed, status=CaseStatus.RESOLVED)
    sent = post_form(client, "/lost-link", {"email": "jane@example.com"}, page="/lost-link")
    assert sent.status_code == 200
    assert "stop working" in words(sent)
    run_pending_jobs(committed)
    [mail] = [m for m in outbox(committed) if m["Subject"] == "Your casework links"]
    text = " ".join(text_of(mail).split())
    assert "sent before no longer work" in text
    assert "still work" not in text
    [new_path] = LINK.findall(text_of(mail))
    assert client.get(new_path).status_code == 200
    assert_gone(client.get(f"/c/{token}"), "This link no longer works")
    assert live_tokens(committed, case_id) == 1
    # A finished case gets no new link, so its link keeps working.
    assert client.get(f"/c/{finished_token}").status_code == 200
    assert live_tokens(committed, finished_id) == 1
