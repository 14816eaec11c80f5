"""Jinja → HTML → WeasyPrint, with everything expensive built once per process.

A worker keeps one :class:`LetterRenderer`: the font configuration and the parsed stylesheet are
reused across letters, which is most of the cost of a small document.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from casework.config import PROJECT_ROOT
from casework.letters.fetcher import ASSETS_DIR, AssetsOnlyFetcher

LETTER_TEMPLATES = PROJECT_ROOT / "templates" / "letters"
BILLING_WORDS = {"monthly": "billed monthly", "annual": "billed yearly", "one_time": "one-time purchase"}


@dataclass(frozen=True)
class RenderedLetter:
    pdf: bytes
    sha256: str
    pages: int
    template_version: str


def long_date(value: str | dt.date) -> str:
    day = dt.date.fromisoformat(value) if isinstance(value, str) else value
    return f"{day.day} {day:%B %Y}"


class LetterRenderer:
    def __init__(self) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(LETTER_TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.env.filters["longdate"] = long_date
        self.env.filters["billing"] = lambda b: BILLING_WORDS.get(b, b)
        self.font_config = FontConfiguration()
        css_path = LETTER_TEMPLATES / "letter.css"
        self.css_source = css_path.read_text(encoding="utf-8")
        self.stylesheet = CSS(string=self.css_source, font_config=self.font_config,
                              url_fetcher=AssetsOnlyFetcher(), base_url=ASSETS_DIR.as_uri() + "/")

    def template_version(self, kind: str) -> str:
        """A content hash of the template and stylesheet, so evidence names exactly what made a PDF."""
        source, _, _ = self.env.loader.get_source(self.env, f"{kind}.html")  # type: ignore[union-attr]
        digest = hashlib.sha256((source + "\0" + self.css_source).encode()).hexdigest()[:12]
        return f"{kind}@{digest}"

    def html(self, kind: str, snapshot: dict[str, Any]) -> str:
        template = self.env.get_template(f"{kind}.html")
        return template.render(s=snapshot, template_version=self.template_version(kind))

    def render(
        self, kind: str, snapshot: dict[str, Any], fetcher: AssetsOnlyFetcher | None = None
    ) -> RenderedLetter:
        source = self.html(kind, snapshot)
        document = HTML(
            string=source,
            base_url=ASSETS_DIR.as_uri() + "/",
            url_fetcher=fetcher or AssetsOnlyFetcher(),
        ).render(font_config=self.font_config, stylesheets=[self.stylesheet], pdf_tags=True)
        pdf = document.write_pdf(pdf_tags=True)
        return RenderedLetter(
            pdf=pdf,
            sha256=hashlib.sha256(pdf).hexdigest(),
            pages=len(document.pages),
            template_version=self.template_version(kind),
        )


@cache
def renderer() -> LetterRenderer:
    """The process's renderer, built on first use (not at import)."""
    return LetterRenderer()
