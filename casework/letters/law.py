"""The statutory clauses a letter may cite, chosen by country, region, letter, billing and dates.

The clauses live in ``law.toml`` beside this module. A citation of law that is not yet in force, that was struck
down, that does not fit the contract's dates or that reads as a threat would mislead the consumer and the company,
so the file is validated strictly and every rule that could let such a clause through is checked here rather than
left to the letter template.

Two contract dates matter and are never confused (POLICY-FACTS §3, "Which contract date"):

- ``terms_date``, the later of the subscription start, the payment date and the trial start (the date the contract
  was made or last renewed), decides whether a rule about the contract's terms (``applies_to_contracts_from``)
  covers the contract;
- ``subscription_start``, the day the contract was first made, is the only date a withdrawal-type right
  (``counts_from = "original_contract"``) runs from: a renewal does not restart it, and it is never guessed from a
  payment date.
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

from casework.countries import EU, EU_MEMBER_STATES
from casework.datafile import TableReader

LAW_FILE = Path(__file__).resolve().parent / "law.toml"



IN_FORCE, NOT_IN_FORCE, VACATED = "in_force", "not_in_force", "vacated"
STATUSES = (IN_FORCE, NOT_IN_FORCE, VACATED)

LETTER_KINDS = ("cancellation", "follow_up", "final_notice")
"""The letters a clause may be printed in; the same names as the letter code uses."""
BILLINGS = ("monthly", "annual", "one_time")
"""How the contract is billed; the same names as the catalog's plans use."""
ORIGINAL_CONTRACT = "original_contract"
COUNTS_FROM = (ORIGINAL_CONTRACT,)
"""What a withdrawal-type clause's period runs from: only the day the contract was first made."""
NO_RENEWAL_REMINDER = "no_renewal_reminder"
CONDITIONS = (NO_RENEWAL_REMINDER,)
"""Facts only the consumer can state; a clause with a condition is cited only when the caller passes it."""
CARD_ISSUER = "card_issuer"
ROUTES = (CARD_ISSUER,)
"""Where a clause that never goes to the company is used instead (the consumer's guidance, the evidence pack)."""

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
    note: str = ""


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
    letter_kinds: frozenset[str] = frozenset(LETTER_KINDS)
    billing: frozenset[str] = frozenset(BILLINGS)
    counts_from: str | None = None
    period_days: int | None = None
    to_company: bool = True
    route: str | None = None
    condition: str | None = None
    replaces: tuple[str, ...] = ()

    @property
    def region(self) -> str | None:
        """The ISO 3166-2 region for state law, None for national or EU law."""
        return self.jurisdiction if "-" in self.jurisdiction else None

    @property
    def withdrawal_type(self) -> bool:
        """A right that lasts ``period_days`` from the original contract (a renewal does not restart it)."""
        return self.counts_from is not None

    def applies_to(self, country: str, region: str | None) -> bool:
        """Whether this clause's jurisdiction covers a consumer in ``country`` (and ``region``)."""
        if self.jurisdiction == EU:
            return country in EU_MEMBER_STATES
        if self.region is not None:
            return region == self.region and self.region.split("-", 1)[0] == country
        return self.jurisdiction == country

    def in_force(self, day: dt.date) -> bool:
        """Whether the law is in force on ``day``: commenced, not repealed, not struck down."""
        if self.status != IN_FORCE or self.in_force_from is None or self.in_force_from > day:
            return False
        ends = [d for d in (self.in_force_until, self.vacated_on) if d is not None]
        return not any(end <= day for end in ends)

    def covers_contract(
        self, letter_date: dt.date, terms_date: dt.date | None, subscription_start: dt.date | None
    ) -> bool:
        """Whether the contract's dates let a letter of ``letter_date`` cite this clause.

        An unknown date never counts as a fitting one: a clause that needs it is left out rather than guessed.
        """
        threshold = self.applies_to_contracts_from
        if threshold is not None and (terms_date is None or terms_date < threshold):
            return False
        if not self.withdrawal_type:
            return True
        if subscription_start is None or subscription_start > letter_date or self.period_days is None:
            return False
        if threshold is not None and subscription_start < threshold:
            return False
        return subscription_start + dt.timedelta(days=self.period_days) >= letter_date


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

    def choice(self, key: str, allowed: tuple[str, ...]) -> str | None:
        value = self.optional_text(key)
        if value is not None and value not in allowed:
            self.fail(key, f"must be one of {', '.join(allowed)}")
        return value

    def date(self, key: str) -> dt.date:
        return self._date(key, self.value(key, True))

    def optional_date(self, key: str) -> dt.date | None:
        value = self.value(key, False)
        return None if value is None else self._date(key, value)

    def _date(self, key: str, value: Any) -> dt.date:
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            self.fail(key, "must be a date (YYYY-MM-DD, unquoted)")
        return value

    def optional_bool(self, key: str) -> bool | None:
        value = self.value(key, False)
        if value is not None and not isinstance(value, bool):
            self.fail(key, "must be true or false (unquoted)")
        return value

    def optional_positive(self, key: str) -> int | None:
        value = self.value(key, False)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, "must be a whole number")
        if value < 1:
            self.fail(key, "must be at least 1")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.value(key, True)
        return self._strings(key, value)

    def optional_strings(self, key: str) -> tuple[str, ...] | None:
        value = self.value(key, False)
        return None if value is None else self._strings(key, value)

    def _strings(self, key: str, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list):
            self.fail(key, "must be a list of strings")
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.fail(f"{key}[{i}]", "must be a non-empty string")
        return tuple(item.strip() for item in value)

    def subset(self, key: str, allowed: tuple[str, ...]) -> frozenset[str] | None:
        """An optional non-empty list drawn from ``allowed``, without repeats; None when absent."""
        values = self.optional_strings(key)
        if values is None:
            return None
        if not values:
            self.fail(key, f"must list at least one of {', '.join(allowed)} (or be left out for all)")
        for i, item in enumerate(values):
            if item not in allowed:
                self.fail(f"{key}[{i}]", f"must be one of {', '.join(allowed)}")
            if item in values[:i]:
                self.fail(f"{key}[{i}]", f"repeats {item!r}")
        return frozenset(values)

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
    note = r.optional_text("note") or ""
    r.done()
    if not url.startswith("https://"):
        r.fail("url", "must be an https:// address")
    return LawSource(title, url, checked_on, note)


