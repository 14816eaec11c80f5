"""The caseworkers' queue: most urgent first, every filter and the search, counts per status, keyset paging,
garbage in the URL, and "take next" handing out different cases."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from casework.cases.models import Case
from casework.cases.states import CaseStatus
from casework.cases.urgency import NO_DEADLINE
from casework.db import utcnow
from casework.letters.models import Letter
from casework.mail.models import OutboundEmail
from casework.runtime import Runtime
from casework.staff import queue
from casework.staff.accounts import create_staff
from casework.web import limiter
from tests.support.staff import case_in_status
from tests.support.web import post_form
from tests.support.writes import writing

pytestmark = [pytest.mark.http, pytest.mark.dates]
PASSWORD = "correct horse battery staple"
ROW_RE = re.compile(r'<tr data-reference="([^"]+)"')
NEXT_RE = re.compile(r'<a href="([^"]+)" rel="next">')
DAY = dt.timedelta(days=1)
OTHER_COMPANY = {"name": "Acme Streaming", "email": "cancel@acme.example"}


@pytest.fixture
def staff(committed: Runtime) -> dict[str, int]:
    """Two caseworkers: Casey (signed in by ``client``) and Sam."""
    with writing(committed) as session:
        casey = create_staff(session, "casey@casework.test", "Casey Worker", PASSWORD)
        sam = create_staff(session, "sam@casework.test", "Sam Other", PASSWORD)
        return {"casey": casey.id, "sam": sam.id}


@pytest.fixture
def client(app: Flask, staff: dict[str, int]) -> FlaskClient:
    limiter.reset()
    # No ``with``: a kept request context would share ``g`` (and its CSRF token) with a second client.
    test_client = app.test_client()
    sign_in(test_client, "casey@casework.test")
    return test_client


def sign_in(client: FlaskClient, email: str) -> None:
    response = post_form(client, "/staff/login", {"email": email, "password": PASSWORD}, page="/staff/login")
    assert response.status_code == 303


def today() -> dt.date:
    return utcnow().date()


def act_by(days: int, kind: str = "refund_window_end") -> list[dict[str, Any]]:
    """One deadline whose act-by date is ``days`` from today (its own day the next one)."""
    return [{"kind": kind, "date": (today() + (days + 1) * DAY).isoformat(),
             "act_by": (today() + days * DAY).isoformat(), "passed": False, "label": kind}]


def make_case(runtime: Runtime, *, status: CaseStatus = CaseStatus.READY,
              deadlines: list[dict[str, Any]] | None = None, **changes: Any) -> str:
    """A case in ``status`` whose only deadlines are ``deadlines`` (none unless given). The reference."""
    return case_in_status(runtime, status, deadlines=deadlines or [], **changes)


def refs(client: FlaskClient, query: str = "") -> list[str]:
    """The references on the queue page for this query string, in the page's order."""
    response = client.get(f"/staff?{query}")
    assert response.status_code == 200
    return ROW_RE.findall(response.get_data(as_text=True))


def notices(client: FlaskClient, query: str) -> str:
    response = client.get(f"/staff?{query}")
    assert response.status_code == 200
    page = html.unescape(response.get_data(as_text=True))
    found = re.search(r'<div class="notice" role="status">(.*?)</div>', page, re.S)
    return found.group(1) if found else ""


def test_the_queue_needs_a_signed_in_caseworker(app: Flask, committed: Runtime) -> None:
    with app.test_client() as anonymous:
        response = anonymous.get("/staff")
        assert response.status_code == 302
        assert "/staff/login" in response.headers["Location"]
        taken = post_form(anonymous, "/staff/take-next", {}, page="/staff/login")
        assert taken.status_code == 302
        assert "/staff/login" in taken.headers["Location"]


