"""Jinja → HTML → WeasyPrint, with everything expensive built once per process.

A worker keeps one :class:`LetterRenderer`: the font configuration, the parsed stylesheet and each
template's version hash are reused across letters, which is most of the cost of a small document.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

import jinja2
from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from casework.config import PROJECT_ROOT
from casework.letters.fetcher import ASSETS_DIR, AssetsOnlyFetcher

LETTER_TEMPLATES = PROJECT_ROOT / "templates" / "letters"
SHARED_TEMPLATES = ("base.html", "macros.html")
"""Templates every letter kind is built from; they are part of each kind's version hash."""
BILLING_WORDS = {"monthly": "billed monthly", "annual": "billed yearly", "one_time": "one-time purchase"}
REPLY_DAYS = 10


@dataclass(frozen=True)
class RenderedLetter:
    pdf: bytes
    sha256: str
    pages: int
    template_version: str


def long_date(value: str | dt.date) -> str:
    day = dt.date.fromisoformat(value) if isinstance(value, str) else value
    return f"{day.day} {day:%B %Y}"


@cache
def letter_locale(country: str | None) -> str:
    """The English locale of the consumer's country (``en_DE`` writes 59,00 €), or plain ``en``."""
    if country:
        try:
            return str(Locale.parse(f"en_{country.upper()}"))
        except (UnknownLocaleError, ValueError):
            pass
    return "en"


@jinja2.pass_context
def money(context: jinja2.runtime.Context, amount: dict[str, str]) -> str:
    """An amount as the consumer's locale writes it, with the currency's own minor units (no ¥7,900.00)."""
    snapshot = context.get("s") or {}
    locale = letter_locale(snapshot.get("country"))
    return format_currency(Decimal(amount["value"]), amount["currency"], locale=locale)


def one_line(value: str | None) -> str:
    """An address on one line (for the return line above the recipient)."""
    return ", ".join(part.strip() for part in (value or "").splitlines() if part.strip())


def with_defaults(snapshot: dict[str, Any]) -> dict[str, Any]:
    """Fill what snapshots frozen before a field existed lack, so any stored snapshot still renders."""
    s = dict(snapshot)
    day = dt.date.fromisoformat(s["letter_date"])
    s.setdefault("kind", "cancellation")
    s.setdefault("reply_by", (day + dt.timedelta(days=REPLY_DAYS)).isoformat())
    s.setdefault("refund_eligibility", None)
    s.setdefault("ask_refund", s.get("requested_outcome") == "cancel_and_refund")
    for key in ("deadlines", "law", "escalation", "earlier"):
        s.setdefault(key, [])
    for key in ("verification_code", "verify_url", "base_url", "contract_date"):
        s.setdefault(key, None)
    company = dict(s["company"])
    company.setdefault("postal_address",
                       company["delivery_address"] if company.get("delivery_kind") == "post" else None)
    s["company"] = company
    return s


class LetterRenderer:
    def __init__(self) -> None:
        # No auto-reload: a process renders with the templates whose hash it names in template_version.
        self.loader = jinja2.FileSystemLoader(LETTER_TEMPLATES)
        self.env = jinja2.Environment(
            loader=self.loader, autoescape=True, undefined=jinja2.StrictUndefined, auto_reload=False,
        )
        self.env.filters["longdate"] = long_date
        self.env.filters["billing"] = lambda b: BILLING_WORDS.get(b, b)
        self.env.filters["oneline"] = one_line
        self.env.filters["money"] = money
        self.font_config = FontConfiguration()
        css_path = LETTER_TEMPLATES / "letter.css"
        self.css_source = css_path.read_text(encoding="utf-8")
        self.stylesheet = CSS(string=self.css_source, font_config=self.font_config,
                              url_fetcher=AssetsOnlyFetcher(), base_url=ASSETS_DIR.as_uri() + "/")
        self._versions: dict[str, str] = {}

    def template_version(self, kind: str) -> str:
        """A content hash of the templates and stylesheet, so evidence names exactly what made a PDF."""
        if kind not in self._versions:
            names = (f"{kind}.html", *(n for n in SHARED_TEMPLATES if n != f"{kind}.html"))
            sources = [self.loader.get_source(self.env, name)[0] for name in names]
            digest = hashlib.sha256("\0".join([*sources, self.css_source]).encode()).hexdigest()[:12]
            self._versions[kind] = f"{kind}@{digest}"
        return self._versions[kind]

    def html(self, kind: str, snapshot: dict[str, Any]) -> str:
        template = self.env.get_template(f"{kind}.html")
        return template.render(s=with_defaults(snapshot), template_version=self.template_version(kind))

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
