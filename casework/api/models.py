"""Response shapes of the API, for the OpenAPI description (requests are casework.cases.schemas)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class SourceOut(BaseModel):
    title: str
    url: str | None
    checked_on: str


class PlanOut(BaseModel):
    slug: str
    name: str
    billing: Literal["monthly", "annual", "one_time"]
    trial_days: int | None


class ChannelOut(BaseModel):
    kind: Literal["email", "web_form", "post"]
    address: str
    source: SourceOut | None


class ProviderOut(BaseModel):
    slug: str
    name: str
    country: str | None
    plans: list[PlanOut]
    policy_version: str
    sources: list[SourceOut]


class ProviderDetailOut(ProviderOut):
    cancel_channels: list[ChannelOut]
    self_serve_steps: list[str]


class ProvidersOut(BaseModel):
    providers: list[ProviderOut]


class NamedRef(BaseModel):
    slug: str
    name: str


class RefundOut(BaseModel):
    eligibility: Literal["eligible", "not_eligible", "uncertain", "not_requested"]
    window_ends: str | None
    reasons: list[str]


class DeadlineOut(BaseModel):
    kind: Literal["refund_window_end", "trial_end", "renewal"]
    date: str
    act_by: str
    passed: bool
    label: str


class WarningOut(BaseModel):
    code: str
    message: str


class AssessmentOut(BaseModel):
    provider: NamedRef
    plan: NamedRef
    today: str
    cancel_via: Literal["formal_letter", "apple", "google"]
    refund: RefundOut
    deadlines: list[DeadlineOut]
    access_until: str | None
    warnings: list[WarningOut]
    steps: list[str]
    policy_version: str


class ErrorOut(BaseModel):
    error: str
    message: str
    fields: dict[str, str] | None = None
    known: list[str] | None = None


class HealthOut(BaseModel):
    status: Literal["ok", "degraded", "down"]
    database: str
    broker: Literal["ok", "unreachable"]
    smtp: Literal["ok", "unreachable", "not_configured"]
    version: str
