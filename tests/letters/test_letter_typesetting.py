"""How a letter is set, through the real snapshot and render path: paper, dates and closing by the consumer's
country, the closing kept with the letter, the recipient block in UPU order inside the window, addresses that
break where a reader expects, amounts in the currency's own units, and CJK names in their own region's glyphs."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess
from typing import Any

import jinja2
import pytest
from pypdf import PdfReader

from casework.letters.render import (
    LetterRenderer,
    company_address_lines,
    email_breaks,
    format_long_date,
    renderer,
    url_breaks,
    with_defaults,
)
from tests.letters.test_letters_content import MM, render, snapshot_for

US = {"country": "US", "region": "US-NY", "timezone": "America/New_York", "amount_currency": "USD"}
CA = {"country": "CA", "timezone": "America/Toronto", "amount_currency": "CAD"}
GB = {"country": "GB", "timezone": "Europe/London", "amount_currency": "GBP"}
AU: dict[str, Any] = {}  # the factories' consumer
DE = {"country": "DE", "timezone": "Europe/Berlin", "amount_currency": "EUR"}
JP = {"country": "JP", "timezone": "Asia/Tokyo", "amount_currency": "JPY"}
A4_PT = (595.28, 841.89)
LETTER_PT = (612.0, 792.0)
# A company abroad, as the snapshot contract has it: name, address lines without the country, ISO country.
COURSERA = {"legal_name": "Coursera, Inc.", "address_lines": ["381 E. Evelyn Ave.", "Mountain View, CA 94041"],
            "address_country": "US"}


def pages_of(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def page_sizes(pdf: bytes) -> set[tuple[float, float]]:
    return {(round(float(p.mediabox.width), 2), round(float(p.mediabox.height), 2))
            for p in PdfReader(io.BytesIO(pdf)).pages}


def flat(pdf: bytes) -> str:
    return " ".join(" ".join(pages_of(pdf)).split())


def with_company(snapshot: dict[str, Any], **company: Any) -> dict[str, Any]:
    return {**snapshot, "company": {**snapshot["company"], **company}}


# --- Paper, dates and closing by the consumer's country ------------------------------------------------------------

@pytest.mark.parametrize("place", [US, CA], ids=["US", "CA"])
def test_us_and_canadian_letters_are_us_letter_dated_month_first_and_signed_sincerely(place: dict[str, Any]) -> None:
    snapshot = snapshot_for(letter_day=dt.date(2026, 12, 6), **place)
    letter = render(snapshot)
    assert page_sizes(letter.pdf) == {LETTER_PT}
    text = flat(letter.pdf)
    assert "Sincerely," in text
    assert "Yours faithfully" not in text
    assert "December 6, 2026" in text
    assert "6 December 2026" not in text
    assert "by December 16, 2026" in text  # the reply date in the body, written by a macro, follows too
    assert PdfReader(io.BytesIO(letter.pdf)).trailer["/Root"]["/Lang"] == f"en-{place['country']}"


@pytest.mark.parametrize("place", [GB, AU, DE], ids=["GB", "AU", "DE"])
def test_other_letters_are_a4_dated_day_first_and_signed_yours_faithfully(place: dict[str, Any]) -> None:
    letter = render(snapshot_for(letter_day=dt.date(2026, 12, 6), **place))
    assert page_sizes(letter.pdf) == {A4_PT}
    text = flat(letter.pdf)
    assert "Yours faithfully," in text
    assert "Sincerely" not in text
    assert "6 December 2026" in text
    assert "December 6, 2026" not in text


def test_a_follow_up_to_a_us_consumer_dates_the_earlier_letter_month_first() -> None:
    text = flat(render(snapshot_for(letter_day=dt.date(2026, 12, 9), kind="follow_up", **US)).pdf)
    assert "my letter dated November 27, 2026" in text
    assert "delivered on November 16, 2026" in text


def test_long_dates_by_convention() -> None:
    assert format_long_date("2026-12-06", "US") == "December 6, 2026"
    assert format_long_date(dt.date(2027, 1, 31), "ca") == "January 31, 2027"
    assert format_long_date("2026-12-06", "GB") == "6 December 2026"
    assert format_long_date("2026-12-06", None) == "6 December 2026"


# --- The closing never starts a page on its own --------------------------------------------------------------------

def address_of(extra_lines: int) -> str:
    return "\n".join(["12 Example Street", *(f"Building {i}, Long Estate Road" for i in range(extra_lines)),
                      "Brunswick VIC 3056"])


@pytest.mark.parametrize(("place", "closing"), [(GB, "Yours faithfully,"), (US, "Sincerely,")], ids=["A4", "Letter"])
def test_the_closing_and_name_always_share_a_page_with_the_letters_text(place: dict[str, Any], closing: str) -> None:
    """A longer sender address pushes the body down a line at a time, across the bottom of page 1 and beyond."""
    page_counts = []
    two_pages_seen = 0
    for extra in range(40):
        snapshot = snapshot_for(consumer_postal_address=address_of(extra),
                                account_identifier="jane.consumer.account-0042@example.com", **place)
        pages = pages_of(render(snapshot).pdf)
        page_counts.append(len(pages))
        (signed,) = [page for page in pages if closing in page]
        before = signed.split(closing)[0]
        assert len(before.strip()) > 40, (extra, signed[:200])  # at least a line of the letter's text
        assert "Jane Q. Consumer" in signed.split(closing)[1]
        two_pages_seen += len(pages) > 1
        if two_pages_seen > 6:
            break
    assert page_counts[0] == 1, page_counts  # the sweep did cross the end of page 1
    assert page_counts[-1] == 2, page_counts


# --- The recipient block and the window ----------------------------------------------------------------------------

def lines_of_page(pdf: bytes, page: int = 0) -> list[str]:
    return [line.strip() for line in pages_of(pdf)[page].splitlines()]


def test_the_recipient_is_one_line_each_with_the_country_abroad_last_in_capitals() -> None:
    snapshot = with_company(snapshot_for(), **COURSERA)  # an Australian consumer writing to the US
    lines = lines_of_page(render(snapshot).pdf)
    start = lines.index("Coursera, Inc.")
    assert lines[start:start + 4] == ["Coursera, Inc.", "381 E. Evelyn Ave.", "Mountain View, CA 94041",
                                      "UNITED STATES"]


def test_a_domestic_address_has_no_country_line() -> None:
    snapshot = with_company(snapshot_for(**US), **COURSERA)
    lines = lines_of_page(render(snapshot).pdf)
    start = lines.index("Coursera, Inc.")
    assert lines[start:start + 3] == ["Coursera, Inc.", "381 E. Evelyn Ave.", "Mountain View, CA 94041"]
    assert "UNITED STATES" not in lines


def test_an_old_snapshots_comma_joined_address_is_kept_as_one_line_after_the_name() -> None:
    snapshot = snapshot_for()
    company = {key: value for key, value in snapshot["company"].items()
               if key not in ("address_lines", "address_country")}
    company["postal_address"] = "Coursera, Inc., 381 E. Evelyn Ave., Mountain View, California 94041, USA"
    text = flat(render({**snapshot, "company": company}).pdf)
    assert "Coursera, Inc. 381 E. Evelyn Ave., Mountain View, California 94041, USA" in text
    assert "Coursera, Inc., 381" not in text


def test_address_lines_from_snapshots_of_any_age() -> None:
    assert company_address_lines({"legal_name": "Coursera, Inc.", "name": "Coursera",
                                  "postal_address": "Coursera, Inc., 381 E. Evelyn Ave., Mountain View"}) \
        == ["381 E. Evelyn Ave., Mountain View"]
    assert company_address_lines({"legal_name": "Streamly Ltd", "postal_address": "Streamly Ltd\n1 Market Street\n"
                                  "London EC1A 1AA"}) == ["1 Market Street", "London EC1A 1AA"]
    assert company_address_lines({"legal_name": "X", "postal_address": None}) == []
    assert company_address_lines({"legal_name": "X", "address_lines": [" 1 Road ", ""],
                                  "postal_address": "ignored"}) == ["1 Road"]


def test_a_snapshot_from_before_the_new_fields_renders() -> None:
    old = {"reference": "CW-2026-7K3M9QXD", "letter_version": 1, "letter_date": "2026-11-27",
           "consumer": {"name": "Jane Q. Consumer", "email": "jane@example.com"}, "account_identifier": None,
           "company": {"name": "Coursera", "delivery_kind": "post",
                       "delivery_address": "Coursera, Inc., 381 E. Evelyn Ave., Mountain View, California 94041"},
           "plan": {"slug": "coursera-plus-annual", "name": "Coursera Plus (annual)", "billing": "annual"},
           "payment_date": "2026-11-20", "trial_start_date": None, "amount": None,
           "requested_outcome": "cancel", "policy_version": "coursera@2026-02-06"}
    s = with_defaults(old)
    assert s["company"]["legal_name"] == "Coursera"
    # Without the legal name there is no telling where the name ends in the line: it stays whole.
    assert s["company"]["address_lines"] == ["Coursera, Inc., 381 E. Evelyn Ave., Mountain View, California 94041"]
    assert s["country"] is None
    letter = renderer().render("cancellation", old)
    assert page_sizes(letter.pdf) == {A4_PT}
    assert "By post" in flat(letter.pdf)


def words_on_page_one(pdf: bytes) -> list[tuple[str, float, float, float, float]]:
    """Each word of page 1 with its box in millimetres from the sheet's top-left corner."""
    html = subprocess.run(["pdftotext", "-bbox", "-f", "1", "-l", "1", "-", "-"], input=pdf,
                          capture_output=True, check=True).stdout.decode()
    return [(word, *(float(v) / MM for v in xy))
            for *xy, word in re.findall(r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<',
                                        html)]


