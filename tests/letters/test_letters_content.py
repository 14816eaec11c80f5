"""What the three letter kinds say, built through the real snapshot code: the law cited by country and date, the
refund paragraph, references to earlier letters, names in any script, escaped consumer values, nothing fetched,
the address window and the PDF's metadata."""

from __future__ import annotations

import datetime as dt
import http.server
import io
import json
import re
import shutil
import subprocess
import threading
import unicodedata
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.cases.filing import NewCase, assessment_of, fact_columns, file_case
from casework.cases.models import Case
from casework.cases.states import RequestedOutcome
from casework.letters.fetcher import AssetsOnlyFetcher
from casework.letters.models import Letter
from casework.letters.render import RenderedLetter, renderer
from casework.letters.services import pending_letter_values, request_letter
from casework.letters.snapshot import earlier_entry
from tests.support.factories import case_facts

MM = 72 / 25.4
OTHER_COMPANY = {"name": "Streamly Ltd", "email": "cancel@streamly.example",
                 "postal_address": "1 Market Street\nLondon EC1A 1AA", "plan_name": "Streamly Premium"}


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


def transient_case(facts: NewCase, now: dt.datetime, **columns: Any) -> Case:
    """A Case as filing builds it (not stored), with the assessment of ``now``."""
    values: dict[str, Any] = {"reference": "CW-2026-7K3M9QXD", **fact_columns(facts, "test"),
                              "assessment": assessment_of(facts, now)}
    values.update(columns)
    return Case(**values)


# These letters are dated on fixed days (the tests pass the instant), so the payment is fixed too: a week before.
PAID = dt.date(2026, 11, 20)


def snapshot_for(letter_day: dt.date = dt.date(2026, 11, 27), kind: str = "cancellation",
                 earlier: list[dict[str, Any]] | None = None, **changes: Any) -> dict[str, Any]:
    now = noon(letter_day)
    changes.setdefault("payment_date", PAID)
    case = transient_case(case_facts(**changes), now)
    if kind != "cancellation" and earlier is None:
        first = pending_letter_values(case, "cancellation", 1, now - dt.timedelta(days=12))["data_snapshot"]
        earlier = [earlier_entry("cancellation", 1, first, "c0ffee" * 10 + "abcd", dt.date(2026, 11, 16))]
    snapshot: dict[str, Any] = pending_letter_values(case, kind, 1, now, earlier=earlier,
                                                     base_url="https://casework.example")["data_snapshot"]
    return snapshot


def render(snapshot: dict[str, Any], fetcher: AssetsOnlyFetcher | None = None) -> RenderedLetter:
    return renderer().render(snapshot["kind"], snapshot, fetcher)


def text_of(pdf: bytes) -> str:
    """The PDF's text on one line per page, whitespace collapsed (lines wrap anywhere)."""
    return "\n".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages)


def letter_text(**changes: Any) -> str:
    return text_of(render(snapshot_for(**changes)).pdf)


# --- The law cited -------------------------------------------------------------------------------------------------

ACL = "Australian Consumer Law (Schedule 2 to the Competition and Consumer Act 2010)"
ACL_UNFAIR = "Australian Consumer Law, unfair contract terms"
CCR = "Consumer Contracts (Information, Cancellation and Additional Charges) Regulations 2013"
CRD = "Consumer Rights Directive 2011/83/EU"
ART_11A = "Directive (EU) 2023/2673"
ROSCA = "Restore Online Shoppers' Confidence Act"
CARL = "California Automatic Renewal Law"
NEVER = ("subscription trap", "Unfair trading practices", "Digital Markets", "DMCC", "Negative Option Rule", "FTC",
         "click-to-cancel", "16 C.F.R")


def assert_never_cited(text: str) -> None:
    for words in NEVER:
        assert words.lower() not in text.lower(), words


def test_an_australian_letter_cites_unfair_terms_and_never_the_service_guarantees() -> None:
    text = letter_text()
    assert ACL_UNFAIR in text
    assert "s 23" in text
    assert "60\u201362" not in text
    assert "s 18" not in text  # misleading conduct: for a later letter, not the first
    assert_never_cited(text)
    assert [c["id"] for c in snapshot_for()["law"]] == ["au-acl-unfair-contract-terms"]