def test_most_urgent_first_and_ties_oldest_first(client: FlaskClient, committed: Runtime) -> None:
    none_1 = make_case(committed, consumer_name="No Deadline One")
    far = make_case(committed, deadlines=act_by(40, "renewal"))
    near_a = make_case(committed, deadlines=act_by(3))
    overdue = make_case(committed, status=CaseStatus.SENT, answer_due_on=today() - 5 * DAY, deadlines=act_by(3))
    near_b = make_case(committed, deadlines=act_by(3))
    none_2 = make_case(committed, consumer_name="No Deadline Two")
    assert refs(client) == [overdue, near_a, near_b, far, none_1, none_2]
    page = client.get("/staff").get_data(as_text=True)
    assert f"company answer overdue since {(today() - 5 * DAY).isoformat()}" in page
    assert f"act by {(today() + 3 * DAY).isoformat()} (refund window end)" in page
    assert f"act by {(today() + 40 * DAY).isoformat()} (renewal)" in page
    assert "no deadline" in page
    assert "unassigned" in page


def test_status_filter_and_open_by_default(client: FlaskClient, committed: Runtime) -> None:
    ready = make_case(committed)
    sent = make_case(committed, status=CaseStatus.SENT, answer_due_on=today() + 10 * DAY)
    new = make_case(committed, status=CaseStatus.NEW)
    resolved = make_case(committed, status=CaseStatus.RESOLVED)
    closed = make_case(committed, status=CaseStatus.CLOSED)
    assert set(refs(client)) == {ready, sent, new}
    assert refs(client, "status=sent") == [sent]
    assert set(refs(client, "status=sent&status=ready")) == {sent, ready}
    assert set(refs(client, "status=resolved&status=closed")) == {resolved, closed}
    page = client.get("/staff?status=sent").get_data(as_text=True)
    assert 'value="sent" checked' in page
    assert 'value="ready" checked' not in page


def test_company_filter(client: FlaskClient, committed: Runtime) -> None:
    coursera = make_case(committed)
    other = make_case(committed, provider="other", plan="other-monthly", company=OTHER_COMPANY)
    assert refs(client, "company=other") == [other]
    assert refs(client, "company=coursera") == [coursera]
    assert "Acme Streaming" in client.get("/staff?company=other").get_data(as_text=True)


def test_assignee_filter(client: FlaskClient, committed: Runtime, staff: dict[str, int]) -> None:
    mine = make_case(committed, assignee_id=staff["casey"])
    sams = make_case(committed, assignee_id=staff["sam"])
    nobodys = make_case(committed)
    assert refs(client, "assignee=mine") == [mine]
    assert refs(client, "assignee=unassigned") == [nobodys]
    assert refs(client, f"assignee={staff['sam']}") == [sams]
    page = client.get("/staff").get_data(as_text=True)
    assert "Sam Other" in page
    assert "Casey Worker" in page


def test_answer_overdue_filter(client: FlaskClient, committed: Runtime) -> None:
    late = make_case(committed, status=CaseStatus.SENT, answer_due_on=today() - 2 * DAY)
    escalation = make_case(committed, status=CaseStatus.FOLLOW_UP, escalation_due_at=utcnow() - DAY)
    make_case(committed, status=CaseStatus.SENT, answer_due_on=today() + 5 * DAY)
    make_case(committed, status=CaseStatus.READY, deadlines=act_by(-1))
    assert set(refs(client, "overdue=1")) == {late, escalation}


def test_within_days_filter(client: FlaskClient, committed: Runtime) -> None:
    soon = make_case(committed, deadlines=act_by(3))
    overdue = make_case(committed, status=CaseStatus.SENT, answer_due_on=today() - 2 * DAY)
    edge = make_case(committed, deadlines=act_by(7))
    make_case(committed, deadlines=act_by(8))
    make_case(committed)
    assert refs(client, "within=7") == [overdue, soon, edge]
    assert refs(client, "within=0") == [overdue]


