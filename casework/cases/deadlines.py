"""The consumer's most urgent deadline still open: the date put beside "submit it yourself"."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from casework.cases.models import Case
from casework.letters.render import format_long_date


@dataclass(frozen=True)
class OpenDeadline:
    kind: str
    date: dt.date
    act_by: dt.date
    label: str = ""


def most_urgent(assessment: Mapping[str, Any] | None, today: dt.date) -> OpenDeadline | None:
    """The open deadline (its day not before ``today``) whose act-by date comes first, or None.

    ``passed`` in a stored assessment was true on the day it was made; this counts from ``today``. The refund
    window counts only where a refund is asked for and can be had: otherwise it is no deadline of the consumer's.
    """
    best: OpenDeadline | None = None
    refund = ((assessment or {}).get("refund") or {}).get("eligibility") in ("eligible", "uncertain")
    for raw in (assessment or {}).get("deadlines") or ():
        if raw.get("kind") == "refund_window_end" and not refund:
            continue
        try:
            day = dt.date.fromisoformat(raw["date"])
            act_by = dt.date.fromisoformat(raw["act_by"])
        except (KeyError, TypeError, ValueError):
            continue
        if day < today:
            continue
        if best is None or act_by < best.act_by:
            best = OpenDeadline(str(raw.get("kind", "")), day, act_by, str(raw.get("label", "")))
    return best


def act_by_words(case: Case, now: dt.datetime) -> str:
    """The act-by date of the case's most urgent open deadline, written long ("9 December 2026"), or ""."""
    deadline = most_urgent(case.assessment, now.astimezone(ZoneInfo(case.timezone)).date())
    return format_long_date(deadline.act_by, case.country) if deadline is not None else ""