IN = 25.4
# (left, top, right, bottom) in mm: DIN 5008 for A4; for US Letter the #10 envelope's window, 7/8 in from the left
# and 2 in from the top, 4 1/2 x 1 1/8 in.
WINDOWS = {"A4": (20, 45, 110, 90), "Letter": (0.875 * IN, 2 * IN, 5.375 * IN, 3.125 * IN)}


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler's pdftotext")
@pytest.mark.parametrize(("paper", "place"), [("A4", GB), ("Letter", US)])
def test_only_the_address_shows_through_the_window_and_the_channel_is_outside_it(
    paper: str, place: dict[str, Any]
) -> None:
    """The web form's URL used to print inside the window; now the window holds the postal address alone."""
    snapshot = with_company(snapshot_for(**place), address_lines=["381 E. Evelyn Ave.", "Mountain View, CA 94041"],
                            address_country="US", legal_name="Coursera, Inc.")
    assert snapshot["company"]["delivery_kind"] == "web_form"
    letter = render(snapshot)
    left, top, right, bottom = WINDOWS[paper]
    inside = [w for w, x0, y0, x1, y1 in words_on_page_one(letter.pdf)
              if x1 > left and x0 < right and y1 > top and y0 < bottom]
    recipient = ["Coursera,", "Inc.", "381", "E.", "Evelyn", "Ave.", "Mountain", "View,", "CA", "94041"]
    if place is not US:
        recipient += ["UNITED", "STATES"]
    # DIN 5008 puts the sender's one-line return address at the top of the window, above a rule; US Letter not.
    return_line = ["Jane", "Q.", "Consumer,", "12", "Example", "Street,", "Brunswick", "VIC", "3056"]
    if paper == "Letter":
        return_line = []
    assert inside == return_line + recipient
    squeezed = "".join(flat(letter.pdf).split())
    assert "Submittedthroughhttps://learner.coursera.help/hc/en-us/requests/new" in squeezed


