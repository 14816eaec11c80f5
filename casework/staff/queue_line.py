"""The columns a queue line shows: pages of the queue and "take next" load these and nothing else.

A case row carries its assessment, facts and free text; a queue page of fifty full rows spends most of its
time decoding what nobody reads there. The queue loads only these columns (any other attribute raises, so a
template that starts needing one fails in the tests instead of quietly costing a query per line), and "take
next" returns them straight from its UPDATE.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from sqlalchemy.orm import load_only
from sqlalchemy.orm.interfaces import LoaderOption

from casework.cases.models import Case
from casework.cases.states import CaseStatus, Outcome

QUEUE_LINE_COLUMNS = (
    Case.id, Case.reference, Case.status, Case.outcome, Case.version, Case.provider_slug, Case.company,
    Case.consumer_name, Case.consumer_email, Case.assignee_id, Case.urgency_on, Case.urgency_kind,
    Case.needs_review, Case.escalation_due_at, Case.personal_data_deleted_at, Case.created_at,
    Case.email_confirmed_at,
)


class QueueLine(Protocol):
    """What a queue line reads of a case: a partly loaded :class:`Case`, or the row "take next" returned."""

    @property
    def id(self) -> int: ...
    @property
    def reference(self) -> str: ...
    @property
    def status(self) -> CaseStatus: ...
    @property
    def outcome(self) -> Outcome | None: ...
    @property
    def version(self) -> int: ...
    @property
    def provider_slug(self) -> str: ...
    @property
    def company(self) -> dict[str, Any] | None: ...
    @property
    def consumer_name(self) -> str: ...
    @property
    def consumer_email(self) -> str: ...
    @property
    def assignee_id(self) -> int | None: ...
    @property
    def urgency_on(self) -> dt.date: ...
    @property
    def urgency_kind(self) -> str | None: ...
    @property
    def needs_review(self) -> bool: ...
    @property
    def escalation_due_at(self) -> dt.datetime | None: ...
    @property
    def personal_data_deleted_at(self) -> dt.datetime | None: ...
    @property
    def created_at(self) -> dt.datetime: ...
    @property
    def email_confirmed_at(self) -> dt.datetime | None: ...


def queue_line_only() -> LoaderOption:
    """Load a case with the queue line's columns only; reading any other one is an error, not a query."""
    return load_only(*QUEUE_LINE_COLUMNS, raiseload=True)