def test_an_australian_contract_before_9_november_2023_gets_the_unfair_terms_clause_without_penalties() -> None:
    snapshot = snapshot_for(payment_date=dt.date(2023, 11, 8), letter_day=dt.date(2023, 11, 20))
    assert [c["id"] for c in snapshot["law"]] == ["au-acl-unfair-contract-terms-2010"]
    text = text_of(render(snapshot).pdf)
    assert ACL_UNFAIR in text
    assert "penalt" not in text
    assert_never_cited(text)


def test_the_contract_date_is_the_later_of_payment_and_trial_start() -> None:
    snapshot = snapshot_for(payment_date=dt.date(2023, 11, 1), trial_start_date=dt.date(2023, 11, 10))
    assert snapshot["contract_date"] == "2023-11-10"
    assert "au-acl-unfair-contract-terms" in [c["id"] for c in snapshot["law"]]


def test_a_uk_letter_cites_the_2013_regulations_only_while_the_cancellation_period_is_open() -> None:
    uk = {"country": "GB", "timezone": "Europe/London", "amount_currency": "GBP"}
    text = letter_text(**uk, subscription_start_date=PAID)
    assert CCR in text
    for section in ("regs 29\u201331", "reg 34", "regs 36\u201337"):
        assert section in text
    assert ACL not in text
    assert_never_cited(text)
    assert CCR not in letter_text(**uk, subscription_start_date=dt.date(2026, 1, 20))  # renewed, not new
    assert CCR not in letter_text(**uk)  # start unknown: never guessed from the payment


def test_a_californian_letter_cites_rosca_and_the_automatic_renewal_law_never_the_vacated_rule() -> None:
    text = letter_text(country="US", region="US-CA", timezone="America/Los_Angeles", amount_currency="USD")
    assert ROSCA in text
    assert "15 U.S.C. § 8403" in text
    assert CARL in text
    assert_never_cited(text)


def test_a_new_york_letter_has_no_california_law() -> None:
    text = letter_text(country="US", region="US-NY", timezone="America/New_York", amount_currency="USD")
    assert ROSCA in text
    assert CARL not in text


@pytest.mark.parametrize("country", ["DE", "FR"])
@pytest.mark.parametrize(
    ("payment", "letter_day", "withdrawal_function"),
    [
        (dt.date(2026, 6, 10), dt.date(2026, 6, 18), False),
        (dt.date(2026, 6, 19), dt.date(2026, 6, 19), True),
        (dt.date(2026, 11, 20), dt.date(2026, 11, 27), True),
    ],
)
def test_an_eu_letter_cites_the_directive_and_article_11a_only_from_19_june_2026(
    country: str, payment: dt.date, letter_day: dt.date, withdrawal_function: bool
) -> None:
    text = letter_text(letter_day=letter_day, country=country, timezone="Europe/Berlin", amount_currency="EUR",
                       payment_date=payment, subscription_start_date=payment)
    # France's own text of the directive is cited in France, the directive elsewhere.
    assert (CRD in text) is (country != "FR")
    assert ("L221-18" in text) is (country == "FR")
    assert (ART_11A in text) is withdrawal_function
    assert ("Art. 11a" in text) is withdrawal_function


def test_a_country_without_law_rows_gets_only_the_contractual_request() -> None:
    snapshot = snapshot_for(country="JP", timezone="Asia/Tokyo", amount_currency="JPY")
    assert snapshot["law"] == []
    text = text_of(render(snapshot).pdf)
    assert "Provisions that may apply" not in text
    assert not re.search(r"\b(Act|Directive|Regulations|Law)\b", text)
    assert "cancel this subscription with immediate effect" in text


def test_the_snapshot_freezes_each_clause_with_its_sources() -> None:
    (clause, *_) = snapshot_for(country="GB", timezone="Europe/London", subscription_start_date=PAID)["law"]
    assert clause["id"] == "gb-ccr-2013"
    assert clause["sections"] == ["regs 29\u201331", "reg 34", "regs 36\u201337"]
    assert clause["withdrawal"] is True
    assert clause["sources"][0]["url"].startswith("https://www.legislation.gov.uk/uksi/2013/3134")
    assert clause["sources"][0]["title"]


# --- What is asked for ---------------------------------------------------------------------------------------------

REFUND_WORDS = "to the original payment method"


