"""The request shapes of an assessment and a case: one set of pydantic models validates the JSON
API, the web form (through the same JSON) and generates the OpenAPI description.

Validation runs in JSON mode and strict: ``"true"`` is not a boolean and ``"5"`` is not a number.
Checks that need the consumer's "today" read ``now`` from the validation context.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from functools import cache
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, available_timezones

from babel import Locale
from babel.numbers import list_currencies
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from casework.countries import zone_for_country
from casework.languages import Language
from casework.typed_text import multi_line, single_line

AMOUNT_RE = re.compile(r"^\d{1,10}(\.\d{1,2})?$")
REGION_RE = re.compile(r"^([A-Z]{2})-[A-Z0-9]{1,3}$")

# Names, addresses and identifiers are one line (they reach e-mail headers and letter lines); postal addresses and
# free text keep their line breaks. Either way no other control character is stored (casework/typed_text.py).
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                    AfterValidator(single_line)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254),
                  AfterValidator(single_line)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
                    AfterValidator(multi_line)]
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
                AfterValidator(single_line)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40),
                  AfterValidator(single_line)]
Details = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000), AfterValidator(multi_line)]
Slug = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


# Babel's territories that are not assigned ISO 3166-1 countries: groupings (EU, UN…), the unknown region (ZZ),
# the pseudo-locales' test territories (XA "Pseudo-Accents", XB "Pseudo-Bidi"), user-assigned codes (QO, XK) and
# the exceptionally reserved codes of islands and territories that are part of an assigned country (AC, CP…).
NOT_ISO_COUNTRIES = frozenset({"ZZ", "XA", "XB", "XK", "QO", "EU", "EZ", "UN",
                               "AC", "CP", "CQ", "DG", "EA", "IC", "TA"})


@cache
def countries() -> dict[str, str]:
    """ISO 3166-1 alpha-2 codes with their English names."""
    return {code: name for code, name in Locale("en").territories.items()
            if len(code) == 2 and code.isalpha() and code.isupper() and code not in NOT_ISO_COUNTRIES}


@cache
def currencies() -> frozenset[str]:
    return frozenset(list_currencies())


@cache
def timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def normalised_email(value: str) -> str:
    try:
        return str(validate_email(value, check_deliverability=False).normalized)
    except EmailNotValidError:
        raise ValueError("not a valid e-mail address") from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Amount(_Strict):
    value: str = Field(description="A decimal string greater than 0 with at most 2 decimals.", examples=["599.00"])
    currency: str = Field(description="ISO 4217 code.", examples=["AUD"])

    @field_validator("value")
    @classmethod
    def _positive_decimal(cls, value: str) -> str:
        if not AMOUNT_RE.fullmatch(value) or Decimal(value) <= 0:
            raise ValueError("a positive amount with at most 2 decimals, such as 599.00")
        return value

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        if value.upper() not in currencies():
            raise ValueError("not an ISO 4217 currency code")
        return value.upper()


class Company(_Strict):
    """Any company not in the catalog (with provider "other"); at least one channel."""

    name: Text200
    email: Email | None = None
    postal_address: Address | None = None
    web_form_url: Url | None = None
    plan_name: Text200 | None = None
    trial_days: Annotated[int, Field(ge=1, le=366)] | None = None
    refund_window_days: Annotated[int, Field(ge=1, le=366)] | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return normalised_email(value) if value is not None else None

    @field_validator("web_form_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^\s/]+\.[^\s]+", value):
            raise ValueError("must be an http:// or https:// address")
        return value


class AssessmentRequest(_Strict):
    """The facts an assessment needs (API.md, "Assessment")."""

    provider: Slug
    plan: Slug
    billing_channel: Literal["direct", "apple_app_store", "google_play"]
    country: str = Field(description="ISO 3166-1 alpha-2.", examples=["AU"])
    region: str | None = Field(None, description="ISO 3166-2 subdivision, e.g. US-CA.")
    timezone: str | None = Field(None, description="IANA zone; default from the country.")
    payment_date: dt.date | None = None
    trial_start_date: dt.date | None = None
    next_renewal_date: dt.date | None = None
    subscription_start_date: dt.date | None = Field(
        None, description="The day the subscription was first taken out, before any renewal; not in the future and "
                          "not after payment_date. It decides whether withdrawal-type rights are still open; absent "
                          "means unknown, and those rights are never cited.")
    certificate_earned: bool | None = None
    amount: Amount | None = None
    requested_outcome: Literal["cancel", "cancel_and_refund"]
    company: Company | None = None

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        if value.upper() not in countries():
            raise ValueError("not an ISO 3166-1 country code")
        return value.upper()

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        match = REGION_RE.fullmatch(value.upper())
        country = info.data.get("country")
        if match is None or (country is not None and match.group(1) != country):
            raise ValueError("must be an ISO 3166-2 code of the country, such as US-CA")
        return value.upper()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and value not in timezones():
            raise ValueError("not an IANA time zone")
        return value

    @field_validator("payment_date", "trial_start_date", "subscription_start_date")
    @classmethod
    def _not_in_future(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        today = consumer_today_from(info)
        if value is not None and today is not None and value > today:
            raise ValueError("must not be in the future")
        return value

    def zone(self) -> str:
        return self.timezone or zone_for_country(self.country)


def consumer_today_from(info: ValidationInfo) -> dt.date | None:
    """The consumer's date: validation context ``now`` in their zone (from the country if none given)."""
    now = (info.context or {}).get("now")
    if now is None or "country" not in info.data:
        return None
    zone = info.data.get("timezone") or zone_for_country(str(info.data["country"]))
    result: dt.date = now.astimezone(ZoneInfo(zone)).date()
    return result


class Consumer(_Strict):
    name: Text200
    email: Email
    postal_address: Address | None = None
    phone: Phone | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalised_email(value)


class Consent(_Strict):
    send_in_my_name: bool

    @field_validator("send_in_my_name")
    @classmethod
    def _given(cls, value: bool) -> bool:
        if not value:
            raise ValueError("must be true: we only write in your name with your consent")
        return value


class CaseRequest(AssessmentRequest):
    """Filing a case: every assessment field plus who the consumer is and their consent."""

    consumer: Consumer
    account_identifier: Text200 | None = None
    details: Details | None = None
    consent: Consent
    language: Language | None = Field(
        None, description="The language of the letter and of the consumer's pages and e-mails (version 1.1); "
                          "absent or null: the country's (FR, BE, LU: fr; DE, AT, CH: de; any other: en).")
