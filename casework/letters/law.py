"""The statutory clauses a letter may cite, chosen by country, region and dates.

The clauses live in ``law.toml`` beside this module. A citation of law that is not yet in force, or that was struck
down, would mislead the consumer and the company, so the file is validated strictly and every rule that could let
such a clause through is checked here rather than left to the letter template.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from casework.datafile import TableReader

LAW_FILE = Path(__file__).resolve().parent / "law.toml"

EU_MEMBER_STATES = frozenset({
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
    "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
})
"""The 27 EU member states (ISO 3166-1 alpha-2; Greece is GR, not the EU's own EL)."""

EU = "EU"
IN_FORCE, NOT_IN_FORCE, VACATED = "in_force", "not_in_force", "vacated"
STATUSES = (IN_FORCE, NOT_IN_FORCE, VACATED)

_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_JURISDICTION = re.compile(r"[A-Z]{2}(?:-[A-Z0-9]{1,3})?")
_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)")


class LawDataError(Exception):
    """The law file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class LawSource:
    """Where a clause's wording was checked, so a letter's citation can be traced."""

    title: str
    url: str
    checked_on: dt.date


@dataclass(frozen=True)
class Clause:
    """One citable (or deliberately uncitable) piece of law, as recorded in the data file."""

    id: str
    jurisdiction: str
    instrument: str
    sections: tuple[str, ...]
    text: str
    in_force_from: dt.date | None
    sources: tuple[LawSource, ...]
    status: str = IN_FORCE
    in_force_until: dt.date | None = None
    vacated_on: dt.date | None = None
    applies_to_contracts_from: dt.date | None = None
    note: str = ""

    @property
    def region(self) -> str | None:
        """The ISO 3166-2 region for state law, None for national or EU law."""
        return self.jurisdiction if "-" in self.jurisdiction else None

    def applies_to(self, country: str, region: str | None) -> bool:
        """Whether this clause's jurisdiction covers a consumer in ``country`` (and ``region``)."""
        if self.jurisdiction == EU:
            return country in EU_MEMBER_STATES
        if self.region is not None:
            return region == self.region and self.region.split("-", 1)[0] == country
        return self.jurisdiction == country

    def in_force_on(self, letter_date: dt.date, contract_date: dt.date) -> bool:
        """Whether a letter dated ``letter_date`` about a contract of ``contract_date`` may cite this clause."""
        if self.status != IN_FORCE or self.in_force_from is None or self.in_force_from > letter_date:
            return False
        ends = [d for d in (self.in_force_until, self.vacated_on) if d is not None]
        if any(end <= letter_date for end in ends):
            return False
        return self.applies_to_contracts_from is None or contract_date >= self.applies_to_contracts_from


class _Reader(TableReader):
    """Pulls typed fields out of one TOML table and reports mistakes with file and field path."""

    error = LawDataError

    def text(self, key: str) -> str:
        return self._text(key, self.value(key, True))

    def optional_text(self, key: str, required: bool = False) -> str | None:
        value = self.value(key, required)
        return None if value is None else self._text(key, value)

    def _text(self, key: str, value: Any) -> str:
        if not isinstance(value, str):
            self.fail(key, "must be a string")
        if not value.strip():
            self.fail(key, "must not be empty")
        return value.strip()

    def date(self, key: str) -> dt.date:
        return self._date(key, self.value(key, True))

    def optional_date(self, key: str) -> dt.date | None:
        value = self.value(key, False)
        return None if value is None else self._date(key, value)

    def _date(self, key: str, value: Any) -> dt.date:
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            self.fail(key, "must be a date (YYYY-MM-DD, unquoted)")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.value(key, True)
        if not isinstance(value, list):
            self.fail(key, "must be a list of strings")
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.fail(f"{key}[{i}]", "must be a non-empty string")
        return tuple(item.strip() for item in value)

    def tables(self, key: str) -> list[Any]:
        value = self.value(key, True)
        if not isinstance(value, list) or not value:
            self.fail(key, "must list at least one entry")
        return list(value)




