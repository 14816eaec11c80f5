"""Words and formats for pages: status names, timeline lines, local times, field ids."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from flask import Flask, has_request_context, request
from markupsafe import Markup, escape

from casework.cases.models import Case, CaseEvent
from casework.cases.states import Actor, CaseStatus, Outcome
from casework.languages import LANGUAGES, NAMES
from casework.letters.render import format_money
from casework.typed_text import NO_CONTROLS, ONE_LINE

STATUS_TITLES = {
    CaseStatus.NEW: "Waiting for your confirmation",
    CaseStatus.NEEDS_INFO: "We need something from you",
    CaseStatus.READY: "Confirmed: waiting for delivery",
    CaseStatus.SENT: "Delivered: waiting for the company's answer",
    CaseStatus.FOLLOW_UP: "No answer in time: followed up",
    CaseStatus.ESCALATED: "Escalated",
    CaseStatus.RESOLVED: "Resolved",
    CaseStatus.CLOSED: "Closed",
}

OUTCOME_WORDS = {
    Outcome.CANCELLED: "Cancelled",
    Outcome.CANCELLED_REFUNDED: "Cancelled and refunded",
    Outcome.CANCELLED_PARTIAL_REFUND: "Cancelled, with part of the money refunded",
    Outcome.REFUND_DENIED: "Cancelled, but the refund was refused",
    Outcome.REFUSED: "The company refused",
    Outcome.NO_RESPONSE: "The company did not answer",
    Outcome.REDIRECTED_APP_STORE: "Cancelled with the app store",
    Outcome.WITHDRAWN: "Withdrawn by you",
}

RECORDED_BY = {Actor.CONSUMER: "you", Actor.STAFF: "a caseworker", Actor.SYSTEM: "automatically"}

# After the company's answer: what it means, in plain words (the page adds what happens next).
ANSWER_MEANING = {
    "confirmed_cancellation": "The company confirmed the cancellation. Check your next statement: if you are "
                              "charged again, tell us below and the case goes on.",
    "refund_offered": "The company offered a refund. Check the amount against what you paid, and record the "
                      "refund below when the money arrives.",
    "refused": "The company refused to cancel or to refund. That is not the end of it: their written refusal is "
               "part of your evidence.",
    "retention_offer": "The company offered a discount or a reason to stay. You do not have to accept it: your "
                       "letter asked them to cancel.",
    "asked_for_information": "The company asked you for more information. Answer them directly and keep a copy "
                             "of what you send; record their next answer here.",
    "charged_again": "You were charged again after asking to cancel. Keep the statement that shows the charge.",
}
# Answers after which the consumer may need someone outside the company.
UNSETTLED_ANSWERS = frozenset({"refused", "retention_offer", "charged_again"})

EVENT_TEXT = {
    "filed": "You filed this case.",
    "letter_requested": "We started preparing your letter.",
    "letter_rendered": "Your letter was written.",
    "letter_failed": "Your letter could not be produced; a caseworker will look at it.",
    "email_sent": "An e-mail was sent.",
    "email_failed": "An e-mail could not be delivered; a caseworker will look at it.",
    "confirmation_resent": "A new confirmation code was sent.",
    "email_corrected": "Your e-mail address was changed; a code was e-mailed to the new one to confirm it.",
    "confirmed": "You confirmed your e-mail address and the letter.",
    "delivered": "The letter was delivered to the company.",
    "withdrawn": "The case was withdrawn.",
    "expired_unconfirmed": "The case was never confirmed; its personal details were deleted.",
    "delivery_approved": "A caseworker checked your letter and approved its delivery.",
    "email_retried": "A caseworker sent an e-mail again.",
    "answer_overdue": "The company did not answer in time; we are preparing a follow-up letter.",
    "follow_up_to_submit": "Your follow-up letter is ready for you to submit to the company.",
    "final_notice_to_submit": "Your final notice is ready for you to submit to the company.",
    "escalation_due": "The company still did not answer; a caseworker will decide on the next step.",
    "final_notice_requested": "A caseworker is preparing a final notice to the company.",
    "closed_automatically": "The case was closed.",
    "response_recorded": "The company's answer was recorded.",
    "refund_received": "A refund was reported as received.",
    "info_provided": "You answered the caseworker's question.",
    "attachment_added": "A file was added to the case.",
    "reminders_planned": "Reminders were planned for your deadlines.",
    "reminders_unsubscribed": "You stopped the deadline reminders.",
    "cancelled_with_app_store": "You cancelled the subscription with the app store.",
    "facts_corrected": "The facts of the case were corrected.",
    "letter_not_needed": "With the corrected facts no letter is written; the letter waiting for your confirmation "
                         "was set aside.",
    "links_resent": "New links to this case were e-mailed; the links sent before stopped working.",
    "links_revoked": "You signed out of all devices: the links to this case sent before stopped working.",
    "reopened": "The case was reopened.",
    "merged_into": "A caseworker joined this case to another case of yours about the same company.",
    "merged_from": "A caseworker joined another case of yours about the same company to this one.",
    "info_requested": "A caseworker asked you a question.",
    "resolved": "The case was resolved.",
    "closed": "The case was closed.",
    "escalated": "A caseworker took the case further (to a regulator, an ombudsman or your card issuer).",
    "follow_up_requested": "A caseworker is preparing a follow-up letter to the company.",
    "letter_regenerated": "A caseworker had a new version of your letter written.",
    "letter_resent": "A caseworker e-mailed your letter to the company again.",
    "erasure_requested": "You asked to delete your details; a code was e-mailed to you.",
    "personal_data_deleted": "The personal details of this case were deleted.",
}

NO_REMINDERS_PLANNED = "No reminders were planned for this case."

EMAIL_KIND_TEXT = {
    "confirm_letter": "Your letter was e-mailed to you to confirm.",
    "letter_to_company": "Your letter was e-mailed to the company, with a copy to you.",
    "reminder_to_submit": "Your next letter was e-mailed to you to submit to the company.",
    "case_without_letter": "A link to this case was e-mailed to you, with what you can do yourself.",
    "confirm_address": "A code to confirm your new e-mail address was e-mailed to it.",
    "new_link": "A new link to this case was e-mailed to you after you signed out of all devices.",
}


def outcome_words(outcome: Outcome | str | None) -> str:
    """An outcome as people say it ("Cancelled and refunded"), never its code."""
    if outcome is None or outcome == "":
        return ""
    try:
        return OUTCOME_WORDS[Outcome(outcome)]
    except ValueError:
        return str(outcome).replace("_", " ").capitalize()


def recorded_by(actor: Actor | str) -> str:
    try:
        return RECORDED_BY[Actor(actor)]
    except ValueError:
        return str(actor)


def field_id(name: str) -> str:
    return name.replace(".", "-")


def status_title(status: CaseStatus) -> str:
    return STATUS_TITLES[status]


def status_explanation(status: CaseStatus, case: Case) -> str:
    if status is CaseStatus.NEW:
        return "Your letter is not sent to anyone until you confirm it from the e-mail we sent you."
    if status is CaseStatus.READY:
        return "You confirmed the letter. It now has to reach the company."
    if status is CaseStatus.SENT:
        return "The company has the letter. It should answer in writing."
    return ""


FALLBACK_LOCALE = "en_GB"


@functools.cache
def _english_of(country: str) -> Locale | None:
    try:
        return Locale.parse(f"en_{country.upper()}")
    except (UnknownLocaleError, ValueError):
        return None


def reader_locale(country: str | None = None) -> Locale:
    """Pages are in English, with dates written the way the reader writes them.

    The English of the consumer's country when there is one (en_AU, en_US, en_IN…), else the English
    variant the browser asks for, else British English.
    """
    if country and (locale := _english_of(country)) is not None:
        return locale
    if has_request_context():
        for tag, _ in request.accept_languages:
            language, _, territory = tag.replace("_", "-").partition("-")
            if language.lower() == "en" and territory and (locale := _english_of(territory)) is not None:
                return locale
    return Locale.parse(FALLBACK_LOCALE)


def long_date(value: dt.date | str | None, country: str | None = None) -> Markup:
    """A ``<time>`` element: the ISO date for machines, the reader's long form for people."""
    if value is None or value == "":
        return Markup("")
    try:
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
    except ValueError:
        return escape(value)
    words = format_date(day, "long", locale=reader_locale(country))
    return Markup('<time datetime="{}">{}</time>').format(day.isoformat(), words)