@pytest.mark.parametrize(
    ("changes", "eligibility", "refund_asked"),
    [
        ({}, "eligible", True),
        ({"requested_outcome": RequestedOutcome.CANCEL}, "not_requested", False),
        ({"payment_date": dt.date(2026, 10, 1)}, "not_eligible", False),
        ({"provider": "other", "plan": "other-monthly", "company": OTHER_COMPANY}, "uncertain", True),
        ({"provider": "other", "plan": "other-monthly", "company": OTHER_COMPANY,
          "requested_outcome": RequestedOutcome.CANCEL}, "not_requested", False),
    ],
)
def test_the_refund_paragraph_follows_eligibility_and_the_outcome_asked_for(
    changes: dict[str, Any], eligibility: str, refund_asked: bool
) -> None:
    snapshot = snapshot_for(**changes)
    assert snapshot["refund_eligibility"] == eligibility
    text = text_of(render(snapshot).pdf)
    assert (REFUND_WORDS in text) is refund_asked
    assert ("refund is made" in text) is refund_asked
    for words in ("confirm in writing by 7 December 2026", "quoting the reference CW-2026-7K3M9QXD"):
        assert words in text, words
    assert ("cancel this subscription with immediate effect" in text) is refund_asked
    assert ("stop the automatic renewal" in text) is not refund_asked
    for never in ("cancel this subscription now", "stop all further charges", "with effect from the date"):
        assert never not in text


def test_the_facts_block_prints_what_supports_the_request() -> None:
    text = text_of(render(snapshot_for()).pdf)
    assert "Most recent payment 20 November 2026, $599.00" in text
    assert "end the subscription instead at the end of the period already paid for, on 19 November 2027" in text
    assert "on or after 20 November 2027, the next renewal date" in text
    assert "Refund basis Coursera Plus's 14-day money-back guarantee, until 4 December 2026" in text
    assert "Last day to ask" not in text


def test_a_letter_without_a_refund_prints_no_refund_deadline() -> None:
    text = text_of(render(snapshot_for(payment_date=dt.date(2026, 10, 1))).pdf)
    assert "refund" not in text.lower()
    assert "15 October 2026" not in text  # the window that closed, unmet: it would argue against the consumer


def test_the_consumers_free_text_never_reaches_the_snapshot_or_the_letter() -> None:
    details = "PRIVATE NOTE FOR THE CASEWORKER 81723"
    snapshot = snapshot_for(details=details)
    assert details not in json.dumps(snapshot)
    assert details not in text_of(render(snapshot).pdf)


# --- Follow-up and final notice ------------------------------------------------------------------------------------

def test_a_follow_up_refers_to_the_first_letter_and_sets_a_new_deadline() -> None:
    snapshot = snapshot_for(letter_day=dt.date(2026, 12, 9), kind="follow_up")
    letter = render(snapshot)
    assert letter.template_version.startswith("follow_up@")
    text = text_of(letter.pdf)
    assert "my letter dated 27 November 2026 (reference CW-2026-7K3M9QXD, version 1, SHA-256 beginning " \
           "c0ffeec0ffeec0ff)" in text
    assert "by 19 December 2026" in text  # 10 days from this letter, not the first one
    assert "that request was made on 16 November 2026" in text
    assert "I repeat my request" in text
    assert "Follow-up" in text
    assert "without writing to you again" not in text


def test_a_final_notice_names_the_card_dispute_route_but_never_the_card_law_to_the_company() -> None:
    snapshot = snapshot_for(letter_day=dt.date(2026, 12, 20), kind="final_notice", country="US", region="US-CA",
                            timezone="America/Los_Angeles", amount_currency="USD")
    text = text_of(render(snapshot).pdf)
    assert "my letter dated December 8, 2026 (reference CW-2026-7K3M9QXD" in text  # US dates: month first
    assert "final notice" in text.lower()
    assert "card issuer" in text
    assert "Fair Credit Billing Act" not in text
    assert "regulator" in text
    assert "by December 30, 2026" in text


def test_a_final_notice_outside_the_us_names_no_card_law() -> None:
    text = text_of(render(snapshot_for(letter_day=dt.date(2026, 12, 20), kind="final_notice")).pdf)
    assert "card issuer" in text
    assert "Fair Credit Billing Act" not in text


def test_a_follow_up_without_an_earlier_letter_is_refused() -> None:
    with pytest.raises(ValueError, match="earlier letter"):
        snapshot_for(kind="follow_up", earlier=[])


def store_rendered(session: Session, letter: Letter, sent_at: dt.datetime | None = None) -> RenderedLetter:
    """What the render job stores, done in the test's transaction."""
    rendered = renderer().render(letter.kind, letter.data_snapshot)
    letter.status, letter.pdf, letter.sha256 = "rendered", rendered.pdf, rendered.sha256
    letter.pages, letter.template_version, letter.sent_at = rendered.pages, rendered.template_version, sent_at
    session.flush()
    return rendered


