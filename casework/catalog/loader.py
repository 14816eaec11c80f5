"""Load and validate the company data files under ``casework/catalog/``.

A bad file is a load error naming the file and the field, so a catalog mistake stops start-up
instead of reaching a letter. The pseudo-provider ``other`` stands for any company not listed.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

CATALOG_DIR = Path(__file__).resolve().parent
BILLING = ("monthly", "annual", "one_time")
CHANNEL_KINDS = ("email", "web_form", "post")


class CatalogError(Exception):
    """A catalog file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    url: str | None
    checked_on: dt.date


@dataclass(frozen=True)
class Plan:
    slug: str
    name: str
    billing: str
    trial_days: int | None = None


@dataclass(frozen=True)
class Channel:
    kind: str
    address: str
    source: Source | None
    note: str = ""


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

    def plan(self, slug: str) -> Plan | None:
        return next((p for p in self.plans if p.slug == slug), None)

    def channel(self, kind: str) -> Channel | None:
        return next((c for c in self.cancel_channels if c.kind == kind), None)


@dataclass(frozen=True)
class Catalog:
    providers: dict[str, Provider] = field(default_factory=dict)

    def get(self, slug: str) -> Provider | None:
        return self.providers.get(slug)


OTHER = Provider(
    slug="other",
    name="Another company",
    legal_name="",
    country="",
    policy_version="general@1",
    plans=(
        Plan("other-monthly", "Monthly subscription", "monthly"),
        Plan("other-annual", "Annual subscription", "annual"),
        Plan("other-one-time", "One-time purchase", "one_time"),
    ),
)


class _Reader:
    """Pulls typed fields out of one TOML table and reports mistakes with file and field path."""

    def __init__(self, path: Path, where: str, table: Any) -> None:
        self.path, self.where = path, where
        if not isinstance(table, dict):
            self.fail("", "must be a table")
        self.table: dict[str, Any] = table
        self.seen: set[str] = set()

    def fail(self, key: str, why: str) -> None:
        name = f"{self.where}.{key}" if self.where and key else (self.where or key)
        raise CatalogError(f"{self.path.name}: {name}: {why}")

    def get(self, key: str, kind: type, required: bool = True) -> Any:
        self.seen.add(key)
        if key not in self.table:
            if required:
                self.fail(key, "is missing")
            return None
        value = self.table[key]
        if (kind is dt.date and isinstance(value, dt.datetime)) or not isinstance(value, kind):
            self.fail(key, f"must be a {kind.__name__}")
        if kind is str and not value.strip():
            self.fail(key, "must not be empty")
        return value

    def done(self) -> None:
        unknown = sorted(set(self.table) - self.seen)
        if unknown:
            self.fail(unknown[0], "unknown field")


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
        r.done()
        sources[src.id] = src
    plans = []
    for i, raw in enumerate(top.get("plans", list)):
        r = _Reader(path, f"plans[{i}]", raw)
        plan = Plan(r.get("slug", str), r.get("name", str), r.get("billing", str),
                    r.get("trial_days", int, required=False))
        if plan.billing not in BILLING:
            r.fail("billing", f"must be one of {', '.join(BILLING)}")
        r.done()
        plans.append(plan)
    channels = []
    for i, raw in enumerate(top.get("cancel_channels", list)):
        r = _Reader(path, f"cancel_channels[{i}]", raw)
        kind, address, source_id = r.get("kind", str), r.get("address", str), r.get("source", str)
        if kind not in CHANNEL_KINDS:
            r.fail("kind", f"must be one of {', '.join(CHANNEL_KINDS)}")
        if source_id not in sources:
            r.fail("source", f"names no source: {source_id!r}")
        channels.append(Channel(kind, address, sources[source_id], r.get("note", str, required=False) or ""))
        r.done()
    provider = Provider(
        slug=top.get("slug", str),
        name=top.get("name", str),
        legal_name=top.get("legal_name", str),
        country=top.get("country", str),
        policy_version=top.get("policy_version", str),
        plans=tuple(plans),
        cancel_channels=tuple(channels),
        sources=tuple(sources.values()),
        self_serve_steps=tuple(top.get("self_serve_steps", list, required=False) or ()),
    )
    top.done()
    if provider.slug != path.stem:
        top.fail("slug", f"must match the file name {path.stem!r}")
    if not provider.plans:
        top.fail("plans", "must list at least one plan")
    if not provider.cancel_channels:
        top.fail("cancel_channels", "must list at least one channel")
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
