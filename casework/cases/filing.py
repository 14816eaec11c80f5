"""Filing a case: the rules, in one transaction the caller commits.

Filing writes the case, its first access token, the ``filed`` event and (where the letter plan says a letter
is written) the letter job together; the worker is woken only after that transaction commits. A letter case's
e-mails and reminders are the worker's, from the rendered letter on. A case without a letter has no letter to
wait for: its reminders and the e-mail with its link are written in the same transaction (casework.cases.tracking).
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.orm import Session

from casework.assess import AssessmentFacts, assess, consumer_today
from casework.cases import urgency
from casework.cases.errors import CaseError as CaseError  # where filing's callers have always found it
from casework.cases.filing_rows import FilingRows, insert_filing
from casework.cases.models import Case
from casework.cases.references import new_reference
from casework.cases.states import Actor, BillingChannel, CaseStatus, RequestedOutcome
from casework.cases.tokens import new_token
from casework.cases.tracking import start_tracking
from casework.catalog import default_catalog
from casework.config import Settings
from casework.db import utcnow
from casework.jobs.dispatch import dispatch_after_commit
from casework.languages import Language, default_language
from casework.letters.plan import LetterPlan, letter_plan_of
from casework.letters.services import RENDER_TASK, pending_letter_values
from casework.mail.sealed import remember

log = logging.getLogger("casework.cases.filing")


@dataclass(frozen=True)
class NewCase:
    """Validated facts of a case to file."""

    provider: str
    plan: str
    consumer_name: str
    consumer_email: str
    country: str
    timezone: str
    requested_outcome: RequestedOutcome
    billing_channel: BillingChannel = BillingChannel.DIRECT
    payment_date: dt.date | None = None
    trial_start_date: dt.date | None = None
    next_renewal_date: dt.date | None = None
    subscription_start_date: dt.date | None = None  # None: not known (withdrawal-type rights are then never cited)
    certificate_earned: bool = False
    amount_value: decimal.Decimal | None = None
    amount_currency: str | None = None
    consumer_postal_address: str | None = None
    consumer_phone: str | None = None
    account_identifier: str | None = None
    details: str | None = None
    region: str | None = None
    company: dict[str, Any] | None = None
    consent: bool = False
    language: Language | None = None  # None: not chosen, so the country's (casework.languages)
    extra: dict[str, Any] = field(default_factory=dict)

    def case_language(self) -> Language:
        """The language the case is in: the one chosen, else the country's."""
        return self.language or default_language(self.country)


def assessment_facts(facts: NewCase) -> AssessmentFacts:
    company = facts.company or {}
    return AssessmentFacts(
        provider=facts.provider, plan=facts.plan, billing_channel=facts.billing_channel.value,
        country=facts.country, requested_outcome=facts.requested_outcome.value, region=facts.region,
        timezone=facts.timezone, payment_date=facts.payment_date, trial_start_date=facts.trial_start_date,
        next_renewal_date=facts.next_renewal_date, certificate_earned=facts.certificate_earned,
        amount_value=facts.amount_value, amount_currency=facts.amount_currency,
        company_trial_days=company.get("trial_days"), company_refund_window_days=company.get("refund_window_days"),
    )


def assessment_of(facts: NewCase, now: dt.datetime) -> dict[str, Any]:
    """The assessment the case is filed (or corrected) with, for the consumer's today."""
    provider = default_catalog().get(facts.provider)
    if provider is None:
        raise CaseError("Unknown company.", {"provider": "unknown provider"})
    return assess(assessment_facts(facts), provider, consumer_today(now, facts.timezone))


def fact_columns(facts: NewCase, policy_version: str) -> dict[str, Any]:
    """A new case's facts as the case's columns: the one place they are copied field by field (filing, the
    wizard's unsaved preview and the letter tests build their cases from it)."""
    return {
        "consumer_name": facts.consumer_name, "consumer_email": facts.consumer_email,
        "consumer_postal_address": facts.consumer_postal_address, "consumer_phone": facts.consumer_phone,
        "account_identifier": facts.account_identifier, "details": facts.details,
        "country": facts.country, "region": facts.region, "timezone": facts.timezone,
        "language": facts.case_language(),
        "provider_slug": facts.provider, "plan_slug": facts.plan, "policy_version": policy_version,
        "company": facts.company, "billing_channel": facts.billing_channel,
        "payment_date": facts.payment_date, "trial_start_date": facts.trial_start_date,
        "next_renewal_date": facts.next_renewal_date, "subscription_start_date": facts.subscription_start_date,
        "certificate_earned": facts.certificate_earned,
        "amount_value": facts.amount_value, "amount_currency": facts.amount_currency,
        "requested_outcome": facts.requested_outcome,
    }


