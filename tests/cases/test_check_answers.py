"""The wizard's start page, its questions' first view, and check your answers: every answer with a "Change"
that comes straight back, the one urgent date, dates written long, the sources behind a toggle."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from flask import Flask
from flask.testing import FlaskClient

from casework.cases.intake import countries
from casework.runtime import Runtime
from casework.web import limiter
from tests.cases.test_wizard import COURSERA, walk
from tests.support.today import days_ago, days_ahead, long_date

pytestmark = [pytest.mark.http, pytest.mark.dates]

ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")

FULL = {
    **COURSERA,
    "dates": {**COURSERA["dates"], "subscription_start_date": days_ago(200).isoformat(), "certificate_earned": "yes"},
    "details": {**COURSERA["details"], "consumer.postal_address": "12 Example Street\nBrunswick VIC 3056",
                "account_identifier": "jane.learner"},
}
OTHER = {
    "company": {"provider": "other", "company.name": "Acme Streaming", "company.email": "cancel@acme.example",
                "company.postal_address": "1 Acme Way\nSpringfield"},
    "plan": {"plan": "other-monthly", "billing_channel": "direct"},
    **{k: v for k, v in FULL.items() if k not in ("company", "plan")},
}


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


class _Text(HTMLParser):
    """What a reader sees: text outside tags, scripts and styles (attributes such as ``datetime`` left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("script", "style", "title")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style", "title") and self._skip > 0

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def between(page: str, start: str, end: str) -> str:
    return page[page.index(start):page.index(end, page.index(start))]


def test_the_start_page_says_what_you_need_and_starts_the_first_question(client: FlaskClient) -> None:
    response = client.get("/start")
    assert response.status_code == 200
    text = visible_text(response.get_data(as_text=True))
    for needed in ("date of your last payment", "amount you paid", "your account with the company", "5 minutes",
                   "formal cancellation letter in your name", "Nothing is sent until you confirm it",
                   "track the company's answer"):
        assert needed in text, needed
    assert re.search(r'<a href="/start/company"[^>]*class="button button--start"', response.get_data(as_text=True))
    assert "Start now" in text
    assert 'href="/start"' in client.get("/").get_data(as_text=True)  # the single-page form links to it


def test_check_answers_lists_every_answer_with_dates_written_long(client: FlaskClient) -> None:
    walk(client, OTHER)
    page = client.get("/start/check").get_data(as_text=True)
    answers = visible_text(between(page, '<dl class="summary-list">', "</dl>"))
    for given in ("Acme Streaming", "cancel@acme.example", "1 Acme Way", "Who charges you", "The company itself",
                  "Australia", long_date(days_ago(7)), long_date(days_ago(200)), "599.00 AUD",
                  "Cancel, and ask for my last payment back", "Jane Q. Consumer", "jane@example.com",
                  "12 Example Street", "Brunswick VIC 3056", "jane.learner"):
        assert given in answers, given
    assert "Certificate" not in answers  # another company: never asked
    assert not ISO_DATE.search(visible_text(page))

    walk(client, FULL)
    page = client.get("/start/check").get_data(as_text=True)
    answers = visible_text(between(page, '<dl class="summary-list">', "</dl>"))
    assert "Coursera Plus (annual)" in answers
    assert "Certificate since that payment Yes, I have earned one" in answers
    assert "Company contact" not in answers
    assert not ISO_DATE.search(visible_text(page))


@pytest.mark.parametrize("step", ["company", "plan", "dates", "outcome", "details"])
def test_each_change_link_comes_straight_back_to_check(client: FlaskClient, step: str) -> None:
    walk(client, FULL)
    page = client.get("/start/check").get_data(as_text=True)
    link = f"/start/{step}?return=check"
    assert f'href="{link}"' in page
    question = client.get(link).get_data(as_text=True)
    assert f'action="{link}"' in question  # saving it keeps the way back
    assert 'href="/start/check" class="back-link"' in question
    token = re.search(r'name="csrf_token" value="([^"]+)"', question)
    assert token is not None
    response = client.post(link, data={"csrf_token": token.group(1), **FULL[step]})
    assert (response.status_code, response.headers["Location"]) == (303, "/start/check")


def test_a_changed_answer_shows_on_check(client: FlaskClient) -> None:
    walk(client, FULL)
    question = client.get("/start/details?return=check").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', question)
    assert token is not None
    changed = {**FULL["details"], "consumer.postal_address": "3 New Road\nFitzroy VIC 3065"}
    client.post("/start/details?return=check", data={"csrf_token": token.group(1), **changed})
    assert "3 New Road" in client.get("/start/check").get_data(as_text=True)


def test_what_happens_next_highlights_the_day_to_submit_by(client: FlaskClient) -> None:
    walk(client, COURSERA)  # paid 7 days ago: the 14-day window ends in 7 days, the renewal is a year away
    page = client.get("/start/check").get_data(as_text=True)
    after = between(page, "<h2>What happens next</h2>", "<details")
    assert len(re.findall(r"[.!?](\s|<|$)", visible_text(after))) <= 3
    strong = re.findall(r"<strong>(.*?)</strong>", after, re.S)
    # Coursera takes no e-mail: the consumer submits the letter, a day before the window's last day.
    assert [visible_text(s) for s in strong] == [long_date(days_ahead(6))]
    assert f"last day to ask for a refund (14 days from the payment): {long_date(days_ahead(7))}" in visible_text(after)
    assert "you submit the letter through their form yourself" in visible_text(after)
    assert "cancel yourself right away" not in page
    assert not ISO_DATE.search(visible_text(page))


def test_the_reasons_and_sources_are_behind_a_toggle_with_links(client: FlaskClient) -> None:
    walk(client, COURSERA)
    page = client.get("/start/check").get_data(as_text=True)
    details = between(page, "<details", "</details>")
    assert "Why, and our sources" in details
    outside = page.replace(details, "")
    assert "(Ajust guide" in details
    assert "Ajust guide" not in outside
    assert '<a href="https://learner.coursera.help/hc/en-us/requests/new"' in details
    assert 'href="https://www.ajust.com.au/cancellations/coursera"' in details  # what "(Ajust guide)" means
    assert "https://" not in visible_text(outside)


@pytest.mark.parametrize("step", ["company", "dates", "outcome", "details"])
def test_no_radio_is_preselected_on_first_view(client: FlaskClient, step: str) -> None:
    walk(client, {k: v for k, v in COURSERA.items() if list(COURSERA).index(k) < list(COURSERA).index(step)})
    page = client.get(f"/start/{step}").get_data(as_text=True)
    assert not re.search(r"<input[^>]*type=\"(radio|checkbox)\"[^>]*\bchecked\b", page)


@pytest.mark.parametrize(("company", "plan", "asked"), [
    ({"provider": "coursera"}, "coursera-plus-annual", True),
    ({"provider": "coursera"}, "specialization-monthly", False),  # monthly payments are not refunded anyway
    ({"provider": "other", "company.name": "Acme Streaming", "company.email": "cancel@acme.example"},
     "other-monthly", False),
])
def test_the_certificate_question_only_where_a_certificate_voids_the_refund(
        client: FlaskClient, company: dict[str, str], plan: str, asked: bool) -> None:
    walk(client, {"company": company, "plan": {"plan": plan, "billing_channel": "direct"}})
    page = client.get("/start/dates").get_data(as_text=True)
    assert ('id="certificate_earned"' in page) is asked


def test_the_country_list_has_no_pseudo_locales(client: FlaskClient) -> None:
    assert not {"XA", "XB", "ZZ", "EU", "UN", "QO", "XK"} & set(countries())
    assert all(len(code) == 2 and code.isalpha() and code.isupper() for code in countries())
    walk(client, {"company": COURSERA["company"], "plan": COURSERA["plan"]})
    page = client.get("/start/dates").get_data(as_text=True)
    assert "Pseudo" not in page
    assert '<option value="AU">Australia</option>' in page


def test_with_no_refund_due_the_urgent_date_is_the_renewal(client: FlaskClient) -> None:
    walk(client, FULL)  # a certificate earned since the payment voids the refund
    after = between(client.get("/start/check").get_data(as_text=True), "<h2>What happens next</h2>", "<details")
    assert "last day to ask for a refund" not in after
    assert "next renewal charge" in visible_text(after)