def _parse(path: Path) -> Any:
    """Read the TOML, naming the offending line's field when the file does not parse (e.g. 2025-02-30)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LawDataError(f"{path.name}: cannot be read: {exc.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        field = ""
        match = _TOML_POSITION.search(str(exc))
        if match:
            lines = text.splitlines()
            lineno = int(match.group(1))
            if 0 < lineno <= len(lines) and "=" in lines[lineno - 1]:
                field = lines[lineno - 1].split("=", 1)[0].strip() + ": "
        raise LawDataError(f"{path.name}: {field}not valid TOML: {exc}") from None


def _source(path: Path, where: str, raw: Any) -> LawSource:
    r = _Reader(path, where, raw)
    title, url, checked_on = r.text("title"), r.text("url"), r.date("checked_on")
    r.done()
    if not url.startswith("https://"):
        r.fail("url", "must be an https:// address")
    return LawSource(title, url, checked_on)


def _clause(path: Path, where: str, raw: Any) -> Clause:
    r = _Reader(path, where, raw)
    clause_id, jurisdiction, instrument = r.text("id"), r.text("jurisdiction"), r.text("instrument")
    if not _ID.fullmatch(clause_id):
        r.fail("id", "must be lower-case words joined by hyphens")
    if jurisdiction != EU and not _JURISDICTION.fullmatch(jurisdiction):
        r.fail("jurisdiction", 'must be "EU", an ISO country code ("GB") or an ISO 3166-2 region ("US-CA")')
    sections = r.strings("sections")
    status = r.optional_text("status") or IN_FORCE
    if status not in STATUSES:
        r.fail("status", f"must be one of {', '.join(STATUSES)}")
    text = r.optional_text("text", required=status == IN_FORCE) or ""
    in_force_from = r.optional_date("in_force_from")
    in_force_until = r.optional_date("in_force_until")
    vacated_on = r.optional_date("vacated_on")
    contracts_from = r.optional_date("applies_to_contracts_from")
    note = r.optional_text("note") or ""
    sources = tuple(_source(path, f"{where}.sources[{i}]", s) for i, s in enumerate(r.tables("sources")))
    r.done()

    if status == IN_FORCE:
        if in_force_from is None:
            r.fail("in_force_from", 'is missing (a clause without it must have status = "not_in_force")')
        if not sections:
            r.fail("sections", "must name at least one section")
    if status == NOT_IN_FORCE and in_force_from is not None:
        r.fail("in_force_from", 'must be absent while status = "not_in_force"; set status = "in_force" with it')
    if status == VACATED and vacated_on is None:
        r.fail("vacated_on", 'is missing (required with status = "vacated")')
    for key, end in (("in_force_until", in_force_until), ("vacated_on", vacated_on)):
        if end is not None and in_force_from is not None and end <= in_force_from:
            r.fail(key, "must be after in_force_from")
    return Clause(
        id=clause_id, jurisdiction=jurisdiction, instrument=instrument, sections=sections, text=text,
        in_force_from=in_force_from, sources=sources, status=status, in_force_until=in_force_until,
        vacated_on=vacated_on, applies_to_contracts_from=contracts_from, note=note,
    )


def load_clauses(path: Path = LAW_FILE) -> tuple[Clause, ...]:
    """Load and validate a law file; any mistake is a :class:`LawDataError` naming the field."""
    top = _Reader(path, "", _parse(path))
    clauses: list[Clause] = []
    seen: set[str] = set()
    for i, raw in enumerate(top.tables("clause")):
        clause = _clause(path, f"clause[{i}]", raw)
        if clause.id in seen:
            raise LawDataError(f"{path.name}: clause[{i}].id: duplicate id {clause.id!r}")
        seen.add(clause.id)
        clauses.append(clause)
    top.done()
    return tuple(clauses)


@cache
def default_clauses() -> tuple[Clause, ...]:
    """The shipped law file, loaded once per process."""
    return load_clauses()


def select_clauses(
    clauses: Iterable[Clause], country: str, region: str | None, contract_date: dt.date, letter_date: dt.date
) -> list[Clause]:
    """The clauses of ``clauses`` a letter may cite, in their given order (see :func:`clauses_in_force`)."""
    country = country.strip().upper()
    region = (region or "").strip().upper() or None
    return [c for c in clauses if c.applies_to(country, region) and c.in_force_on(letter_date, contract_date)]


def clauses_in_force(country: str, region: str | None, contract_date: dt.date, letter_date: dt.date) -> list[Clause]:
    """The statutory clauses a letter dated ``letter_date`` may cite, in the order of the data file.

    ``country`` is an ISO 3166-1 alpha-2 code (GB for the UK; EU rows apply to the 27 member states), ``region`` an
    ISO 3166-2 code such as ``US-CA`` for state law, and ``contract_date`` the later of the payment date and the
    trial start date (a renewal extends the contract). A country with no rows gets an empty list.
    """
    return select_clauses(default_clauses(), country, region, contract_date, letter_date)