def test_failed_and_needs_review_filters(client: FlaskClient, committed: Runtime) -> None:
    letter_failed = make_case(committed)
    email_failed = make_case(committed)
    review = make_case(committed, needs_review=True)
    make_case(committed)
    with writing(committed) as session:
        case_id = session.execute(select(Case.id).where(Case.reference == letter_failed)).scalar_one()
        session.execute(update(Letter).where(Letter.case_id == case_id).values(status="failed"))
        other_id = session.execute(select(Case.id).where(Case.reference == email_failed)).scalar_one()
        session.add(OutboundEmail(idempotency_key=f"test:{other_id}", message_id=f"<test.{other_id}@casework.test>",
                                  case_id=other_id, kind="letter_to_company", sender="casework@casework.test",
                                  recipients=["cancel@company.example"], subject="Cancellation", body_text="Hello",
                                  status="failed", last_error="550 no such user"))
    assert set(refs(client, "failed=1")) == {letter_failed, email_failed}
    assert refs(client, "review=1") == [review]
    page = client.get("/staff").get_data(as_text=True)
    row = page[page.index(f'data-reference="{letter_failed}"'):]
    assert "Failed e-mail or letter" in row[:row.index("</tr>")]
    row = page[page.index(f'data-reference="{review}"'):]
    assert "Needs review" in row[:row.index("</tr>")]


def test_search_by_reference_email_and_name(client: FlaskClient, committed: Runtime) -> None:
    percent = make_case(committed, consumer_name="Ann 100% Smith", consumer_email="Ann.Smith@Example.com")
    plain = make_case(committed, consumer_name="Ann 1000 Smith", consumer_email="ann@example.org")
    underscore = make_case(committed, consumer_name="Bo_b Jones", consumer_email="bob@example.net")
    assert refs(client, f"q={plain.lower()}") == [plain]
    assert refs(client, "q=ann.smith%40example.COM") == [percent]
    assert refs(client, "q=%40example.com") == []  # an address is matched whole
    assert set(refs(client, "q=ann")) == {percent, plain}
    assert refs(client, "q=100%25") == [percent]
    assert refs(client, "q=o_b") == [underscore]
    assert set(refs(client, "q=+SMITH++")) == {percent, plain}
    assert set(refs(client, "q=smith")) == {percent, plain}
    assert 'value="100%"' in client.get("/staff?q=100%25").get_data(as_text=True)


def test_counts_per_status_under_the_other_filters(client: FlaskClient, committed: Runtime,
                                                    runtime: Runtime, staff: dict[str, int]) -> None:
    for status in (CaseStatus.READY, CaseStatus.READY, CaseStatus.SENT, CaseStatus.RESOLVED):
        make_case(committed, status=status, answer_due_on=today() + 9 * DAY)
    make_case(committed, status=CaseStatus.SENT, provider="other", plan="other-monthly", company=OTHER_COMPANY)
    with runtime.sessions() as session:
        everything = queue.queue_page(session, queue.QueueFilters(statuses=(CaseStatus.SENT,)),
                                      me=staff["casey"], cursor=None, now=utcnow())
        coursera = queue.queue_page(session, queue.QueueFilters(company="coursera"), me=staff["casey"],
                                    cursor=None, now=utcnow())
    assert len(everything.rows) == 2
    assert everything.counts == {"new": 0, "needs_info": 0, "ready": 2, "sent": 2, "follow_up": 0, "escalated": 0,
                                 "resolved": 1, "closed": 0}
    assert (coursera.counts["ready"], coursera.counts["sent"], coursera.counts["resolved"]) == (2, 1, 1)
    page = client.get("/staff?company=coursera").get_data(as_text=True)
    nav = page[page.index('<nav class="status-counts"'):page.index("</nav>", page.index('class="status-counts"'))]
    assert 'href="/staff?status=sent&amp;company=coursera"' in nav
    sent_link = nav[nav.index('data-status="sent"'):]
    assert '<span class="status-counts__n">1</span>' in sent_link[:sent_link.index("</a>")]


