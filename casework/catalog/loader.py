"""Load and validate the company data files under ``casework/catalog/``.

A bad file is a load error naming the file and the field, so a catalog mistake stops start-up
instead of reaching a letter. Every refund rule, warning text and step the assessment engine uses
is data here, each with the source it comes from, so the engine never needs to know which company
it is looking at. The pseudo-provider ``other`` stands for any company not listed.
"""

from __future__ import annotations

import datetime as dt
import string
import tomllib
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import Any

from casework.countries import EU, in_group
from casework.datafile import TableReader

CATALOG_DIR = Path(__file__).resolve().parent
BILLING = ("monthly", "annual", "one_time")
CHANNEL_KINDS = ("email", "web_form", "post")

WITHIN_WINDOW = "within_window"  # refundable if asked within the window
UNCERTAIN = "uncertain"  # may be refunded within the window (or at all, without one); not after it
CURRENT_PERIOD_NOT_REFUNDED = "current_period_not_refunded"  # a charged period is kept; cancelling stops the next
NON_REFUNDABLE = "non_refundable"  # never refunded once bought
REFUND_KINDS = (WITHIN_WINDOW, UNCERTAIN, CURRENT_PERIOD_NOT_REFUNDED, NON_REFUNDABLE)
WINDOWED_KINDS = (WITHIN_WINDOW, UNCERTAIN)

PLACEHOLDERS = frozenset({
    "company", "platform", "window_days", "window_ends", "payment_date", "trial_end", "first_charge", "renewal",
    "access_until", "act_by", "date", "deadline", "path", "currency", "local_currency",
})
"""The names a text may use as ``{name}``; the engine fills them in (a name it cannot fill reads "unknown")."""


class CatalogError(Exception):
    """A catalog file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    url: str | None
    checked_on: dt.date


@dataclass(frozen=True)
class Rule:
    """A sentence of policy and where it comes from; no source marks general guidance, not a company's policy."""

    text: str
    source: Source | None = None


@dataclass(frozen=True)
class Refund:
    """How a plan's refund is decided: the engine interprets these fields, never the company's name."""

    kind: str = UNCERTAIN
    window_days: int | None = None
    certificate_voids: bool = False
    periods_refunded: bool = True
    reason: Rule | None = None
    # How a letter names the refund's basis to the company ("Coursera Plus's 14-day money-back guarantee").
    basis: str | None = None


@dataclass(frozen=True)
class Plan:
    slug: str
    name: str
    billing: str
    trial_days: int | None = None
    refund: Refund = Refund()
    refund_notes: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class Channel:
    kind: str
    address: str
    source: Source | None
    note: str = ""


@dataclass(frozen=True)
class Entity:
    """The company a consumer in ``serves`` contracts with: the letter is addressed to it, by its legal name.

    ``serves`` holds ISO country codes, ``EU`` for the 27 member states, or ``*`` for everyone not served by an
    earlier entity. ``address_lines`` is the postal address without the name and without the country (empty where
    no source gives one: then nothing goes by post to this entity).
    """

    name: str
    country: str
    serves: tuple[str, ...]
    source: Source
    address_lines: tuple[str, ...] = ()
    note: str = ""

    def serves_country(self, country: str) -> bool:
        return any(in_group(country, group) for group in self.serves)