# --- Addresses break where a reader expects ------------------------------------------------------------------------

LONG_EMAIL = "jane.alexandra.consumer-longname@mail.example.co.uk"


@pytest.mark.parametrize("place", [GB, US], ids=["A4", "Letter"])
def test_a_long_email_address_breaks_after_the_at_sign_never_inside_the_domain(place: dict[str, Any]) -> None:
    letter = render(snapshot_for(consumer_email=LONG_EMAIL, **place))
    lines = lines_of_page(letter.pdf)
    assert "mail.example.co.uk" in lines, [line for line in lines if "example" in line]
    for line in lines:
        assert not re.search(r"(mail|mail\.example|mail\.example\.co)\.?$", line), line
    raw = "".join(pages_of(letter.pdf))
    assert "\u200b" not in raw  # nothing invisible comes out when the text is copied
    assert "\u2060" not in raw


def test_email_and_url_break_points() -> None:
    zw, wj = "\u200b", "\u2060"
    assert email_breaks("cancel@streamly.example") == "cancel@streamly.example"  # fits: moves to a line whole
    assert email_breaks("jane.doe.longname@example.co.uk") == f"jane{zw}.doe{zw}.longname@{zw}example.co.uk"
    assert email_breaks("a@averyveryverylongsubdomain.example.com") == \
        f"a@{zw}averyveryverylongsubdomain{zw}.example{zw}.com"
    assert email_breaks("my-name@my-company.example") == f"my-{wj}name@{zw}my-{wj}company.example"
    assert email_breaks("my-name@example.com") == f"my-{wj}name@example.com"
    assert email_breaks("acct 42 @ home") == "acct 42 @ home"  # not an address: as typed
    assert url_breaks("https://learner.coursera.help/hc/en-us/requests/new") == \
        f"https://{zw}learner.coursera.help/{zw}hc/{zw}en-{wj}us/{zw}requests/{zw}new"