def _clause(path: Path, where: str, raw: Any) -> Clause:
    r = _Reader(path, where, raw)
    clause_id, jurisdiction, instrument = r.text("id"), r.text("jurisdiction"), r.text("instrument")
    if not _ID.fullmatch(clause_id):
        r.fail("id", "must be lower-case words joined by hyphens")
    if jurisdiction != EU and not _JURISDICTION.fullmatch(jurisdiction):
        r.fail("jurisdiction", 'must be "EU", an ISO country code ("GB") or an ISO 3166-2 region ("US-CA")')
    sections = r.strings("sections")
    status = r.choice("status", STATUSES) or IN_FORCE
    text = r.optional_text("text", required=status == IN_FORCE) or ""
    in_force_from = r.optional_date("in_force_from")
    in_force_until = r.optional_date("in_force_until")
    vacated_on = r.optional_date("vacated_on")
    contracts_from = r.optional_date("applies_to_contracts_from")
    note = r.optional_text("note") or ""
    letter_kinds = r.subset("letter_kinds", LETTER_KINDS)
    billing = r.subset("billing", BILLINGS)
    counts_from = r.choice("counts_from", COUNTS_FROM)
    period_days = r.optional_positive("period_days")
    to_company = r.optional_bool("to_company")
    route = r.choice("route", ROUTES)
    condition = r.choice("condition", CONDITIONS)
    replaces = r.optional_strings("replaces") or ()
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
    if counts_from is not None and period_days is None:
        r.fail("period_days", "is missing (required with counts_from)")
    if period_days is not None and counts_from is None:
        r.fail("counts_from", f'is missing (required with period_days; "{ORIGINAL_CONTRACT}")')
    if to_company is False:
        if route is None:
            r.fail("route", f"is missing (a clause never sent to the company names where it is used: {CARD_ISSUER})")
        if letter_kinds is not None:
            r.fail("letter_kinds", "must be absent with to_company = false (the clause is in no letter)")
    elif route is not None:
        r.fail("route", "is only for clauses with to_company = false")
    for i, other in enumerate(replaces):
        if not _ID.fullmatch(other):
            r.fail(f"replaces[{i}]", "must be a clause id")
        if other == clause_id:
            r.fail(f"replaces[{i}]", "a clause cannot replace itself")
        if other in replaces[:i]:
            r.fail(f"replaces[{i}]", f"repeats {other!r}")
    return Clause(
        id=clause_id, jurisdiction=jurisdiction, instrument=instrument, sections=sections, text=text,
        in_force_from=in_force_from, sources=sources, status=status, in_force_until=in_force_until,
        vacated_on=vacated_on, applies_to_contracts_from=contracts_from, note=note,
        letter_kinds=letter_kinds if letter_kinds is not None else frozenset(LETTER_KINDS),
        billing=billing if billing is not None else frozenset(BILLINGS),
        counts_from=counts_from, period_days=period_days, to_company=to_company is not False, route=route,
        condition=condition, replaces=replaces,
    )