def test_letters_requested_on_a_filed_case_refer_to_the_stored_letters(db_session: Session) -> None:
    filed_at = noon(dt.date(2026, 11, 26))
    filed = file_case(db_session, case_facts(payment_date=PAID), "k" * 40, filed_at)
    case = db_session.get(Case, filed.case_id)
    assert case is not None
    first = db_session.execute(select(Letter).where(Letter.id == filed.letter_id)).scalar_one()
    assert first.data_snapshot["verification_code"] == first.verification_code
    with pytest.raises(ValueError, match="rendered cancellation letter"):
        request_letter(db_session, case, "follow_up", filed_at)
    store_rendered(db_session, first, sent_at=noon(dt.date(2026, 11, 28)))

    follow_up = request_letter(db_session, case, "follow_up", noon(dt.date(2026, 12, 9)),
                               base_url="https://casework.example")
    (earlier,) = follow_up.data_snapshot["earlier"]
    assert earlier == {"kind": "cancellation", "version": 1, "letter_date": "2026-11-26",
                       "reference": case.reference, "sha256_prefix": first.sha256[:16],  # type: ignore[index]
                       "sent_on": "2026-11-28", "asked": first.data_snapshot["asked"]}
    assert earlier["asked"]["request"] == "refund_and_cancel"
    assert follow_up.data_snapshot["verify_url"] == f"https://casework.example/verify/{follow_up.verification_code}"
    text = text_of(store_rendered(db_session, follow_up).pdf)
    assert f"SHA-256 beginning {first.sha256[:16]}" in text  # type: ignore[index]
    assert "delivered on 28 November 2026" in text
    assert first.status == "rendered"  # a follow-up is another kind: it supersedes nothing

    final = request_letter(db_session, case, "final_notice", noon(dt.date(2026, 12, 20)))
    assert [e["kind"] for e in final.data_snapshot["earlier"]] == ["cancellation", "follow_up"]
    assert final.data_snapshot["verify_url"] == f"/verify/{final.verification_code}"
    text = text_of(store_rendered(db_session, final).pdf)
    assert "my letter dated 26 November 2026" in text
    assert "my follow-up letter dated 9 December 2026" in text
    assert f"Verify this letter at /verify/{final.verification_code}" in text


# --- Every page, the window, metadata ------------------------------------------------------------------------------

