"""The calendar entry sent with a reminder: one all-day event on the act-by date, with an alarm.

The UID names the case, the deadline's kind and its date, not the reminder: the 3-day and the same-day
reminder carry the same event, so a calendar that imports both keeps one entry.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from icalendar import vDate, vDatetime, vDuration, vText

PRODID = "-//casework//deadline reminders//EN"
ALARM_AT = dt.timedelta(hours=9)  # 09:00 on the act-by day, the same hour the e-mails use
FOLD_AT = 75


def event_uid(reference: str, kind: str, deadline: dt.date, domain: str) -> str:
    return f"{reference}-{kind}-{deadline.isoformat()}@{domain}"


def deadline_calendar(*, uid: str, summary: str, description: str, act_by: dt.date, url: str,
                      stamp: dt.datetime) -> str:
    """An iCalendar document (RFC 5545) with the act-by date as an all-day event.

    The lines are laid out here and each value is written by icalendar's own types: building the document
    through ``Calendar`` objects cost a millisecond per reminder, which a sweep of 100,000 due reminders
    could not afford.
    """
    properties = [
        ("BEGIN", "VCALENDAR"), ("VERSION", "2.0"), ("PRODID", _text(PRODID)), ("METHOD", "PUBLISH"),
        ("BEGIN", "VEVENT"),
        ("UID", _text(uid)),
        ("DTSTAMP", _ical(vDatetime(stamp.astimezone(dt.UTC)))),
        ("DTSTART;VALUE=DATE", _ical(vDate(act_by))),
        ("DTEND;VALUE=DATE", _ical(vDate(act_by + dt.timedelta(days=1)))),
        ("SUMMARY", _text(summary)), ("DESCRIPTION", _text(description)), ("URL;VALUE=URI", url),
        ("BEGIN", "VALARM"), ("ACTION", "DISPLAY"), ("DESCRIPTION", _text(summary)),
        ("TRIGGER", _ical(vDuration(ALARM_AT))), ("END", "VALARM"),
        ("END", "VEVENT"), ("END", "VCALENDAR"),
    ]
    return "".join(fold_line(f"{name}:{value}") for name, value in properties)


def fold_line(line: str) -> str:
    """RFC 5545 §3.1: lines longer than 75 octets continue on lines starting with a space."""
    if len(line.encode()) <= FOLD_AT:
        return line + "\r\n"
    if line.isascii():
        rest = [line[i:i + FOLD_AT - 1] for i in range(FOLD_AT, len(line), FOLD_AT - 1)]
        return "\r\n ".join([line[:FOLD_AT], *rest]) + "\r\n"
    parts: list[str] = []
    current = ""
    for char in line:
        if len((current + char).encode()) > (FOLD_AT if not parts else FOLD_AT - 1):
            parts.append(current)
            current = ""
        current += char
    parts.append(current)
    return "\r\n ".join(parts) + "\r\n"


def unfold(document: str) -> list[str]:
    """The document's logical lines (RFC 5545 §3.1: a line break followed by a space or tab continues a line)."""
    return [line for line in re.sub(r"\r\n[ \t]", "", document).split("\r\n") if line]


def _ical(value: Any) -> str:
    """A property value as icalendar writes it (its types carry no annotations)."""
    return str(value.to_ical().decode())


def _text(value: str) -> str:
    return _ical(vText(value))
