"""Words and formats for pages: status names, timeline lines, local times, field ids."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Flask

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
}

EMAIL_KIND_TEXT = {
    "confirm_letter": "Your letter was e-mailed to you to confirm.",
    "letter_to_company": "Your letter was e-mailed to the company, with a copy to you.",
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


def local_time(value: dt.datetime, zone: ZoneInfo) -> str:
    local = value.astimezone(zone)
    return f"{local.day} {local:%B %Y, %H:%M} ({local.tzname()})"


def event_text(event: CaseEvent) -> str:
    if event.action == "email_sent":
        return EMAIL_KIND_TEXT.get(str(event.data.get("kind")), EVENT_TEXT["email_sent"])
    return EVENT_TEXT.get(event.action, event.action.replace("_", " ").capitalize() + ".")


def register(app: Flask) -> None:
    app.add_template_filter(field_id, "fieldid")
    app.add_template_filter(status_title, "status_title")
    app.add_template_filter(status_explanation, "status_explanation")
    app.add_template_filter(local_time, "localtime")
    app.add_template_filter(event_text, "event_text")