def test_counts_under_a_broad_filter_stop_at_the_cap_and_say_so(client: FlaskClient, committed: Runtime,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A filter matching more cases than the cap counts only the first ones found, and the page and the API
    say the numbers are lower bounds; below the cap they are exact."""
    for _ in range(4):
        make_case(committed, status=CaseStatus.SENT, answer_due_on=today() + 9 * DAY)
    monkeypatch.setattr(queue, "COUNT_CAP", 3)
    with committed.sessions() as session:
        capped = queue.queue_page(session, queue.QueueFilters(company="coursera"), me=0, cursor=None, now=utcnow())
        exact = queue.queue_page(session, queue.QueueFilters(statuses=(CaseStatus.SENT,)), me=0, cursor=None,
                                 now=utcnow())
    assert capped.counts_capped
    assert capped.counts["sent"] == 4  # COUNT_CAP + 1 found, which is all four here
    assert not exact.counts_capped  # no filter but the status: the kept totals, exact
    page = client.get("/staff?company=coursera").get_data(as_text=True)
    assert "counts are of the first 3 found" in page
    assert '<span class="status-counts__n">4+</span>' in page


def test_a_name_search_counts_fewer_cases_than_other_filters(client: FlaskClient, committed: Runtime,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Matching part of a name reads names one by one, so such a search stops counting sooner."""
    for _ in range(3):
        make_case(committed, status=CaseStatus.SENT, consumer_name="Mai Nguyen")
    monkeypatch.setattr(queue, "NAME_SEARCH_COUNT_CAP", 2)
    with committed.sessions() as session:
        by_name = queue.queue_page(session, queue.QueueFilters(search="Nguyen"), me=0, cursor=None, now=utcnow())
        by_company = queue.queue_page(session, queue.QueueFilters(company="coursera"), me=0, cursor=None,
                                      now=utcnow())
    assert (by_name.count_cap, by_name.counts_capped, by_name.counts["sent"]) == (2, True, 3)
    assert len(by_name.rows) == 3  # the page itself is never cut short
    assert (by_company.count_cap, by_company.counts_capped) == (queue.COUNT_CAP, False)
    assert "counts are of the first 2 found" in client.get("/staff?q=Nguyen").get_data(as_text=True)


def test_keyset_pages_give_every_row_once_in_order(client: FlaskClient, committed: Runtime) -> None:
    made = []
    for n in range(123):
        deadlines = act_by(n % 9) if n % 4 else None  # ties on the same day, and a quarter with no deadline
        made.append(make_case(committed, deadlines=deadlines, consumer_name=f"Pager Person {n}"))
    make_case(committed, consumer_name="Someone Else")
    with committed.sessions() as session:
        expected = list(session.scalars(select(Case.reference).where(Case.consumer_name.like("Pager%"))
                                        .order_by(Case.urgency_on, Case.id)))
    seen: list[str] = []
    url = "/staff?q=pager"
    pages = 0
    while url:
        response = client.get(html.unescape(url))
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        rows = ROW_RE.findall(page)
        assert len(rows) <= queue.PAGE_SIZE
        seen.extend(rows)
        found = NEXT_RE.search(page)
        url = found.group(1) if found else ""
        assert not url or "q=pager" in url  # the next page keeps the filters
        pages += 1
    assert pages == 3
    assert seen == expected
    assert len(set(seen)) == len(made)


def test_cursor_round_trip_and_bad_cursors() -> None:
    cursor = queue.encode_cursor(dt.date(2026, 12, 3), 42)
    assert queue.decode_cursor(cursor) == (dt.date(2026, 12, 3), 42)
    assert queue.decode_cursor(queue.encode_cursor(NO_DEADLINE, 7)) == (NO_DEADLINE, 7)
    for bad in ("", "!!!", "x" * 100, "MjAyNi0xMi0wMw", "bm90LWEtZGF0ZS40Mg", "MjAyNi0xMi0wMy4tMQ"):
        assert queue.decode_cursor(bad) is None


def test_garbage_filters_are_ignored_with_a_notice(client: FlaskClient, committed: Runtime) -> None:
    ready = make_case(committed)
    garbage = ("status=xyz&status=ready&company=nope&assignee=abc&overdue=maybe&within=abc&failed=2&review=x"
               f"&q={'a' * 300}&after=garbage")
    shown = notices(client, garbage)
    for text in ("status=xyz", "company=nope", "assignee=abc", "overdue=maybe", "within=abc", "failed=2",
                 "review=x", "longer than 254", "no longer valid"):
        assert text in shown
    assert refs(client, garbage) == [ready]
    assert "within=999" in notices(client, "within=999")
    assert "within=-1" in notices(client, "within=-1")
    assert "assignee=999999" in notices(client, "assignee=999999")
    assert refs(client, "assignee=999999") == [ready]
    assert "characters" in notices(client, "q=a%01b")
    assert refs(client, "q=a%01b") == [ready]
    for query in ("status=", "q=", "after=", "within=" + "9" * 400, "assignee=" + "1" * 40, "company=%01",
                  "after=" + queue.encode_cursor(dt.date(1, 1, 1), 0)):
        assert client.get(f"/staff?{query}").status_code == 200
    assert notices(client, "status=ready&overdue=0&review=") == ""


def test_take_next_gives_two_caseworkers_different_cases(app: Flask, client: FlaskClient,
                                                         committed: Runtime) -> None:
    first = make_case(committed, deadlines=act_by(2))
    second = make_case(committed, deadlines=act_by(5))
    make_case(committed, status=CaseStatus.NEW)  # waits for the consumer: nobody takes it
    other = app.test_client()  # a second browser, signed in as Sam
    sign_in(other, "sam@casework.test")
    taken_a = post_form(client, "/staff/take-next", {}, page="/staff")
    taken_b = post_form(other, "/staff/take-next", {}, page="/staff")
    assert (taken_a.status_code, taken_b.status_code) == (303, 303)
    assert taken_a.headers["Location"].endswith(f"/staff/cases/{first}")
    assert taken_b.headers["Location"].endswith(f"/staff/cases/{second}")
    assert f"Case {first} is yours now." in client.get(taken_a.headers["Location"]).get_data(as_text=True)
    empty = post_form(other, "/staff/take-next", {}, page="/staff")
    assert empty.status_code == 303, empty.get_data(as_text=True)
    assert empty.headers["Location"].endswith("/staff")
    assert "No unassigned case is waiting." in other.get("/staff").get_data(as_text=True)
    assert refs(client, "assignee=mine") == [first]
    page = client.get("/staff?status=ready").get_data(as_text=True)
    assert "Sam Other" in page


def test_the_page_takes_a_constant_number_of_queries(client: FlaskClient, committed: Runtime,
                                                     staff: dict[str, int]) -> None:
    from sqlalchemy import event

    def count_for(query: str) -> int:
        statements: list[str] = []

        def seen(*args: Any) -> None:
            statements.append(str(args[2]))

        event.listen(committed.engine, "before_cursor_execute", seen)
        try:
            assert client.get(f"/staff?{query}").status_code == 200
        finally:
            event.remove(committed.engine, "before_cursor_execute", seen)
        return len(statements)

    make_case(committed, assignee_id=staff["sam"], needs_review=True)
    few = count_for("")
    for n in range(12):
        make_case(committed, assignee_id=staff["casey" if n % 2 else "sam"], needs_review=bool(n % 3),
                  status=CaseStatus.SENT, escalation_due_at=utcnow())
    assert count_for("") == few
    assert count_for(f"assignee={staff['sam']}") == few + 1  # the account is looked up once