def _check_replacements(path: Path, clauses: list[Clause]) -> None:
    """Every replaced id exists, and replacement is one level deep, so no cycle can drop both clauses."""
    ids = {c.id for c in clauses}
    replacing = {c.id for c in clauses if c.replaces}
    for i, clause in enumerate(clauses):
        for j, other in enumerate(clause.replaces):
            where = f"{path.name}: clause[{i}].replaces[{j}]"
            if other not in ids:
                raise LawDataError(f"{where}: no clause has id {other!r}")
            if other in replacing:
                raise LawDataError(f"{where}: {other!r} itself replaces other clauses; replace only plain clauses")


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
    _check_replacements(path, clauses)
    return tuple(clauses)


@cache
def default_clauses() -> tuple[Clause, ...]:
    """The shipped law file, loaded once per process."""
    return load_clauses()


def _place(country: str, region: str | None) -> tuple[str, str | None]:
    return country.strip().upper(), (region or "").strip().upper() or None


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(allowed)}")


def select_for_letter(
    clauses: Iterable[Clause], country: str, region: str | None, *, letter_kind: str, billing: str,
    letter_date: dt.date, terms_date: dt.date | None, subscription_start: dt.date | None,
    conditions: frozenset[str] = frozenset(),
) -> list[Clause]:
    """The clauses of ``clauses`` a letter may cite, in their given order (see :func:`clauses_for_letter`)."""
    _check_choice("letter kind", letter_kind, LETTER_KINDS)
    _check_choice("billing", billing, BILLINGS)
    for condition in sorted(conditions):
        _check_choice("condition", condition, CONDITIONS)
    country, region = _place(country, region)
    chosen = [
        c for c in clauses
        if c.to_company and c.applies_to(country, region) and c.in_force(letter_date)
        and letter_kind in c.letter_kinds and billing in c.billing
        and (c.condition is None or c.condition in conditions)
        and c.covers_contract(letter_date, terms_date, subscription_start)
    ]
    replaced = {other for c in chosen for other in c.replaces}
    return [c for c in chosen if c.id not in replaced]


def clauses_for_letter(
    country: str, region: str | None, *, letter_kind: str, billing: str, letter_date: dt.date,
    terms_date: dt.date | None, subscription_start: dt.date | None, conditions: frozenset[str] = frozenset(),
) -> list[Clause]:
    """The statutory clauses a letter of ``letter_kind`` dated ``letter_date`` may cite, in the data file's order.

    ``country`` is an ISO 3166-1 alpha-2 code (GB for the UK; EU rows apply to the 27 member states) and ``region``
    an ISO 3166-2 code such as ``US-CA`` for state law. ``terms_date`` is the later of the subscription start, the
    payment date and the trial start, computed by the caller; ``subscription_start`` the day the contract was first
    made. Either may be None when unknown: clauses that depend on it are then left out. ``conditions`` are facts the
    consumer stated (e.g. ``no_renewal_reminder``). Law not in force on the letter's date, struck down, meant for
    other letters or billing, or never sent to a company is never returned; a national text that says the same as a
    directive replaces it. A country with no rows gets an empty list.
    """
    return select_for_letter(
        default_clauses(), country, region, letter_kind=letter_kind, billing=billing, letter_date=letter_date,
        terms_date=terms_date, subscription_start=subscription_start, conditions=conditions,
    )


def select_card_disputes(clauses: Iterable[Clause], country: str, region: str | None, day: dt.date) -> list[Clause]:
    """The card-dispute clauses of ``clauses`` in force on ``day`` (see :func:`card_dispute_clauses`)."""
    country, region = _place(country, region)
    return [c for c in clauses if c.route == CARD_ISSUER and c.applies_to(country, region) and c.in_force(day)]


def card_dispute_clauses(country: str, region: str | None, day: dt.date) -> list[Clause]:
    """The law behind a dispute with the consumer's card issuer, for the consumer's guidance and the evidence pack.

    It governs the cardholder and the issuer, not the company, and cited to the company it reads as a threat, so
    no letter selection ever returns it.
    """
    return select_card_disputes(default_clauses(), country, region, day)


def clauses_in_force(country: str, region: str | None, contract_date: dt.date, letter_date: dt.date) -> list[Clause]:
    """The first letter's clauses for a monthly subscription whose start is unknown.

    Kept for the snapshot code until it calls :func:`clauses_for_letter` with the letter's kind, the billing and
    the subscription start; ``contract_date`` is the terms date. Without a start, no withdrawal-type clause is cited.
    """
    return clauses_for_letter(
        country, region, letter_kind="cancellation", billing="monthly", letter_date=letter_date,
        terms_date=contract_date, subscription_start=None,
    )
