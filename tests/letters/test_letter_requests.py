"""What each letter asks, for a table of realistic cases (country, plan, outcome and dates), read from the PDF.

Every row is rendered through the real snapshot and renderer and its PDF text is checked the way the company's
billing team and a consumer lawyer would read it: what is asked, which dates appear and which must not, the
company addressed, the law cited and not cited, and the page count of a first letter. Dates are relative to the
suite's today (POLICY-FACTS §2 conventions), so the table reads the same on any day.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
from dataclasses import dataclass, field
from typing import Any

import pytest
from pypdf import PdfReader

from casework.cases.filing import assessment_of, fact_columns
from casework.cases.models import Case
from casework.cases.states import RequestedOutcome
from casework.letters.plan import letter_plan_for_case
from casework.letters.render import renderer
from casework.letters.services import pending_letter_values
from casework.letters.snapshot import NoLetterToWrite, earlier_entry, letter_snapshot
from tests.support.factories import case_facts
from tests.support.today import CLOCK_TIME, TODAY, days_ago

pytestmark = pytest.mark.dates

CANCEL, REFUND = RequestedOutcome.CANCEL, RequestedOutcome.CANCEL_AND_REFUND
LONDON, BERLIN, PARIS, TOKYO = "Europe/London", "Europe/Berlin", "Europe/Paris", "Asia/Tokyo"


def at_noon(day: dt.date) -> dt.datetime:
    """The suite's clock time on ``day``: the same calendar day from Los Angeles to Tokyo."""
    return dt.datetime.combine(day, CLOCK_TIME)