# In an assessment's sentences: a web address (to its last character that is not closing punctuation), or an ISO date.
PROSE_RE = re.compile(r"(?P<url>https://[^\s<>\"()]*[^\s<>\"().,;:!?])|(?P<date>\b\d{4}-\d{2}-\d{2}\b)")


def prose(text: str, country: str | None = None) -> Markup:
    """A sentence of the assessment for people: its web addresses as links, its ISO dates written long."""
    parts: list[Markup] = []
    position = 0
    for match in PROSE_RE.finditer(text):
        parts.append(escape(text[position:match.start()]))
        if match.group("url"):
            parts.append(Markup('<a href="{0}" class="url">{0}</a>').format(match.group("url")))
        else:
            parts.append(long_date(match.group("date"), country))
        position = match.end()
    parts.append(escape(text[position:]))
    return Markup("").join(parts)


def local_time(value: dt.datetime, zone: ZoneInfo, country: str | None = None) -> str:
    local = value.astimezone(zone)
    locale = reader_locale(country)
    return f"{format_date(local.date(), 'long', locale=locale)}, {format_time(local, 'short', locale=locale)} " \
           f"({local.tzname()})"


def event_text(event: CaseEvent) -> str:
    if event.action == "email_sent":
        return EMAIL_KIND_TEXT.get(str(event.data.get("kind")), EVENT_TEXT["email_sent"])
    if event.action == "reminders_planned" and not (event.data or {}).get("reminders"):
        return NO_REMINDERS_PLANNED
    return EVENT_TEXT.get(event.action, event.action.replace("_", " ").capitalize() + ".")