# --- Money ---------------------------------------------------------------------------------------------------------

PROBES = {
    "probe.html": '{% import "probe_macros.html" as pm %}'
                  "{{ s.amount | money }}|{{ pm.amount(s) }}|{{ s.letter_date | longdate }}|{{ pm.day(s) }}",
    "probe_macros.html": "{% macro amount(s) %}{{ s.amount | money }}{% endmacro %}"
                         "{% macro day(s) %}{{ s.letter_date | longdate }}{% endmacro %}",
}


class ProbeRenderer(LetterRenderer):
    """The letters' renderer with one more template, which uses the filters directly and in an imported macro,
    as the letter bodies do."""

    def __init__(self) -> None:
        super().__init__()
        self.loader = jinja2.ChoiceLoader([jinja2.DictLoader(PROBES), self.loader])  # type: ignore[assignment]
        self.env.loader = self.loader


@pytest.fixture(scope="module")
def probe() -> ProbeRenderer:
    return ProbeRenderer()


@pytest.mark.parametrize(("place", "value", "expected"), [
    (JP, "7900.00", "¥7,900|¥7,900|27 November 2026|27 November 2026"),
    (US, "59.00", "$59.00|$59.00|November 27, 2026|November 27, 2026"),
    (DE, "59.00", "59,00\xa0€|59,00\xa0€|27 November 2026|27 November 2026"),
])
def test_money_and_dates_follow_the_consumers_country_also_inside_imported_macros(
    probe: ProbeRenderer, place: dict[str, Any], value: str, expected: str
) -> None:
    snapshot = snapshot_for(**place)
    snapshot["amount"] = {"value": value, "currency": place["amount_currency"]}
    assert probe.html("probe", snapshot) == expected


def test_money_of_an_old_snapshot(probe: ProbeRenderer) -> None:
    old = snapshot_for(**JP)
    del old["country"]
    old["amount"] = {"value": 7900, "currency": "JPY"}
    assert probe.html("probe", old).split("|")[:2] == ["¥7,900", "¥7,900"]
    assert probe.html("probe", {**old, "amount": None}).split("|")[:2] == ["", ""]


# --- Names in CJK scripts ------------------------------------------------------------------------------------------

def page_fonts(pdf: bytes) -> set[str]:
    return {str(ref.get_object()["/BaseFont"]) for page in PdfReader(io.BytesIO(pdf)).pages
            for ref in page["/Resources"]["/Font"].values()}


@pytest.mark.parametrize(("place", "name", "address", "lang", "font"), [
    (JP, "山田 直子", "千代田区千代田1-1\n東京都 100-0001", "ja", "CJK-JP"),
    ({"country": "KR", "timezone": "Asia/Seoul", "amount_currency": "KRW"}, "김민준", "서울특별시 중구 세종대로 110",
     "ko", "CJK-KR"),
    ({"country": "CN", "timezone": "Asia/Shanghai", "amount_currency": "CNY"}, "王小明", "北京市东城区", "zh-Hans",
     "CJK-SC"),
    ({"country": "TW", "timezone": "Asia/Taipei", "amount_currency": "TWD"}, "王小明", "臺北市中正區", "zh-Hant",
     "CJK-TC"),
])
def test_a_cjk_consumers_name_and_address_are_drawn_in_their_regions_glyphs(
    place: dict[str, Any], name: str, address: str, lang: str, font: str
) -> None:
    snapshot = snapshot_for(consumer_name=name, consumer_postal_address=address, **place)
    html = renderer().html("cancellation", snapshot)
    assert html.count(f'lang="{lang}"') >= 4  # return line, sender's name and address, signature
    assert re.search(rf'<p class="name" dir="auto" lang="{lang}">{name}</p>', html)
    assert '<html lang="en">' in html
    letter = render(snapshot)
    fonts = page_fonts(letter.pdf)
    assert any(font in f for f in fonts), fonts
    assert not any("CJK" in f and font not in f for f in fonts), fonts  # no other region's glyphs
    assert name in flat(letter.pdf)


def test_names_outside_cjk_countries_carry_no_lang() -> None:
    html = renderer().html("cancellation", snapshot_for(consumer_name="王小明", **GB))
    assert 'lang="zh' not in html
    assert 'lang="ja"' not in html
