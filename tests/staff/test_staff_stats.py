"""Supervisors' figures: exact numbers on the page and in every CSV, access rules, escaping, a fixed query count."""

from __future__ import annotations

import csv
import datetime as dt
import io
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from casework.cases.filing import file_case
from casework.cases.models import Case, Delivery
from casework.cases.states import Actor, BillingChannel, CaseStatus, Outcome, RequestedOutcome
from casework.db import is_postgresql
from casework.runtime import Runtime
from casework.staff import stats_views
from casework.staff.accounts import create_staff
from casework.staff.stats import deliveries_per_day
from casework.staff.svg import Bar, Column, bar_chart, column_chart
from casework.web import limiter
from tests.support.factories import case_facts
from tests.support.web import post_form
from tests.support.writes import writing

pytestmark = pytest.mark.http
PASSWORD = "correct horse battery staple"
NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
SCRIPT = "<script>alert(1)</script>"
ACME = '=Acme, "Quoted" Ltd'
SVG = "{http://www.w3.org/2000/svg}"
REFUND, CANCEL = RequestedOutcome.CANCEL_AND_REFUND, RequestedOutcome.CANCEL


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, second, tzinfo=dt.UTC)


@pytest.fixture
def client(app: Flask, committed: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[FlaskClient]:
    limiter.reset()
    monkeypatch.setattr(stats_views, "utcnow", lambda: NOW)
    with writing(committed) as session:
        create_staff(session, "sam@casework.test", "Sam Supervisor", PASSWORD, role="supervisor")
        create_staff(session, "casey@casework.test", "Casey Worker", PASSWORD)
    with app.test_client() as test_client:
        yield test_client


def sign_in(client: FlaskClient, email: str = "sam@casework.test") -> None:
    response = post_form(client, "/staff/login", {"email": email, "password": PASSWORD}, page="/staff/login")
    assert response.status_code == 303


def add_case(session: Session, key: str, *, company: str | None = None, status: CaseStatus = CaseStatus.NEW,
             outcome: Outcome | None = None, requested: RequestedOutcome = REFUND, created: dt.datetime = NOW,
             resolved: dt.datetime | None = None, answer_due: dt.date | None = None,
             escalation_due: dt.datetime | None = None) -> Case:
    """File through the service, then put the case where the figure needs it."""
    where: dict[str, Any] = {"provider": "other", "plan": "other-monthly", "company": {"name": company}} \
        if company else {}
    facts = case_facts(billing_channel=BillingChannel.APPLE_APP_STORE, requested_outcome=requested, **where)
    filed = file_case(session, facts, key, now=created)
    case = session.get(Case, filed.case_id)
    assert case is not None
    case.status, case.outcome, case.resolved_at = status, outcome, resolved
    case.answer_due_on, case.escalation_due_at = answer_due, escalation_due
    session.flush()
    return case


def deliver(session: Session, case: Case, channel: str, when: dt.datetime) -> None:
    session.add(Delivery(case_id=case.id, channel=channel, address="cancel@example.com", at=when, by=Actor.SYSTEM))


def seed(runtime: Runtime) -> None:
    key = runtime.settings.secret_key
    s, r = CaseStatus, Outcome
    with writing(runtime) as session:
        a = add_case(session, key, status=s.RESOLVED, outcome=r.CANCELLED_REFUNDED, created=at(21), resolved=at(23))
        add_case(session, key, status=s.RESOLVED, outcome=r.CANCELLED_PARTIAL_REFUND, created=at(21),
                 resolved=at(25))
        add_case(session, key, status=s.CLOSED, outcome=r.REFUND_DENIED, created=at(20), resolved=at(21))
        add_case(session, key, status=s.RESOLVED, outcome=r.CANCELLED, requested=CANCEL, created=at(22),
                 resolved=at(27))
        add_case(session, key, status=s.SENT, answer_due=dt.date(2026, 11, 26))
        add_case(session, key, status=s.SENT, answer_due=dt.date(2026, 11, 27))  # due today: not late yet
        add_case(session, key, status=s.FOLLOW_UP, escalation_due=at(26))
        add_case(session, key)
        add_case(session, key, company=SCRIPT, status=s.RESOLVED, outcome=r.REFUSED, created=at(21),
                 resolved=at(24, 12))
        add_case(session, key, company=SCRIPT, status=s.SENT, answer_due=dt.date(2026, 11, 20),
                 escalation_due=at(25))
        add_case(session, key, company=ACME, status=s.CLOSED, outcome=r.WITHDRAWN, requested=CANCEL)
        deliver(session, a, "email", at(27, 1))
        deliver(session, a, "post", at(27, 2))
        deliver(session, a, "web_form", at(25, 23, 59, 59))
        deliver(session, a, "email", at(21))
        deliver(session, a, "email", at(20, 23, 59, 59))  # the day before a 7-day window


class Tables(HTMLParser):
    """Every table's rows as lists of cell texts, keyed by the table's caption."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._caption: str | None = None
        self._rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self._in_caption = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._caption, self._rows = "", []
        elif tag == "caption":
            self._in_caption = True
        elif tag == "tr":
            self._rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption":
            self._in_caption = False
        elif tag in ("td", "th") and self._cell is not None:
            self._rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table" and self._caption is not None:
            self.tables[self._caption] = self._rows

    def handle_data(self, data: str) -> None:
        if self._in_caption:
            self._caption = (self._caption or "") + data
        elif self._cell is not None:
            self._cell.append(data)


def tables_of(page: str) -> dict[str, list[list[str]]]:
    parser = Tables()
    parser.feed(page)
    return parser.tables


def download(client: FlaskClient, url: str) -> list[list[str]]:
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"), newline="")))


def test_the_page_shows_the_exact_figures(client: FlaskClient, committed: Runtime) -> None:
    seed(committed)
    sign_in(client)
    response = client.get("/staff/stats?days=7")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "As of <time datetime=\"2026-11-27T12:00:00+00:00\">2026-11-27 12:00:00 UTC</time>" in page
    tables = tables_of(page)
    assert tables["Cases by status"] == [
        ["Status", "Cases"], ["New (not confirmed)", "1"], ["Needs information", "0"], ["Ready to deliver", "0"],
        ["Sent", "3"], ["Followed up", "1"], ["Escalated", "0"], ["Resolved", "4"], ["Closed", "2"],
        ["All cases", "11"]]
    outcomes = tables["Finished cases by company and outcome"]
    assert outcomes[1:] == [["Coursera", "1", "1", "1", "1", "0", "0", "0", "0", "4"],
                            [SCRIPT, "0", "0", "0", "0", "1", "0", "0", "0", "1"],
                            [ACME, "0", "0", "0", "0", "0", "0", "0", "1", "1"],
                            ["All companies", "1", "1", "1", "1", "1", "0", "0", "1", "6"]]
    assert tables["Refund requests by company"][1:] == [
        ["Coursera", "3", "1", "1", "66.7%"], [SCRIPT, "1", "0", "0", "0.0%"], [ACME, "0", "0", "0", "—"],
        ["All companies", "4", "1", "1", "50.0%"]]
    assert tables["Median days to resolution by company"][1:] == [
        ["Coursera", "4", "3.0"], [SCRIPT, "1", "3.5"], ["All companies", "5", "3.5"]]
    days = tables["Deliveries per day (UTC) and channel"]
    assert days[0] == ["Day", "E-mail", "Web form", "Post", "Total"]
    assert days[1:] == [["2026-11-27", "1", "0", "1", "2"], ["2026-11-26", "0", "0", "0", "0"],
                        ["2026-11-25", "0", "1", "0", "1"], ["2026-11-24", "0", "0", "0", "0"],
                        ["2026-11-23", "0", "0", "0", "0"], ["2026-11-22", "0", "0", "0", "0"],
                        ["2026-11-21", "1", "0", "0", "1"], ["All days", "2", "1", "1", "4"]]
    assert tables["Overdue company answers by company"][1:] == [["Coursera", "2", "1", "1"], [SCRIPT, "1", "1", "1"]]
    for figure, number in (("status-total", "11"), ("outcomes-total", "6"), ("refunds-rate", "50.0%"),
                           ("resolution-median", "3.5"), ("deliveries-total", "4"), ("overdue-total", "3")):
        assert f'data-figure="{figure}">{number}<' in page
    assert page.count("How this is counted:") == 6
    assert page.count('<svg class="chart" role="img" aria-labelledby=') == 6


def test_every_csv_has_the_same_numbers(client: FlaskClient, committed: Runtime) -> None:
    seed(committed)
    sign_in(client)
    assert download(client, "/staff/stats/status.csv")[4:6] == [["sent", "Sent", "3"],
                                                                ["follow_up", "Followed up", "1"]]
    outcomes = download(client, "/staff/stats/outcomes.csv")
    assert outcomes[0] == ["company", *[o.value for o in Outcome], "total"]
    assert outcomes[1:] == [["Coursera", "1", "1", "1", "1", "0", "0", "0", "0", "4"],
                            [SCRIPT, "0", "0", "0", "0", "1", "0", "0", "0", "1"],
                            ["'" + ACME, "0", "0", "0", "0", "0", "0", "0", "1", "1"]]
    assert download(client, "/staff/stats/refunds.csv") == [
        ["company", "asked_for_refund", "refunded_in_full", "refunded_in_part", "succeeded", "success_rate_percent"],
        ["Coursera", "3", "1", "1", "2", "66.7"], [SCRIPT, "1", "0", "0", "0", "0.0"],
        ["'" + ACME, "0", "0", "0", "0", ""], ["All companies", "4", "1", "1", "2", "50.0"]]
    assert download(client, "/staff/stats/resolution-time.csv") == [
        ["company", "cases", "median_days"], ["Coursera", "4", "3.0"], [SCRIPT, "1", "3.5"],
        ["All companies", "5", "3.5"]]
    week = download(client, "/staff/stats/deliveries.csv?days=7")
    assert week[0] == ["day_utc", "email", "web_form", "post", "total"]
    assert len(week) == 8
    assert week[1] == ["2026-11-21", "1", "0", "0", "1"]
    assert week[-1] == ["2026-11-27", "1", "0", "1", "2"]
    month = download(client, "/staff/stats/deliveries.csv")
    assert len(month) == 31
    assert ["2026-11-20", "1", "0", "0", "1"] in month
    assert download(client, "/staff/stats/overdue.csv") == [
        ["company", "cases", "answer_overdue", "escalation_due"], ["Coursera", "2", "1", "1"], [SCRIPT, "1", "1", "1"]]


def test_csv_quotes_commas_and_quotes_and_names_the_file(client: FlaskClient, committed: Runtime) -> None:
    seed(committed)
    sign_in(client)
    response = client.get("/staff/stats/outcomes.csv")
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert b"\"'=Acme, \"\"Quoted\"\" Ltd\"," in raw
    assert b"\r\n" in raw
    assert response.headers["Content-Disposition"] == 'attachment; filename="casework-outcomes-2026-11-27.csv"'
    assert client.get("/staff/stats/nothing.csv").status_code == 404


def test_supervisors_only(client: FlaskClient) -> None:
    for url in ("/staff/stats", "/staff/stats/status.csv"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/staff/login" in response.headers["Location"]
    sign_in(client, "casey@casework.test")
    assert client.get("/staff/stats").status_code == 403
    assert client.get("/staff/stats/refunds.csv").status_code == 403


@pytest.mark.parametrize("days", ["abc", "3", "366", "-7", "7.5", "1e2", "٣٠", "9" * 50])
def test_a_bad_window_gives_a_notice_not_an_error(client: FlaskClient, days: str) -> None:
    sign_in(client)
    response = client.get("/staff/stats", query_string={"days": days})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "The window must be a whole number of days from 7 to 365" in page
    assert len(tables_of(page)["Deliveries per day (UTC) and channel"]) == 30 + 2
    assert client.get("/staff/stats/deliveries.csv", query_string={"days": days}).status_code == 200


def test_a_good_window_gives_no_notice(client: FlaskClient) -> None:
    sign_in(client)
    page = client.get("/staff/stats?days=365").get_data(as_text=True)
    assert "The window must be" not in page
    assert len(tables_of(page)["Deliveries per day (UTC) and channel"]) == 365 + 2


def test_an_empty_database_renders(client: FlaskClient) -> None:
    sign_in(client)
    response = client.get("/staff/stats")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'data-figure="refunds-rate">—<' in page
    assert 'data-figure="resolution-median">—<' in page
    assert "No finished cases yet." in page
    assert "No overdue answers." in page
    assert download(client, "/staff/stats/refunds.csv") == [
        ["company", "asked_for_refund", "refunded_in_full", "refunded_in_part", "succeeded", "success_rate_percent"],
        ["All companies", "0", "0", "0", "0", ""]]


def test_company_names_stay_text_on_the_page(client: FlaskClient, committed: Runtime) -> None:
    seed(committed)
    sign_in(client)
    page = client.get("/staff/stats").get_data(as_text=True)
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_svg_escapes_every_text_and_is_well_formed() -> None:
    nasty = '<script>"&\'</script>'
    bars = bar_chart("c1", f"Title {nasty}", f"Desc {nasty}", ["one", nasty],
                     [Bar(nasty, (1.0, 2.0), nasty), Bar("B" * 60, (0.0, 0.0), "0")])
    columns = column_chart("c2", nasty, nasty, [nasty], [Column(dt.date(2026, 11, 27), (3.0,))])
    for svg in (bars, columns):
        assert "<script" not in svg
        root = ET.fromstring(str(svg))  # noqa: S314 - our own output
        assert root.get("role") == "img"
        title_id, desc_id = root.get("aria-labelledby", "").split()
        assert root.find(f"{SVG}title[@id='{title_id}']") is not None
        assert root.find(f"{SVG}desc[@id='{desc_id}']") is not None
        assert any(nasty in (e.text or "") for e in root.iter())
    labels = [e.text for e in ET.fromstring(str(bars)).iter(f"{SVG}text") if e.get("class") == "chart-label"]  # noqa: S314
    assert labels == [nasty, "B" * 27 + "…"]  # a long name is shortened in the chart (the table has it whole)


def test_the_page_runs_a_fixed_number_of_queries(client: FlaskClient, committed: Runtime) -> None:
    sign_in(client)
    key = committed.settings.secret_key

    def queries() -> int:
        statements: list[str] = []

        def count(*args: Any) -> None:
            statements.append(args[2])

        event.listen(committed.engine, "before_cursor_execute", count)
        try:
            assert client.get("/staff/stats").status_code == 200
        finally:
            event.remove(committed.engine, "before_cursor_execute", count)
        return len(statements)

    with writing(committed) as session:
        add_case(session, key, status=CaseStatus.RESOLVED, outcome=Outcome.CANCELLED, created=at(20), resolved=at(21))
    few = queries()
    with writing(committed) as session:
        for i in range(12):
            add_case(session, key, company=f"Company {i}", status=CaseStatus.RESOLVED,
                     outcome=Outcome.CANCELLED_REFUNDED, created=at(20), resolved=at(22))
            add_case(session, key, company=f"Company {i}", status=CaseStatus.SENT, answer_due=dt.date(2026, 11, 1))
    assert queries() == few


def test_delivery_days_are_utc_days_whatever_the_session_time_zone(db_session: Session) -> None:
    if is_postgresql(db_session):
        db_session.execute(text("SET LOCAL TIME ZONE 'Pacific/Auckland'"))
    case = add_case(db_session, "k" * 40)
    deliver(db_session, case, "email", at(26, 23, 59, 59))
    deliver(db_session, case, "post", at(27, 0, 0, 0))
    db_session.flush()
    figure = deliveries_per_day(db_session, dt.date(2026, 11, 27), 7)
    assert [(r.day.isoformat(), r.counts) for r in figure.rows[-2:]] == [("2026-11-26", (1, 0, 0)),
                                                                          ("2026-11-27", (0, 0, 1))]