def register(app: Flask) -> None:
    app.add_template_filter(field_id, "fieldid")
    app.add_template_filter(status_title, "status_title")
    app.add_template_filter(status_explanation, "status_explanation")
    app.add_template_filter(local_time, "localtime")
    app.add_template_filter(long_date, "longdate")
    app.add_template_filter(format_money, "money")
    app.add_template_filter(prose, "prose")
    app.add_template_filter(event_text, "event_text")
    app.add_template_filter(outcome_words, "outcome_words")
    app.add_template_filter(recorded_by, "recorded_by")
    app.add_template_filter(language_name, "language_name")
    app.add_template_global(language_choices, "language_choices")


def language_name(language: str) -> str:
    """A case's language in itself ("Français"), as pages show it (with ``lang`` set to the code)."""
    return next((name for known, name in NAMES.items() if known == language), language)


def language_choices() -> list[tuple[str, str]]:
    """The languages a consumer chooses from, each named in itself, in the contract's order."""
    return [(code, NAMES[code]) for code in LANGUAGES]


# What a page calls each field, to begin a sentence ("… must be today or in the past").
FIELD_NAMES = {
    "provider": "Company", "plan": "Company and plan", "billing_channel": "How you pay", "country": "Country",
    "region": "State or region", "timezone": "Time zone", "payment_date": "Date of your last payment",
    "trial_start_date": "First day of your free trial", "subscription_start_date": "The day you first subscribed",
    "next_renewal_date": "Next renewal date", "amount.value": "Amount", "amount.currency": "Currency",
    "requested_outcome": "What you want", "consumer.name": "Your full name",
    "consumer.email": "Your e-mail address", "consumer.postal_address": "Your postal address",
    "consumer.phone": "Your phone number", "account_identifier": "Your account with the company",
    "details": "Anything else", "company.name": "Company name", "company.email": "Company e-mail address",
    "company.web_form_url": "Company web form", "company.postal_address": "Company postal address",
    "company.plan_name": "What you pay for", "company.trial_days": "Length of the free trial",
    "company.refund_window_days": "Refund window", "consent.send_in_my_name": "Consent",
    "language": "Language of your letter and e-mails",
}

# When a field is missing or empty.
REQUIRED = {
    "provider": "Select the company you pay",
    "plan": "Select the company and plan you pay for",
    "billing_channel": "Select how you pay",
    "country": "Select the country you live in",
    "amount.value": "Enter the amount of your last payment, like 12.99",
    "amount.currency": "Enter a 3-letter currency code, like AUD, USD or EUR",
    "requested_outcome": "Select what you want",
    "consumer.name": "Enter your full name",
    "consumer.email": "Enter your e-mail address",
    "company.name": "Enter the name of the company",
    "consent.send_in_my_name": "Tick the box to let us write in your name",
}

