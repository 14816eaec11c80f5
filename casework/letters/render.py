"""Jinja → HTML → WeasyPrint, with everything expensive built once per process.

A worker keeps one :class:`LetterRenderer`: the font configuration, the parsed stylesheet and each
template's version hash are reused across letters, which is most of the cost of a small document.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from contextvars import ContextVar
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
from casework.letters.requests import request_of_earlier

LETTER_TEMPLATES = PROJECT_ROOT / "templates" / "letters"
SHARED_TEMPLATES = ("base.html", "macros.html")
"""Templates every letter kind is built from; they are part of each kind's version hash."""
BILLING_WORDS = {"monthly": "billed monthly", "annual": "billed yearly", "one_time": "one-time purchase"}
REPLY_DAYS = 10


PAPER_LETTER_COUNTRIES = frozenset({"US", "CA"})
"""Consumers whose letters are on US Letter, dated month first and closed "Sincerely,"; the rest get A4."""
CJK_LANGS = {"JP": "ja", "CN": "zh-Hans", "TW": "zh-Hant", "HK": "zh-Hant-HK", "MO": "zh-Hant-MO", "KR": "ko"}
"""The ``lang`` of names and addresses a consumer of these countries gives, so letter.css picks that script's
glyphs (a Japanese name drawn with Simplified Chinese glyphs reads as a different name)."""
_english = Locale.parse("en")

# Imported macros (``{% import "macros.html" as m %}``) get a context without ``s``; the renderer names the
# letter's country here for the length of one render, so a filter called inside a macro still knows it.
_rendering_country: ContextVar[str | None] = ContextVar("rendering_country", default=None)


@dataclass(frozen=True)
class Convention:
    """How a letter is set for the consumer's country: paper, date order, closing, document language."""

    paper: str
    month_first: bool
    closing: str
    lang: str


A4_CONVENTION = Convention(paper="a4", month_first=False, closing="Yours faithfully,", lang="en")
NORTH_AMERICAN = {country: Convention(paper="letter", month_first=True, closing="Sincerely,", lang=f"en-{country}")
                  for country in PAPER_LETTER_COUNTRIES}


def convention(country: str | None) -> Convention:
    return NORTH_AMERICAN.get((country or "").upper(), A4_CONVENTION)


@dataclass(frozen=True)
class RenderedLetter:
    pdf: bytes
    sha256: str
    pages: int
    template_version: str


def letter_country(context: jinja2.runtime.Context) -> str | None:
    """The consumer's country: the snapshot's where the template has it, else the letter being rendered."""
    snapshot = context.get("s")
    if isinstance(snapshot, dict):
        return snapshot.get("country")
    return _rendering_country.get()


def format_long_date(value: str | dt.date, country: str | None) -> str:
    day = dt.date.fromisoformat(value) if isinstance(value, str) else value
    if convention(country).month_first:
        return f"{day:%B} {day.day}, {day.year}"
    return f"{day.day} {day:%B %Y}"


@jinja2.pass_context
def long_date(context: jinja2.runtime.Context, value: str | dt.date) -> str:
    """"December 6, 2026" for a US or Canadian consumer, "6 December 2026" for everyone else."""
    return format_long_date(value, letter_country(context))


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
def money(context: jinja2.runtime.Context, amount: dict[str, Any] | None) -> str:
    """An amount as the consumer's locale writes it, with the currency's own minor units (no ¥7,900.00)."""
    return format_money(amount, letter_country(context))


def format_money(amount: dict[str, Any] | None, country: str | None) -> str:
    """:func:`money` outside a template (the web-form text says what the letter says, in the same words)."""
    if not amount:
        return ""
    return format_currency(Decimal(str(amount["value"])), str(amount["currency"]), locale=letter_locale(country))


def one_line(value: str | None) -> str:
    """An address on one line (for the return line above the recipient)."""
    return ", ".join(part.strip() for part in (value or "").splitlines() if part.strip())


def lines_of(value: str | None) -> list[str]:
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


def script_lang(country: str | None) -> str | None:
    """The ``lang`` for text a consumer of ``country`` typed, where the country writes in a CJK script."""
    return CJK_LANGS.get((country or "").upper())


def country_line(s: dict[str, Any]) -> str | None:
    """The destination country in capitals for the last address line (UPU), when mail crosses a border.

    ``None`` when the company's country is unknown or is the consumer's own: a domestic address has no country.
    """
    destination = (s["company"].get("address_country") or "").upper()
    if not destination or destination == (s.get("country") or "").upper():
        return None
    name = _english.territories.get(destination)
    return name.upper() if name else None