@dataclass(frozen=True)
class FiledCase:
    """What filing made: the case's ids and the access token, shown once."""

    case_id: int
    reference: str
    status: CaseStatus
    assessment: dict[str, Any]
    access_token: str
    letter_id: int | None
    letter_plan: LetterPlan


def facts_letter_plan(facts: NewCase, assessment: dict[str, Any]) -> LetterPlan:
    """Whether these facts, so assessed, get a letter (see :mod:`casework.letters.plan`)."""
    return letter_plan_of(facts.billing_channel.value, facts.provider, facts.plan, facts.requested_outcome.value,
                          assessment)


def file_case(session: Session, facts: NewCase, secret_key: str, now: dt.datetime | None = None, *,
              settings: Settings | None = None) -> FiledCase:
    """Write the case, its token, the ``filed`` event and (when the letter plan says so) the letter job.

    App-store billing gets no letter (the company cannot cancel it), nor does a one-time purchase with no refund
    to ask for: such a case tracks the consumer's own steps, as an app-store case does, and with ``settings`` its
    reminders are planned and the e-mail with its link queued here (without them, loudly, only the reminder sweep
    plans it later). The rows go in through :mod:`casework.cases.filing_rows`, in one statement where the database
    allows; the render and send jobs are dispatched when the caller commits.
    """
    now = now or utcnow()
    provider = default_catalog().get(facts.provider)
    if provider is None:
        raise CaseError("Unknown company.", {"provider": "unknown provider"})
    if provider.plan(facts.plan) is None:
        raise CaseError("Unknown plan for this company.", {"plan": "unknown plan"})
    if not facts.consent:
        raise CaseError(
            "We can only write in your name with your consent.",
            {"consent.send_in_my_name": "must be true"},
        )
    if facts.payment_date is None and facts.trial_start_date is None:
        raise CaseError("Give the date of your last payment or of your free trial's start.",
                        {"payment_date": "required unless trial_start_date is given"})
    if facts.provider == "other" and not facts.company:
        raise CaseError("Tell us the company's name and how to reach it.", {"company": "required"})
    start = facts.subscription_start_date
    if start is not None and facts.payment_date is not None and start > facts.payment_date:
        raise CaseError("The subscription cannot have begun after your last payment.",
                        {"subscription_start_date": "must not be after payment_date"})

    case_values: dict[str, Any] = {
        "reference": new_reference(now.year), "status": CaseStatus.NEW,
        **fact_columns(facts, provider.policy_version), "assessment": assessment_of(facts, now),
        "consent_at": now, "created_at": now, "updated_at": now, "version": 1,
    }
    case_values.update(urgency.columns(case_values, now))
    token, digest = new_token(secret_key)
    remember(session, token)
    rows = FilingRows(
        case=case_values,
        token={"token_hmac": digest, "created_at": now, "last_used_at": now},
        filed_event={"at": now, "actor": Actor.CONSUMER, "action": "filed", "to_status": CaseStatus.NEW,
                     "data": {"provider": provider.slug, "plan": facts.plan}},
    )
    plan = facts_letter_plan(facts, case_values["assessment"])
    if plan.letter:
        letter = pending_letter_values(Case(**case_values), "cancellation", 1, now)
        rows = replace(rows, letter=letter, letter_event={
            "at": now, "actor": Actor.SYSTEM, "action": "letter_requested",
            "data": {"kind": letter["kind"], "version": letter["version"]}})
    ids = insert_filing(session, rows)
    if ids.letter_id is not None:
        dispatch_after_commit(session, RENDER_TASK, [ids.letter_id])
    elif settings is None:
        log.warning("no settings given; no e-mail with the link of case %s, which has no letter", ids.case_id)
    else:
        start_tracking(session, settings, session.get_one(Case, ids.case_id), now)
    return FiledCase(ids.case_id, case_values["reference"], CaseStatus.NEW, case_values["assessment"], token,
                     ids.letter_id, plan)