@dataclass(frozen=True)
class Rules:
    """Company-wide policy sentences; the defaults are general guidance used when a company says nothing."""

    no_fee: Rule | None = None
    window_closed: Rule = Rule("The refund window ended on {window_ends} ({window_days} days from the payment), "
                               "so a refund is no longer due under the stated terms.")
    certificate: Rule = Rule("A certificate earned since the payment voids the refund for this purchase.")
    periods_not_refunded: Rule = Rule("A billing period already charged is not refunded; cancelling stops the "
                                      "next renewal.")
    unknown_refund: Rule = Rule("Whether {company} refunds this payment depends on its own terms, which are not in "
                                "our catalog; the letter asks for a refund.")
    access: Rule = Rule("Cancelling stops the next renewal; access normally continues until {access_until}, the "
                        "end of the period already paid for.")
    trial: Rule = Rule("Cancel by {trial_end}, the last day of the free trial: the paid plan is charged on "
                       "{first_charge}.")
    trial_nothing_charged: Rule = Rule("nothing has been charged yet; cancel before the trial ends")
    app_store: Rule = Rule("The subscription is billed by {platform}: {company} cannot cancel it, and refunds, if "
                           "any, are {platform}'s decision.")
    cancel_app_store: Rule = Rule("Cancel in {platform}'s subscription settings on your device or account; "
                                  "{company} cannot cancel app-store billing, so no letter goes to {company}.")
    letter: Rule = Rule("We send a formal cancellation letter in your name to {company} by the channel you gave; "
                        "keep the confirmation.")
    self_serve: Rule = Rule("You can also cancel yourself: {path}.")
    act_early: Rule = Rule("Act by {act_by}, at least 1 day before {date} ({deadline}): time zones and payment "
                           "processing can make a last-day cancellation too late.")
    refund_time: Rule | None = None


@dataclass(frozen=True)
class WarningTexts:
    """One message per warning code, in the order the API lists the codes."""

    app_store_billing: Rule = Rule("Billed through {platform}: cancel in {platform}'s subscription settings; "
                                   "{company} cannot cancel app-store billing or refund it.")
    certificate_voids_refund: Rule = Rule("A certificate earned since the payment voids the refund.")
    refund_window_closed: Rule = Rule("The refund window closed on {window_ends}.")
    terms_violation_may_deny_refund: Rule = Rule("A refund may be denied for a violation of {company}'s terms.")
    monthly_not_refundable: Rule = Rule("Monthly payments are generally not refunded; cancelling stops the next "
                                        "renewal.")
    non_refundable_product: Rule = Rule("This product is not refunded once bought.")
    trial_charge_imminent: Rule = Rule("The free trial's last day is {trial_end}: cancel now, or the paid plan is "
                                       "charged on {first_charge}.")
    payment_date_stale: Rule = Rule("The payment date is older than the current billing period (or the trial has "
                                    "already turned into a paid plan): you may have been charged again since; "
                                    "check your statements. Next renewal: {renewal}.")
    foreign_transaction_fees: Rule = Rule("You are charged in {currency}, not {local_currency}: your bank may add "
                                          "conversion or foreign transaction fees; they are the bank's, not "
                                          "{company}'s.")


WARNING_CODES = tuple(f.name for f in fields(WarningTexts))


@dataclass(frozen=True)
class Labels:
    """Short descriptions of the deadlines (prose, not contract)."""

    refund_window_end: str = "Last day to ask for a refund ({window_days} days from the payment)"
    trial_end: str = "Last day of the free trial"
    first_charge: str = "First charge, when the free trial becomes a paid plan"
    renewal: str = "Next renewal charge"


@dataclass(frozen=True)
class SelfServe:
    """The consumer's own cancellation path, by kind of purchase."""

    source: Source
    subscription: tuple[str, ...] = ()
    one_time: tuple[str, ...] = ()
    fallback: str = ""

    def steps(self) -> tuple[str, ...]:
        return self.subscription + self.one_time + ((self.fallback,) if self.fallback else ())


@dataclass(frozen=True)
class CountryNote:
    """A policy fact for consumers in one country (e.g. the same global terms apply)."""

    country: str
    rule: Rule


