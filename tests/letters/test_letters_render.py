"""The letter PDF: one page, every script, metadata, and a fetcher that loads nothing outside assets."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest
from pypdf import PdfReader
from weasyprint import HTML

from casework.letters.fetcher import AssetsOnlyFetcher
from casework.letters.render import renderer


def snapshot(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "reference": "CW-2026-7K3M9QXD", "letter_version": 1, "letter_date": "2026-11-27",
        "consumer": {"name": "Jane Q. Consumer", "email": "jane@example.com",
                     "postal_address": "12 Example Street\nBrunswick VIC 3056"},
        "account_identifier": "jane@example.com",
        "company": {"name": "Coursera", "legal_name": "Coursera, Inc.", "delivery_kind": "web_form",
                    "delivery_address": "https://learner.coursera.help/hc/en-us/requests/new"},
        "plan": {"slug": "coursera-plus-annual", "name": "Coursera Plus (annual)", "billing": "annual"},
        "payment_date": "2026-11-20", "trial_start_date": None,
        "amount": {"value": "599.00", "currency": "AUD"}, "requested_outcome": "cancel_and_refund",
        "policy_version": "coursera@2026-02-06",
    }
    base.update(changes)
    return base


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_cancellation_letter_is_one_page_with_its_facts() -> None:
    letter = renderer().render("cancellation", snapshot())
    assert letter.pages == 1
    assert letter.sha256 == hashlib.sha256(letter.pdf).hexdigest()
    assert letter.template_version.startswith("cancellation@")
    text = _text(letter.pdf)
    for fact in ("CW-2026-7K3M9QXD", "Coursera, Inc.", "27 November 2026", "$599.00",
                 "20 November 2026", "cancel this subscription with immediate effect", "original payment method"):
        assert fact in " ".join(text.split()), fact


def test_cancel_only_letter_asks_for_no_refund() -> None:
    text = _text(renderer().render("cancellation", snapshot(requested_outcome="cancel")).pdf)
    assert "refund" not in text.lower()


def test_metadata_title_author_language() -> None:
    letter = renderer().render("cancellation", snapshot())
    reader = PdfReader(io.BytesIO(letter.pdf))
    assert reader.metadata is not None
    assert "CW-2026-7K3M9QXD" in str(reader.metadata.title)
    assert reader.metadata.author == "Jane Q. Consumer"
    assert "/Lang" in reader.trailer["/Root"]


@pytest.mark.parametrize("name", ["王小明", "محمد عبد الله", "Zoë Ångström-Núñez"])
def test_names_in_any_script_render(name: str) -> None:
    consumer = {"name": name, "email": "x@example.com", "postal_address": None}
    letter = renderer().render("cancellation", snapshot(consumer=consumer))
    fonts = set()
    for page in PdfReader(io.BytesIO(letter.pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            fonts.add(str(font.get_object()["/BaseFont"]))
    assert any("Noto" in f for f in fonts), fonts
    if name.startswith("Zo"):
        assert name in _text(letter.pdf)


HOSTILE = ["file:///etc/passwd", "http://169.254.169.254/latest/meta-data/"]


@pytest.mark.parametrize("url", HOSTILE)
def test_hostile_urls_in_consumer_fields_fetch_nothing(url: str) -> None:
    fetcher = AssetsOnlyFetcher()
    consumer = {"name": f'<img src="{url}">', "email": url, "postal_address": f"<link href='{url}'>"}
    letter = renderer().render("cancellation", snapshot(consumer=consumer, account_identifier=url), fetcher)
    assert fetcher.refused == []  # escaped text: nothing even tried to load
    assert b"root:x:0:0" not in letter.pdf


@pytest.mark.parametrize("url", HOSTILE)
def test_the_fetcher_refuses_everything_outside_assets(url: str) -> None:
    fetcher = AssetsOnlyFetcher()
    pdf = HTML(string=f'<p>x</p><img src="{url}"><link rel="stylesheet" href="{url}">',
               url_fetcher=fetcher).write_pdf()
    assert url in fetcher.refused
    assert b"root:x:0:0" not in pdf


def test_a_snapshot_frozen_before_the_newer_fields_still_renders() -> None:
    """Stored snapshots are never rewritten: one without deadlines, law or verification code still renders."""
    text = " ".join(_text(renderer().render("cancellation", snapshot()).pdf).split())
    assert "Verify this letter" not in text
    assert "Provisions that may apply" not in text
    assert "by 7 December 2026" in text


def test_an_old_follow_up_renders_with_the_request_its_first_letter_made() -> None:
    """A follow-up frozen before requests were recorded (no ``asked``, earlier letters without it) still renders,
    and asks what such letters asked: the subscription stopped and, where asked for, the refund."""
    earlier = [{"kind": "cancellation", "version": 1, "letter_date": "2026-11-27", "reference": "CW-2026-7K3M9QXD",
                "sha256_prefix": "c0ffeec0ffeec0ff", "sent_on": "2026-11-28"}]
    old = snapshot(kind="follow_up", letter_date="2026-12-09", ask_refund=True, earlier=earlier)
    text = " ".join(_text(renderer().render("follow_up", old).pdf).split())
    assert "my letter dated 27 November 2026" in text
    assert "refund the payment of A$599.00 made on 20 November 2026" in text  # no country frozen: plain English
    assert "if you refuse the refund, end the subscription instead" in text
    assert "within 14 days of that payment" not in text  # the old letter recorded no basis: none is invented
