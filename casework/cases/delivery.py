"""Delivery to the company: by which channel a letter goes, under which file name, the day its answer is
due, the text for a web form, and the one way a letter is e-mailed to the company.

It sits above the state machine and below the clock and the workflow, which both send letters: the
cancellation letter, its follow-up and final notice, and a caseworker's resend all go out through
:func:`queue_letter_to_company`, so the company sees one kind of message whatever sent it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from casework.cases.models import Case
from casework.catalog import default_catalog
from casework.catalog.loader import Provider
from casework.config import Settings
from casework.letters.models import Letter
from casework.letters.render import format_long_date, format_money
from casework.letters.requests import request_of_earlier
from casework.mail.compose import mailbox
from casework.mail.models import OutboundEmail
from casework.mail.services import queue_email

LETTER_TO_COMPANY = "letter_to_company"
# The letter asks the company to confirm "within 10 days"; the clock starts when delivery is recorded.
ANSWER_DAYS = 10
TRACKING_MAX = 100


def delivery_channel(letter: Letter) -> tuple[str, str]:
    return snapshot_channel(letter.data_snapshot)


def snapshot_channel(snapshot: dict[str, Any]) -> tuple[str, str]:
    """How the company takes the letter (kind, address), as frozen in the letter's facts."""
    company = snapshot["company"]
    return str(company["delivery_kind"]), str(company["delivery_address"])


def letter_filename(case: Case, letter: Letter) -> str:
    return f"{case.reference}-{letter.kind}-v{letter.version}.pdf"


def answer_days(case: Case) -> int:
    """The company's days to answer, from its catalog entry; any other company gets the default."""
    provider = default_catalog().get(case.provider_slug)
    return provider.answer_days if provider is not None else Provider.answer_days


def answer_due(case: Case, delivered_at: dt.datetime) -> dt.date:
    """The day the company's written answer is due: its catalog's answer days (10 by default) after delivery,
    in the consumer's calendar."""
    return delivered_at.astimezone(ZoneInfo(case.timezone)).date() + dt.timedelta(days=answer_days(case))


def channel_address(case: Case, letter: Letter, channel: str) -> str:
    """Where the letter went by this channel: the letter's own target, else the company's other channel."""
    kind, address = delivery_channel(letter)
    if kind == channel:
        return address
    if case.provider_slug == "other":
        key = {"web_form": "web_form_url", "post": "postal_address"}.get(channel, "")
        return str((case.company or {}).get(key) or channel)
    provider = default_catalog().get(case.provider_slug)
    known = provider.channel(channel) if provider is not None else None
    return known.address if known is not None else channel


def queue_letter_to_company(session: Session, settings: Settings, case: Case, letter: Letter, now: dt.datetime,
                            *, template: str = LETTER_TO_COMPANY, kind: str = LETTER_TO_COMPANY,
                            key: str | None = None) -> OutboundEmail:
    """E-mail ``letter`` to the company's address, the consumer in copy and answering to them.

    The address's source (the catalog entry and version, or the consumer's own entry) goes with the e-mail,
    so a wrong address can be traced. ``key`` defaults to the letter's one delivery; a resend names its own.
    """
    _, address = delivery_channel(letter)
    snapshot = letter.data_snapshot
    source = ("consumer:company" if case.provider_slug == "other"
              else f"catalog:{case.provider_slug}@{snapshot.get('policy_version') or case.policy_version}")
    return queue_email(
        session, settings,
        key=key or f"letter:{letter.id}:company",
        kind=kind,
        to=[address],
        cc=[case.consumer_email],
        reply_to=mailbox(case.consumer_name, case.consumer_email),
        template=template,
        context={"case": case, "letter": letter, "snapshot": snapshot},
        now=now,
        case_id=case.id,
        letter_id=letter.id,
        attachments=[{"letter_id": letter.id, "filename": letter_filename(case, letter)}],
        address_source=source,
    )


def _paste_asks(s: dict[str, Any], words: Callable[[str], str]) -> list[str]:
    """The letter's numbered requests in a sentence each (POLICY-FACTS §2), for a web form's text box."""
    asked = request_of_earlier(s)
    amount = s.get("amount")
    paid = f"the payment of {format_money(amount, s.get('country'))}" if amount else "my most recent payment"
    if s.get("payment_date"):
        paid += f" made on {words(s['payment_date'])}"
    ends = (f"at the end of the period already paid for, on {words(asked['access_until'])}"
            if asked.get("access_until") else "at the end of the period already paid for")
    no_payment = (f"take no payment on or after {words(asked['renewal_date'])}" if asked.get("renewal_date")
                  else "take no further payment")
    request = asked["request"]
    if request == "one_time_refund":
        return [f"refund {paid} to the original payment method", "confirm in writing that the refund is made"]
    if request == "end_trial":
        first = asked.get("first_charge_date")
        return ["end this subscription now, within its free trial",
                f"take no payment{' on ' + words(first) if first else ''} or on any later date",
                "confirm in writing that the subscription is cancelled and no payment will be taken"]
    if request == "refund_and_cancel":
        return [f"cancel this subscription with immediate effect and refund {paid} to the original payment method",
                f"if you refuse the refund, end the subscription {ends} instead, and {no_payment}",
                "confirm in writing that the subscription is cancelled, the date it ends, and whether the refund "
                "is made"]
    return [f"stop the automatic renewal of this subscription, so that it ends {ends}, and {no_payment}",
            "confirm in writing that the subscription is cancelled and the date it ends"]


def paste_text(case: Case, letter: Letter) -> str:
    """A short plain-text request for a company's web form, from the letter's frozen facts only.

    It asks what the letter asks (who, which account, what is asked, the reference), never the consumer's
    free text, and points to the attached PDF as the formal notice.
    """
    s = letter.data_snapshot
    country = s.get("country")

    def words(iso_day: str) -> str:
        return format_long_date(iso_day, country)

    company = s["company"].get("legal_name") or s["company"]["name"]
    account = (f"the account {s['account_identifier']}" if s.get("account_identifier")
               else f"the account registered to {s['consumer']['email']}")
    dated = f" dated {words(s['letter_date'])}" if s.get("letter_date") else ""
    asks = _paste_asks(s, words)
    asks[-1] += f" within {ANSWER_DAYS} days, quoting the reference {s.get('reference') or case.reference}"
    purchase = request_of_earlier(s)["request"] == "one_time_refund"
    opening = (f"I am asking for a refund of my purchase of {s['plan']['name']}, made under {account}."
               if purchase else f"I am cancelling my {s['plan']['name']} subscription, held under {account}.")
    lines = [
        f"To {company}:",
        "",
        f"{opening} My formal letter{dated} is attached (PDF). Please:",
        *[f"- {ask};" if i < len(asks) - 1 else f"- {ask}." for i, ask in enumerate(asks)],
        "",
        str(s["consumer"]["name"]),
        str(s["consumer"]["email"]),
    ]
    return "\n".join(lines)