@dataclass(frozen=True)
class Provider:
    slug: str
    name: str
    legal_name: str
    country: str
    policy_version: str
    plans: tuple[Plan, ...]
    cancel_channels: tuple[Channel, ...] = ()
    sources: tuple[Source, ...] = ()
    self_serve_steps: tuple[str, ...] = ()
    terms_violation_may_deny_refund: bool = False
    consumer_supplied_terms: bool = False  # trial and refund window come from the case's company, not the catalog
    rules: Rules = Rules()
    warnings: WarningTexts = WarningTexts()
    labels: Labels = Labels()
    self_serve: SelfServe | None = None
    country_notes: tuple[CountryNote, ...] = ()
    # Days the company has to answer a delivered letter before a follow-up goes out (the letter asks for 10).
    answer_days: int = 10
    entities: tuple[Entity, ...] = ()

    def entity_for(self, country: str) -> Entity | None:
        """The contracting entity for a consumer in ``country``: the first listed that serves it."""
        return next((e for e in self.entities if e.serves_country(country)), None)

    def plan(self, slug: str) -> Plan | None:
        return next((p for p in self.plans if p.slug == slug), None)

    def channel(self, kind: str) -> Channel | None:
        return next((c for c in self.cancel_channels if c.kind == kind), None)


@dataclass(frozen=True)
class Catalog:
    providers: dict[str, Provider] = field(default_factory=dict)

    def get(self, slug: str) -> Provider | None:
        return self.providers.get(slug)

    def for_choice(self) -> list[Provider]:
        """The companies as a consumer chooses among them: the listed ones by name, "another company" last."""
        listed = sorted((p for p in self.providers.values() if p.slug != "other"), key=lambda p: p.name.casefold())
        return listed + [p for p in self.providers.values() if p.slug == "other"]


_OTHER_REFUND = Refund(kind=UNCERTAIN, reason=Rules().unknown_refund)

OTHER = Provider(
    slug="other",
    name="Another company",
    legal_name="",
    country="",
    policy_version="general@1",
    plans=(
        Plan("other-monthly", "Monthly subscription", "monthly", refund=_OTHER_REFUND),
        Plan("other-annual", "Annual subscription", "annual", refund=_OTHER_REFUND),
        Plan("other-one-time", "One-time purchase", "one_time", refund=_OTHER_REFUND),
    ),
    consumer_supplied_terms=True,
)


class _Reader(TableReader):
    """Pulls typed fields out of one TOML table and reports mistakes with file and field path."""

    error = CatalogError

    def get(self, key: str, kind: type, required: bool = True) -> Any:
        value = self.value(key, required)
        if value is None:
            return None
        wrong_date = kind is dt.date and isinstance(value, dt.datetime)
        wrong_int = kind is int and isinstance(value, bool)
        if wrong_date or wrong_int or not isinstance(value, kind):
            self.fail(key, f"must be a {kind.__name__}")
        if isinstance(value, str) and not value.strip():
            self.fail(key, "must not be empty")
        return value

    def text(self, key: str, required: bool = True) -> str | None:
        """A string whose ``{placeholders}`` are all ones the engine can fill."""
        value: str | None = self.get(key, str, required)
        if value is not None:
            try:
                parts = list(string.Formatter().parse(value))
            except ValueError:
                self.fail(key, "has an unbalanced { or }")
            for _, name, spec, conversion in parts:
                if name is not None and (name not in PLACEHOLDERS or spec or conversion):
                    self.fail(key, f"unknown placeholder {{{name}}}; use one of {', '.join(sorted(PLACEHOLDERS))}")
        return value

    def positive(self, key: str) -> int | None:
        value: int | None = self.get(key, int, required=False)
        if value is not None and value < 1:
            self.fail(key, "must be at least 1")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        values: list[Any] = self.get(key, list, required=False) or []
        for value in values:
            if not isinstance(value, str) or not value.strip():
                self.fail(key, "must list non-empty strings")
        return tuple(values)

    def source(self, key: str, sources: dict[str, Source]) -> Source:
        source_id: str = self.get(key, str)
        if source_id not in sources:
            self.fail(key, f"names no source: {source_id!r}")
        return sources[source_id]




def _rule(path: Path, where: str, raw: Any, sources: dict[str, Source]) -> Rule:
    r = _Reader(path, where, raw)
    rule = Rule(r.text("text") or "", r.source("source", sources))
    r.done()
    return rule


