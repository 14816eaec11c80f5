"""An emoji in a consumer's name is drawn in the letter, not left as an empty box, and the e-mails carry it too."""

from __future__ import annotations

import email
import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from email.message import Message

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader

from casework.letters.render import renderer
from casework.runtime import Runtime
from casework.syscheck import PACKAGES
from casework.web import limiter
from tests.letters.test_letters_render import snapshot
from tests.support.jobs import run_pending_jobs
from tests.support.web import filing_form, post_form

NAME = "Zoë 🌻 Ångström"
EMOJI_FONT = "Noto Color Emoji"
EMOJI_PACKAGE = "fonts-noto-color-emoji"


def require_emoji_font() -> None:
    """Skip, saying what to install, where the emoji font is missing; CI installs it, so there it must be."""
    listed = subprocess.run(["fc-list", EMOJI_FONT, "family"], capture_output=True, text=True,
                            check=False).stdout if shutil.which("fc-list") else ""
    if EMOJI_FONT in listed:
        return
    message = f"the {EMOJI_FONT} font is not installed (apt-get install -y {EMOJI_PACKAGE}, or make syscheck)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def pdf_fonts(pdf: bytes) -> set[str]:
    return {str(ref.get_object()["/BaseFont"]) for page in PdfReader(io.BytesIO(pdf)).pages
            for ref in page["/Resources"]["/Font"].values()}


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def emoji_font_text(pdf: bytes) -> str:
    """What the PDF draws with the emoji font (text runs whose font is it), stripped of spaces."""
    drawn: list[str] = []

    def visit(text: str, cm: object, tm: object, font: dict[str, object] | None, size: float) -> None:
        if font is not None and "Noto-Color-Emoji" in str(font.get("/BaseFont")):
            drawn.append(text)

    for page in PdfReader(io.BytesIO(pdf)).pages:
        page.extract_text(visitor_text=visit)
    return "".join("".join(drawn).split())


def test_the_emoji_font_is_in_the_one_package_list() -> None:
    assert EMOJI_PACKAGE in PACKAGES["run"]  # fresh machines get it with the other fonts


def test_an_emoji_in_the_name_is_drawn_with_the_emoji_font() -> None:
    require_emoji_font()
    consumer = {"name": NAME, "email": "zoe@example.com", "postal_address": None}
    letter = renderer().render("cancellation", snapshot(consumer=consumer))
    fonts = pdf_fonts(letter.pdf)
    assert any("Noto-Color-Emoji" in font for font in fonts), fonts
    assert any("Noto-Sans" in font for font in fonts), fonts  # the letters around it stay in the letter's face
    names = pdf_text(letter.pdf).count(NAME)  # the glyph maps back to the emoji: drawn, not a box
    assert names >= 3  # the return line, the sender and the signature
    # Only the emoji: dates, amounts and the reference keep Noto Sans's digits (WeasyPrint draws digits from an
    # emoji font that the stylesheet names, so letter.css names none).
    assert emoji_font_text(letter.pdf) == "🌻" * names


def test_a_name_without_emoji_embeds_no_emoji_font() -> None:
    letter = renderer().render("cancellation", snapshot())
    assert not any("Emoji" in font for font in pdf_fonts(letter.pdf))


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


def parts(message: Message) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            found.setdefault(part.get_content_type(), payload)
    return found


@pytest.mark.http
def test_the_confirmation_e_mail_greets_the_consumer_with_the_emoji(client: FlaskClient, committed: Runtime) -> None:
    assert post_form(client, "/", filing_form(**{"consumer.name": NAME})).status_code == 303
    run_pending_jobs(committed)
    messages = [email.message_from_bytes(p.read_bytes()) for p in committed.settings.outbox.glob("*.eml")]
    assert len(messages) == 1
    found = parts(messages[0])
    assert f"Dear {NAME}," in found["text/plain"].decode()
    assert f"Dear {NAME}," in found["text/html"].decode()
    require_emoji_font()  # the e-mail's text is the reader's to draw; the attached letter is ours
    pdf = found["application/pdf"]
    assert emoji_font_text(pdf) == "🌻" * pdf_text(pdf).count(NAME) != ""