DAYS = "Enter a whole number of days, from 1 to 366, like 14"
CHOOSE = {"provider": "Select the company you pay from the list", "plan": "Select your plan from the list",
          "billing_channel": "Select how you pay", "requested_outcome": "Select what you want",
          "language": "Select the language of your letter and e-mails from the list"}

PAGE_MESSAGES: dict[tuple[str, str], str] = {
    ("payment_date", "required unless trial_start_date is given"):
        "Enter the date of your last payment, or the first day of your free trial",
    ("payment_date", "is before the trial's first charge day"):
        "Date of your last payment must be on or after the day your free trial ended",
    ("subscription_start_date", "must not be after payment_date"):
        "The day you first subscribed must be on or before the date of your last payment",
    ("trial_start_date", "this plan has no free trial"):
        "This plan has no free trial: leave the first day of your free trial empty",
    ("country", "not an ISO 3166-1 country code"): "Select the country you live in",
    ("amount.currency", "not an ISO 4217 currency code"): "Enter a 3-letter currency code, like AUD, USD or EUR",
    ("consumer.email", "not a valid e-mail address"): "Enter your e-mail address, like name@example.com",
    ("company.email", "not a valid e-mail address"): "Enter the e-mail address of the company, like help@example.com",
    ("company.email", "give at least one way to reach the company: e-mail, web form or post"):
        "Give at least one way to reach the company: its e-mail address, web form or postal address",
    ("company.web_form_url", "must be an http:// or https:// address"):
        "Enter the full address of the web form, starting with https://",
    ("consent.send_in_my_name", "must be true: we only write in your name with your consent"):
        "Tick the box to let us write in your name",
    ("company.name", "required for another company"): "Enter the name of the company",
}
"""The API's field messages are written for programs; a page says the same in a sentence of its own words."""

_DATE_FIELDS = ("payment_date", "trial_start_date", "subscription_start_date", "next_renewal_date")


def _amount_message(raw: str) -> str:
    text = raw.strip()
    if re.fullmatch(r"\d+,\d{1,2}", text):
        return "Use a full stop for pennies or cents, like 12.99"
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return "Enter the amount as a number, like 12.99"
    if not value.is_finite():
        return "Enter the amount as a number, like 12.99"
    if value <= 0:
        return "Amount must be more than 0"
    if "," in text:
        return "Enter the amount without commas, like 1299.00"
    return "Amount can have at most 2 digits after the full stop, like 12.99"


def page_message(field: str, message: str, raw: str = "") -> str:
    """One API field message, as the page that asked the field says it."""
    if (field, message) in PAGE_MESSAGES:
        return PAGE_MESSAGES[(field, message)]
    name = FIELD_NAMES.get(field, field)
    if message in ("required", "required for another company"):
        return REQUIRED.get(field, f"Enter {name[0].lower()}{name[1:]}")
    if field in CHOOSE:
        return CHOOSE[field]  # a slug or choice the page's list does not offer
    if field == "amount.value":
        return _amount_message(raw)
    if field in ("company.trial_days", "company.refund_window_days"):
        return DAYS
    if field in _DATE_FIELDS:
        if message == "must not be in the future":
            return f"{name} must be today or in the past"
        if message == "must be a real date as YYYY-MM-DD":
            return f"{name} must be a real date"
    if (limit := re.fullmatch(r"at most (\d+) characters", message)) is not None:
        return f"{name} must be {limit.group(1)} characters or fewer"
    if message == ONE_LINE:
        return f"{name} must be on one line: remove any line breaks or hidden characters"
    if message == NO_CONTROLS:
        return (f"{name} has a hidden character we cannot keep (one that is not a letter, a space or a line "
                "break): remove it, or type the text again instead of pasting it")
    return f"{name}: {message}"


def page_errors(errors: dict[str, str], values: Mapping[str, str] | None = None) -> dict[str, str]:
    """The API's field messages in the page's words (``values``: what was typed, which some messages need)."""
    typed = values or {}
    return {field: page_message(field, message, typed.get(field, "")) for field, message in errors.items()}