BREAK = "\u200b"
"""A zero-width space: a place where a line may break, invisible and absent from the PDF's text.

Not ``<wbr>``: WeasyPrint lays a ``<wbr>`` out as a box of its own, and inside an inline element it then splits a
word that overflows at any letter (``example.co.`` / ``uk``) before it goes back to the ``<wbr>``."""
GLUE = "-\u2060"
"""A hyphen followed by a word joiner: an address or URL never breaks after its own hyphens, where a reader would
take the hyphen for a word split at the line's end (``en-`` / ``us``)."""
LONG_DOMAIN = 24
"""An address, or a domain, longer than this (about 42 mm of 9.5 pt type) may not fit a column, so it gets places
to break; a shorter one stays whole, moved to the next line entire rather than split after its "@"."""


def _breakable(text: str, before: str = "", after: str = "") -> str:
    """``text`` with a break before each of ``before`` and after each of ``after`` (never between two of these)."""
    out: list[str] = []
    for i, char in enumerate(text):
        if char in before and i > 0 and text[i - 1] not in before + after:
            out.append(BREAK)
        out.append(char)
        if char in after and text[i + 1:i + 2] not in ("", *before, *after):
            out.append(BREAK)
    return "".join(out)


def email_breaks(value: str | None) -> str:
    """A long e-mail address that wraps after "@" or before a dot of its name, never inside a domain that fits.

    Only a domain too long for a narrow column may also break before its dots; the stylesheet's
    ``overflow-wrap: anywhere`` stays the last resort for a single label longer than the column.
    """
    text = value or ""
    local, at, domain = text.rpartition("@")
    if not at or not local or any(char.isspace() for char in text.strip()):
        return text  # not an address (an account identifier may be any text)
    if len(text) <= LONG_DOMAIN:
        return text.replace("-", GLUE)
    host = _breakable(domain, before=".") if len(domain) > LONG_DOMAIN else domain
    return f"{_breakable(local, before='.')}@{BREAK}{host}".replace("-", GLUE)


def url_breaks(value: str | None) -> str:
    """A URL that wraps after "://", a "/" of its path, "?" or "&", and in its host only before a dot of a long one."""
    text = value or ""
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "", text
    host, slash, path = rest.partition("/")
    host = _breakable(host, before=".") if len(host) > LONG_DOMAIN else host
    return (f"{scheme}{sep}{BREAK if sep and host else ''}{host}{slash}{BREAK if path else ''}"
            f"{_breakable(path, after='/?&')}").replace("-", GLUE)


def company_address_lines(company: dict[str, Any]) -> list[str]:
    """The company's postal address without its name, one line each, from a snapshot of any age.

    Snapshots before ``address_lines`` existed hold one ``postal_address`` string, sometimes a single line with
    commas ("Coursera, Inc., 381 E. Evelyn Ave., ..."): that line is kept as it is, without guessing where its
    lines would break, only the company's name in front of it is dropped (the window prints the name first).
    """
    if company.get("address_lines") is not None:
        return [line.strip() for line in company["address_lines"] if line and line.strip()]
    lines = lines_of(company.get("postal_address"))
    names = {n for n in (company.get("legal_name"), company.get("name")) if n}
    if lines and lines[0] in names:
        return lines[1:]
    # Only the full legal name: "Coursera, Inc., 381 E. Evelyn Ave." also starts with the trading name "Coursera".
    legal = company.get("legal_name")
    if len(lines) == 1 and legal and lines[0].startswith(f"{legal}, "):
        return [lines[0][len(legal) + 2:]]
    return lines


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
    for key in ("verification_code", "verify_url", "base_url", "contract_date", "country", "amount",
                "subscription_start_date", "trial_start_date", "payment_date"):
        s.setdefault(key, None)
    # Before requests were recorded, a letter asked to stop the subscription and, where asked for, a refund.
    s.setdefault("asked", request_of_earlier(s))
    s.setdefault("retention_offers", [])
    consumer = dict(s["consumer"])
    consumer.setdefault("postal_address", None)
    s["consumer"] = consumer
    company = dict(s["company"])
    company.setdefault("postal_address",
                       company["delivery_address"] if company.get("delivery_kind") == "post" else None)
    company["address_lines"] = company_address_lines(company)  # before the name is filled in: see there
    company.setdefault("legal_name", company.get("name"))
    company.setdefault("address_country", None)
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
        self.env.filters["email"] = email_breaks
        self.env.filters["url"] = url_breaks
        self.env.globals.update(convention=convention, script_lang=script_lang, country_line=country_line)
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
        s = with_defaults(snapshot)
        token = _rendering_country.set(s["country"])
        try:
            return template.render(s=s, template_version=self.template_version(kind))
        finally:
            _rendering_country.reset(token)

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