def _rule_table(path: Path, top: _Reader, key: str, names: tuple[str, ...],
                sources: dict[str, Source]) -> dict[str, Rule]:
    """A table of ``name = {text, source}`` entries, each name one the engine knows."""
    table = _Reader(path, key, top.get(key, dict, required=False) or {})
    for name in table.table:
        if name not in names:
            table.fail(name, "unknown field")
    return {name: _rule(path, f"{key}.{name}", raw, sources) for name, raw in table.table.items()}


def _refund(path: Path, where: str, raw: Any, sources: dict[str, Source]) -> Refund:
    r = _Reader(path, where, raw)
    kind: str = r.get("kind", str)
    if kind not in REFUND_KINDS:
        r.fail("kind", f"must be one of {', '.join(REFUND_KINDS)}")
    window_days = r.positive("window_days")
    if kind == WITHIN_WINDOW and window_days is None:
        r.fail("window_days", f"is required for kind {kind!r}")
    if kind not in WINDOWED_KINDS and window_days is not None:
        r.fail("window_days", f"is not allowed for kind {kind!r}")
    source = r.source("source", sources)
    reason = r.text("reason", required=kind != CURRENT_PERIOD_NOT_REFUNDED)
    refund = Refund(
        kind=kind,
        window_days=window_days,
        certificate_voids=bool(r.get("certificate_voids", bool, required=False)),
        periods_refunded=r.get("periods_refunded", bool, required=False) is not False,
        reason=Rule(reason, source) if reason else None,
        basis=r.get("basis", str, required=False),
    )
    r.done()
    return refund


def _plan(path: Path, where: str, raw: Any, sources: dict[str, Source]) -> Plan:
    r = _Reader(path, where, raw)
    slug, name, billing = r.get("slug", str), r.get("name", str), r.get("billing", str)
    if billing not in BILLING:
        r.fail("billing", f"must be one of {', '.join(BILLING)}")
    trial_days = r.positive("trial_days")
    refund_raw = r.get("refund", dict, required=False)
    refund = Refund() if refund_raw is None else _refund(path, f"{where}.refund", refund_raw, sources)
    notes = tuple(_rule(path, f"{where}.refund_notes[{i}]", note, sources)
                  for i, note in enumerate(r.get("refund_notes", list, required=False) or []))
    r.done()
    return Plan(slug, name, billing, trial_days, refund, notes)


def _self_serve(path: Path, raw: Any, sources: dict[str, Source]) -> SelfServe:
    r = _Reader(path, "self_serve", raw)
    result = SelfServe(r.source("source", sources), r.strings("subscription"), r.strings("one_time"),
                       r.get("fallback", str, required=False) or "")
    r.done()
    return result


def _labels(path: Path, raw: Any) -> Labels:
    r = _Reader(path, "labels", raw)
    found = {f.name: r.text(f.name, required=False) for f in fields(Labels)}
    r.done()
    return Labels(**{name: text for name, text in found.items() if text is not None})


def _entity(path: Path, where: str, raw: Any, sources: dict[str, Source]) -> Entity:
    r = _Reader(path, where, raw)
    country: str = r.get("country", str)
    if len(country) != 2 or not country.isupper():
        r.fail("country", "must be an ISO 3166-1 alpha-2 code in upper case")
    serves = r.strings("serves")
    if not serves:
        r.fail("serves", 'must list the consumers served: ISO codes, "EU" or "*"')
    for group in serves:
        if group not in ("*", EU) and (len(group) != 2 or not group.isupper()):
            r.fail("serves", f'{group!r} is not an ISO 3166-1 alpha-2 code, "EU" or "*"')
    entity = Entity(name=r.get("name", str), country=country, serves=serves, source=r.source("source", sources),
                    address_lines=r.strings("address"), note=r.get("note", str, required=False) or "")
    r.done()
    return entity


def _answer_days(top: _Reader) -> int:
    """Optional; a follow-up after more than 90 days of silence would no longer be a follow-up."""
    days = top.positive("answer_days")
    if days is not None and days > 90:
        top.fail("answer_days", "must be at most 90")
    return days if days is not None else Provider.answer_days