def uk(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def us(day: dt.date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


@dataclass
class Row:
    """One case of the table and what its letter must (``says``) and must not (``never``) say."""

    id: str
    facts: dict[str, Any]
    says: list[str]
    never: list[str] = field(default_factory=list)
    kind: str = "cancellation"
    first_letter_days_ago: int = 12      # for a follow-up or final notice: when the first letter was dated
    first_sent_days_ago: int | None = 12
    retention_offers: list[dt.date] = field(default_factory=list)
    clauses: list[str] | None = None     # the clause ids cited, in order (None: not checked)
    date_style: Any = uk
    one_page: bool = False


def case_of(facts: dict[str, Any], now: dt.datetime) -> Case:
    new = case_facts(**facts)
    values: dict[str, Any] = {"reference": "CW-2026-7K3M9QXD", **fact_columns(new, "test"),
                              "assessment": assessment_of(new, now)}
    return Case(**values)


def snapshot_of(row: Row) -> dict[str, Any]:
    now = at_noon(TODAY)
    case = case_of(row.facts, now)
    earlier = None
    if row.kind != "cancellation":
        first_day = at_noon(TODAY - dt.timedelta(days=row.first_letter_days_ago))
        first = letter_snapshot(case_of(row.facts, first_day), "cancellation", 1, first_day)
        sent = None if row.first_sent_days_ago is None else days_ago(row.first_sent_days_ago)
        earlier = [earlier_entry("cancellation", 1, first, "ab" * 32, sent)]
        if row.kind == "final_notice":
            follow_day = at_noon(TODAY - dt.timedelta(days=row.first_letter_days_ago // 2))
            follow = letter_snapshot(case_of(row.facts, follow_day), "follow_up", 1, follow_day, earlier=earlier)
            earlier = [*earlier, earlier_entry("follow_up", 1, follow, "cd" * 32, follow_day.date())]
    values = pending_letter_values(case, row.kind, 1, now, earlier=earlier, base_url="https://casework.example",
                                   retention_offers=row.retention_offers)
    snapshot: dict[str, Any] = values["data_snapshot"]
    return snapshot


def text_of(pdf: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


def annual_paid(days: int, **more: Any) -> dict[str, Any]:
    return {"plan": "coursera-plus-annual", "payment_date": days_ago(days), **more}


def add_year(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def add_month(day: dt.date) -> dt.date:
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError(day)


ONE = dt.timedelta(days=1)
P5, P66, P10, P3 = days_ago(5), days_ago(66), days_ago(10), days_ago(3)
GB = {"country": "GB", "timezone": LONDON, "amount_currency": "GBP", "amount_value": decimal.Decimal("49.00"),
      "consumer_postal_address": "1 Example Road\nLondon N1 9GU"}
DE = {"country": "DE", "timezone": BERLIN, "amount_currency": "EUR", "amount_value": decimal.Decimal("399.00"),
      "consumer_postal_address": "Beispielstraße 1\n10115 Berlin"}
FR = {"country": "FR", "timezone": PARIS, "amount_currency": "EUR", "amount_value": None,
      "consumer_postal_address": "1 rue de l'Exemple\n75001 Paris"}
US_CA = {"country": "US", "region": "US-CA", "timezone": "America/Los_Angeles", "amount_currency": "USD",
         "amount_value": decimal.Decimal("399.00"), "consumer_postal_address": "1 Example Ave\nOakland, CA 94607"}
JP = {"country": "JP", "timezone": TOKYO, "amount_currency": "JPY", "amount_value": decimal.Decimal("7900"),
      "consumer_name": "山田 花子", "consumer_postal_address": "東京都千代田区1-1"}
OTHER = {"provider": "other", "plan": "other-monthly", "company": {
    "name": "Streamly Ltd", "email": "cancel@streamly.example", "postal_address": "1 Market Street\nLondon EC1A 1AA",
    "plan_name": "Streamly Premium", "refund_window_days": 30}}

ROWS = [
    Row("au-annual-refund", annual_paid(5),
        says=["Notice of cancellation and request for a refund", "cancel this subscription with immediate effect",
              "refund the payment of $599.00", "Coursera Plus's 14-day money-back guarantee",
              f"the period ends on {uk(P5 + 14 * ONE)}", "I have not earned a certificate",
              f"if you refuse the refund, end the subscription instead at the end of the period already paid for, "
              f"on {uk(add_year(P5) - ONE)}", f"on or after {uk(add_year(P5))}", "Coursera, Inc.",
              "381 E. Evelyn Ave.", "UNITED STATES", "Yours faithfully"],
        never=["with effect from the date of this letter", "Last day to ask", "60\u201362", "s 64", "Sincerely"],
        clauses=["au-acl-unfair-contract-terms"], one_page=True),
    Row("au-annual-follow-up-after-window", annual_paid(20), kind="follow_up", first_letter_days_ago=14,
        first_sent_days_ago=14,
        says=["Follow-up", f"under Coursera Plus's 14-day money-back guarantee; that request was made on "
              f"{uk(days_ago(14))}, within the 14-day period that ended on {uk(days_ago(6))}",
              "Refund requested", "I repeat my request"],
        never=["Last day to ask", "I may take this matter further without writing", "the period ends on",
               "within 14 days of that payment"]),
    Row("au-annual-final-notice-declines-retention", annual_paid(25), kind="final_notice", first_letter_days_ago=22,
        first_sent_days_ago=22, retention_offers=[days_ago(8)],
        says=["Final notice", f"On {uk(days_ago(8))} you offered me terms to keep the subscription. I decline that "
              "offer; my request stands.", "dispute the charges", "consumer protection authority"],
        never=["Fair Credit Billing"]),
    Row("us-ca-late-annual", {**US_CA, **annual_paid(66)},
        says=["Notice of cancellation —", "stop the automatic renewal of this subscription",
              f"on {us(add_year(P66) - ONE)}", f"on or after {us(add_year(P66))}", "Sincerely",
              "Restore Online Shoppers' Confidence Act", "California", us(TODAY)],
        never=["refund", "Refund", "Last day to ask", "Fair Credit Billing", "with effect from the date of this letter",
               "Yours faithfully", uk(TODAY)],
        clauses=["us-rosca", "us-ca-automatic-renewal-law", "us-ca-ab-2863"], date_style=us, one_page=True),
    Row("us-ny-monthly-cancel", {"country": "US", "region": "US-NY", "timezone": "America/New_York",
                                 "plan": "specialization-monthly", "payment_date": P10, "amount_currency": "USD",
                                 "amount_value": decimal.Decimal("49.00"), "requested_outcome": CANCEL},
        says=["stop the automatic renewal", f"on or after {us(add_month(P10))}", "$49.00", "Sincerely"],
        never=["refund", "Fair Credit Billing", "California"], clauses=["us-rosca"], date_style=us, one_page=True),
    Row("us-final-notice-no-card-law", {**US_CA, **annual_paid(40), "requested_outcome": CANCEL},
        kind="final_notice", first_letter_days_ago=30,
        says=["dispute the charges"], never=["Fair Credit Billing", "1666"], date_style=us),
    Row("de-annual-contract-from-july", {**DE, **annual_paid(30), "subscription_start_date": days_ago(150),
                                         "requested_outcome": CANCEL},
        says=["Coursera Europe B.V.", "NETHERLANDS", "§ 312k", "stop the automatic renewal"],
        never=["Coursera, Inc.", "Mountain View", "Directive 2011/83/EU", "withdraw", "Subscribed since"],
        one_page=True),
    Row("de-annual-within-withdrawal-period", {**DE, **annual_paid(5), "subscription_start_date": P5},
        says=["Coursera Europe B.V.", "Directive 2011/83/EU", "14 days", f"Subscribed since {uk(P5)}",
              "399,00 €"],
        never=["Coursera, Inc."]),
    Row("de-annual-refund-two-clauses", {**DE, **annual_paid(7), "subscription_start_date": days_ago(150)},
        says=["Coursera Europe B.V.", "refund the payment of 399,00 €", "§ 312k", "§ 309 Nr. 9",
              f"on {uk(add_year(days_ago(7)) - ONE)}"],
        never=["Directive 2011/83/EU"], clauses=["de-bgb-312k", "de-bgb-309-no-9"], one_page=True),
    Row("de-start-unknown", {**DE, **annual_paid(5)},
        says=["Coursera Europe B.V."], never=["Directive 2011/83/EU", "withdraw", "Subscribed since"]),
    Row("nl-annual", {**DE, "country": "NL", "timezone": "Europe/Amsterdam", **annual_paid(30),
                      "requested_outcome": CANCEL},
        says=["Coursera Europe B.V."], never=["Coursera, Inc.", "Mountain View"]),
    Row("ch-annual-not-eu", {**DE, "country": "CH", "timezone": "Europe/Zurich", "amount_currency": "CHF",
                             **annual_paid(30), "requested_outcome": CANCEL},
        says=["Coursera, Inc."], never=["Coursera Europe B.V.", "Directive"]),
    Row("fr-trial", {**FR, "plan": "coursera-plus-monthly", "payment_date": None, "trial_start_date": P3,
                     "requested_outcome": CANCEL},
        says=["within the free trial", f"take no payment for it on {uk(P3 + 7 * ONE)}", "Coursera Europe B.V.",
              f"Free trial started {uk(P3)}"],
        never=["refund", "Paid until", "Most recent payment", "Coursera, Inc."], one_page=True),
    Row("gb-monthly-cancel", {**GB, "plan": "coursera-plus-monthly", "payment_date": P10,
                              "requested_outcome": CANCEL},
        says=["stop the automatic renewal", f"on {uk(add_month(P10) - ONE)}", f"on or after {uk(add_month(P10))}",
              "£49.00", "UNITED STATES"],
        never=["refund", "Consumer Contracts", "with effect from the date of this letter"], one_page=True),
    Row("gb-monthly-within-cancellation-period", {**GB, "plan": "coursera-plus-monthly", "payment_date": P3,
                                                  "subscription_start_date": P3, "requested_outcome": CANCEL},
        says=["Consumer Contracts", "reg 34", "regs 36", f"Subscribed since {uk(P3)}"],
        clauses=["gb-ccr-2013"], one_page=True),
    Row("jp-monthly-refund", {**JP, "plan": "coursera-plus-monthly", "payment_date": P3},
        says=["refund the payment of ¥7,900", "Coursera Plus's 14-day money-back guarantee",
              f"on or after {uk(add_month(P3))}"],
        never=["7900.00", "JPY"], clauses=[], one_page=True),
    Row("one-time-course-refund", {**US_CA, "plan": "course-one-time", "payment_date": P3,
                                   "amount_value": decimal.Decimal("49.00")},
        says=["Request for a refund", "refund the payment of $49.00", "Coursera's refund policy for course purchases",
              "Purchased"],
        never=["subscription", "further charges", "Restore Online Shoppers", "automatic renewal", "renewal"],
        date_style=us, one_page=True),
    Row("specialization-monthly-refund-not-due", {**GB, "plan": "specialization-monthly", "payment_date": P5},
        says=["stop the automatic renewal", f"on or after {uk(add_month(P5))}"],
        never=["refund", "Refund"]),
    Row("other-company-refund", {**GB, **OTHER, "payment_date": P5},
        says=["Streamly Ltd", "1 Market Street", "London EC1A 1AA", "under your refund terms", "within 30 days",
              "cancel@streamly.example"],
        never=["Coursera", "UNITED KINGDOM"]),
    Row("follow-up-sent-after-window", annual_paid(30), kind="follow_up", first_letter_days_ago=17,
        first_sent_days_ago=10,
        says=[f"under Coursera Plus's 14-day money-back guarantee; that request was made on {uk(days_ago(10))}"],
        never=["within the 14-day period"]),
    Row("stale-annual-payment", annual_paid(400, requested_outcome=CANCEL),
        says=[f"on or after {uk(add_year(add_year(days_ago(400))))}"], never=["refund", "Last day"]),
    Row("trial-over-stop-renewal", {"plan": "coursera-plus-monthly", "payment_date": None,
                                    "trial_start_date": days_ago(10), "requested_outcome": CANCEL,
                                    "amount_value": None},
        says=["stop the automatic renewal", f"on or after {uk(add_month(days_ago(3)))}"],
        never=["free trial", "refund"]),
    Row("ca-canada-monthly", {"country": "CA", "timezone": "America/Toronto", "plan": "coursera-plus-monthly",
                              "payment_date": P10, "amount_currency": "CAD", "requested_outcome": CANCEL},
        says=["Sincerely", us(TODAY)], never=["Yours faithfully", "Restore Online"], date_style=us),
]


@pytest.fixture(scope="module")
def rendered() -> dict[str, tuple[dict[str, Any], list[str], int]]:
    out = {}
    for row in ROWS:
        snapshot = snapshot_of(row)
        letter = renderer().render(row.kind, snapshot)
        out[row.id] = (snapshot, text_of(letter.pdf), letter.pages)
    return out


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_each_letter_asks_for_the_right_thing(row: Row, rendered: dict[str, Any]) -> None:
    snapshot, pages, count = rendered[row.id]
    text = " ".join(pages)
    for words in row.says:
        assert words in text, f"{row.id}: expected {words!r}"
    for words in row.never:
        assert words not in text, f"{row.id}: must not say {words!r}"
    if row.clauses is not None:
        assert [c["id"] for c in snapshot["law"]] == row.clauses
    if row.one_page:
        assert count == 1, f"{row.id}: {count} pages"
    # The signature never stands alone: the page with the name also holds the closing paragraph.
    last = pages[-1]
    assert "formal notice" in last
    assert snapshot["consumer"]["name"].split()[0] in last


def test_the_table_covers_every_request_and_kind(rendered: dict[str, Any]) -> None:
    asked = {s["asked"]["request"] for s, _, _ in rendered.values()}
    kinds = {s["kind"] for s, _, _ in rendered.values()}
    assert asked == {"stop_renewal", "refund_and_cancel", "end_trial", "one_time_refund"}
    assert kinds == {"cancellation", "follow_up", "final_notice"}
    assert len(ROWS) >= 20


@pytest.mark.parametrize("facts", [
    {"plan": "course-one-time", "payment_date": P3, "certificate_earned": True},
    {"plan": "course-one-time", "payment_date": days_ago(20)},
    {"plan": "course-one-time", "payment_date": P3, "requested_outcome": CANCEL},
    {"plan": "guided-project", "payment_date": P3},
], ids=["certificate-earned", "window-closed", "cancel-only", "guided-project"])
def test_a_one_time_purchase_without_a_refund_to_ask_for_gets_no_letter(facts: dict[str, Any]) -> None:
    case = case_of(facts, at_noon(TODAY))
    assert not letter_plan_for_case(case).letter
    with pytest.raises(NoLetterToWrite, match="one-time purchase"):
        letter_snapshot(case, "cancellation", 1, at_noon(TODAY))