def test_every_page_has_the_footer_with_reference_and_verification_code() -> None:
    snapshot = snapshot_for(letter_day=dt.date(2026, 12, 20), kind="final_notice", country="US", region="US-CA",
                            timezone="America/Los_Angeles", amount_currency="USD")
    letter = render(snapshot)
    assert letter.pages >= 2
    code = snapshot["verification_code"]
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}", code)
    for page in text_of(letter.pdf).split("\n"):
        assert f"Reference CW-2026-7K3M9QXD · verification code {code}" in page
        assert f"Verify this letter at https://casework.example/verify/{code}" in page


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler's pdftotext")
def test_the_recipient_sits_in_the_envelope_window() -> None:
    pdf = render(snapshot_for(provider="other", plan="other-annual", company=OTHER_COMPANY)).pdf
    html = subprocess.run(["pdftotext", "-bbox", "-f", "1", "-l", "1", "-", "-"], input=pdf,
                          capture_output=True, check=True).stdout.decode()
    words = re.findall(r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<', html)
    found: dict[str, list[float]] = {}
    for *xy, word in words:  # the first occurrence: the window comes first on the page
        found.setdefault(word, [float(v) / MM for v in xy])
    for word in ("Streamly", "EC1A"):
        x0, y0, x1, y1 = found[word]
        # The window: 20 mm from the left edge, 45 mm from the top, 90 x 45 mm.
        assert x0 >= 20, (word, x0)
        assert x1 <= 110, (word, x1)
        assert y0 >= 45, (word, y0)
        assert y1 <= 90, (word, y1)
    assert found["Dear"][1] > 90  # the body starts below the window


@pytest.mark.parametrize("kind", ["cancellation", "follow_up", "final_notice"])
def test_metadata_title_author_language_and_tags(kind: str) -> None:
    snapshot = snapshot_for(letter_day=dt.date(2026, 12, 9), kind=kind, consumer_name="Zoë Ångström-Müller")
    reader = PdfReader(io.BytesIO(render(snapshot).pdf))
    assert reader.metadata is not None
    assert "CW-2026-7K3M9QXD" in str(reader.metadata.title)
    assert {"cancellation": "Cancellation", "follow_up": "Follow-up", "final_notice": "Final notice"}[kind] \
        in str(reader.metadata.title)
    assert reader.metadata.author == "Zoë Ångström-Müller"
    root = reader.trailer["/Root"]
    assert root["/Lang"] == "en"
    assert "/StructTreeRoot" in root


# --- Names in any script -------------------------------------------------------------------------------------------

def embedded_fonts(pdf: bytes) -> set[str]:
    fonts: set[str] = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            descendants = font.get("/DescendantFonts")
            described = descendants[0].get_object() if descendants else font
            descriptor = described["/FontDescriptor"].get_object()
            if any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")):
                fonts.add(str(font["/BaseFont"]))
    return fonts


@pytest.mark.parametrize(
    ("name", "font"),
    [("王小明", "CJK"), ("محمد عبد الله", "Arabic"), ("Zoë Ångström-Müller", "Noto-Sans")],
)
def test_names_in_any_script_are_embedded_and_come_back_as_text(name: str, font: str) -> None:
    letter = render(snapshot_for(consumer_name=name, consumer_postal_address=None))
    fonts = embedded_fonts(letter.pdf)
    assert any(font in f for f in fonts), fonts
    text = text_of(letter.pdf)
    if font == "Arabic":
        # Extractors give Arabic back in shaped (presentation) forms: compare letters, not code points.
        def letters(value: str) -> str:
            return "".join(c for c in unicodedata.normalize("NFKC", value) if c.isalpha())

        assert letters(name) in letters(text) or letters(name)[::-1] in letters(text)
    else:
        assert name in text


# --- Consumer values are text, never markup, and nothing is fetched ------------------------------------------------

def hostile_facts(payload: str) -> dict[str, Any]:
    """``payload`` in every consumer field that reaches a letter (another company: its name and channels too)."""
    return {
        "consumer_name": f"Ann {payload}", "consumer_email": "ann@example.com",
        "consumer_postal_address": f"1 Road\n{payload}", "account_identifier": f"acct {payload}",
        "provider": "other", "plan": "other-monthly",
        "company": {"name": f"Co {payload}", "postal_address": f"2 Street\n{payload}",
                    "web_form_url": payload, "plan_name": f"Plan {payload}"},
    }


def test_markup_in_consumer_fields_is_printed_as_text() -> None:
    payload = "<b>bold</b><script>alert(1)</script>"
    snapshot = snapshot_for(**hostile_facts(payload))
    html = renderer().html("cancellation", snapshot)
    assert "<script>" not in html
    assert "<b>bold" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    text = text_of(render(snapshot).pdf)
    for field in ("Ann ", "acct ", "Co ", "Plan ", "2 Street "):
        assert f"{field}{payload}" in text, field


class ObservingFetcher(AssetsOnlyFetcher):
    """The letters' fetcher, recording every URL it is asked for (allowed or not)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def fetch(self, url: str, headers: Any = None) -> Any:
        self.asked.append(url)
        return super().fetch(url, headers)


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every request it receives."""
    received: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            received.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body { color: red }")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("kind", ["cancellation", "follow_up", "final_notice"])
def test_hostile_urls_in_every_consumer_field_fetch_nothing(kind: str, listener: tuple[str, list[str]]) -> None:
    base, received = listener
    with urllib.request.urlopen(f"{base}/control") as response:  # noqa: S310 - the listener works
        assert response.status == 200
    assert received == ["/control"]
    payload = " ".join([
        "file:///etc/passwd", "http://169.254.169.254/latest/meta-data/", '<img src="file:///etc/passwd">',
        '<link rel=stylesheet href="http://169.254.169.254/">', f'<img src="{base}/img">',
        f'<link rel=stylesheet href="{base}/css">', f"<style>@import url({base}/import);</style>",
    ])
    snapshot = snapshot_for(letter_day=dt.date(2026, 12, 9), kind=kind, **hostile_facts(payload))
    fetcher = ObservingFetcher()
    letter = render(snapshot, fetcher)
    assert fetcher.asked == []
    assert fetcher.refused == []
    assert received == ["/control"]
    assert b"root:x:0:0" not in letter.pdf
    text = text_of(letter.pdf)
    assert "root:x:0:0" not in text
    assert '<img src="file:///etc/passwd">' in text