def load_provider(path: Path) -> Provider:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path.name}: not valid TOML: {exc}") from None
    top = _Reader(path, "", data)
    sources: dict[str, Source] = {}
    for i, raw in enumerate(top.get("sources", list)):
        r = _Reader(path, f"sources[{i}]", raw)
        src = Source(r.get("id", str), r.get("title", str), r.get("url", str, required=False),
                     r.get("checked_on", dt.date))
        if src.id in sources:
            r.fail("id", f"repeats the source {src.id!r}")
        r.done()
        sources[src.id] = src
    plans = tuple(_plan(path, f"plans[{i}]", raw, sources) for i, raw in enumerate(top.get("plans", list)))
    for i, plan in enumerate(plans):
        if plan.slug in {p.slug for p in plans[:i]}:
            top.fail(f"plans[{i}].slug", f"repeats the plan {plan.slug!r}")
    channels = []
    for i, raw in enumerate(top.get("cancel_channels", list)):
        r = _Reader(path, f"cancel_channels[{i}]", raw)
        kind, address = r.get("kind", str), r.get("address", str)
        if kind not in CHANNEL_KINDS:
            r.fail("kind", f"must be one of {', '.join(CHANNEL_KINDS)}")
        channels.append(Channel(kind, address, r.source("source", sources), r.get("note", str, required=False) or ""))
        r.done()
    self_serve_raw = top.get("self_serve", dict, required=False)
    self_serve = None if self_serve_raw is None else _self_serve(path, self_serve_raw, sources)
    notes = []
    for i, raw in enumerate(top.get("country_notes", list, required=False) or []):
        r = _Reader(path, f"country_notes[{i}]", raw)
        country: str = r.get("country", str)
        if len(country) != 2 or not country.isupper():
            r.fail("country", "must be an ISO 3166-1 alpha-2 code in upper case")
        notes.append(CountryNote(country, Rule(r.text("text") or "", r.source("source", sources))))
        r.done()
    provider = Provider(
        slug=top.get("slug", str),
        name=top.get("name", str),
        legal_name=top.get("legal_name", str),
        country=top.get("country", str),
        policy_version=top.get("policy_version", str),
        plans=plans,
        cancel_channels=tuple(channels),
        sources=tuple(sources.values()),
        self_serve_steps=self_serve.steps() if self_serve else (),
        terms_violation_may_deny_refund=bool(top.get("terms_violation_may_deny_refund", bool, required=False)),
        rules=Rules(**_rule_table(path, top, "rules", tuple(f.name for f in fields(Rules)), sources)),
        warnings=WarningTexts(**_rule_table(path, top, "warnings", WARNING_CODES, sources)),
        labels=_labels(path, top.get("labels", dict, required=False) or {}),
        self_serve=self_serve,
        country_notes=tuple(notes),
        answer_days=_answer_days(top),
        entities=tuple(_entity(path, f"entities[{i}]", raw, sources)
                       for i, raw in enumerate(top.get("entities", list, required=False) or [])),
    )
    top.done()
    if provider.slug != path.stem:
        top.fail("slug", f"must match the file name {path.stem!r}")
    if not provider.plans:
        top.fail("plans", "must list at least one plan")
    if not provider.cancel_channels:
        top.fail("cancel_channels", "must list at least one channel")
    if provider.entities and "*" not in provider.entities[-1].serves:
        top.fail("entities", 'the last entity must serve "*" (every consumer no earlier entity serves)')
    return provider


def load_catalog(directory: Path = CATALOG_DIR) -> Catalog:
    providers = {"other": OTHER}
    for path in sorted(directory.glob("*.toml")):
        provider = load_provider(path)
        providers[provider.slug] = provider
    return Catalog(providers)


@cache
def default_catalog() -> Catalog:
    """The shipped catalog, loaded once per process."""
    return load_catalog()
