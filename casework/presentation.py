"""Words and formats for pages: status names, timeline lines, local times, field ids."""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from flask import Flask, has_request_context, request
from markupsafe import Markup, escape

from casework.cases.models import Case, CaseEvent
from casework.cases.states import CaseStatus

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

EVENT_TEXT = {
    "filed": "You filed this case.",
    "letter_requested": "We started preparing your letter.",
    "letter_rendered": "Your letter was written.",
    "letter_failed": "Your letter could not be produced; a caseworker will look at it.",
    "email_sent": "An e-mail was sent.",
    "email_failed": "An e-mail could not be delivered; a caseworker will look at it.",
    "confirmation_resent": "A new confirmation code was sent.",
    "email_corrected": "Your e-mail address was corrected.",
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
    "links_resent": "New links to this case were e-mailed.",
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

EMAIL_KIND_TEXT = {
    "confirm_letter": "Your letter was e-mailed to you to confirm.",
    "letter_to_company": "Your letter was e-mailed to the company, with a copy to you.",
    "reminder_to_submit": "Your next letter was e-mailed to you to submit to the company.",
}


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


def local_time(value: dt.datetime, zone: ZoneInfo, country: str | None = None) -> str:
    local = value.astimezone(zone)
    locale = reader_locale(country)
    return f"{format_date(local.date(), 'long', locale=locale)}, {format_time(local, 'short', locale=locale)} " \
           f"({local.tzname()})"


def event_text(event: CaseEvent) -> str:
    if event.action == "email_sent":
        return EMAIL_KIND_TEXT.get(str(event.data.get("kind")), EVENT_TEXT["email_sent"])
    return EVENT_TEXT.get(event.action, event.action.replace("_", " ").capitalize() + ".")


def register(app: Flask) -> None:
    app.add_template_filter(field_id, "fieldid")
    app.add_template_filter(status_title, "status_title")
    app.add_template_filter(status_explanation, "status_explanation")
    app.add_template_filter(local_time, "localtime")
    app.add_template_filter(long_date, "longdate")
    app.add_template_filter(event_text, "event_text")


PAGE_MESSAGES = {
    "must not be after payment_date": "must not be after the date of your last payment",
    "required unless trial_start_date is given": "give the date of your last payment, or of your free trial's start",
}
"""The API's field messages name its fields; a page says the same in the words of its own labels."""


def page_errors(errors: dict[str, str]) -> dict[str, str]:
    return {field: PAGE_MESSAGES.get(message, message) for field, message in errors.items()}
