"""Every model, imported in one place so metadata is complete for migrations and tests."""

from casework.cases.drafts import IntakeDraft
from casework.cases.models import (
    AccessToken,
    Case,
    CaseEvent,
    CaseStatusDelta,
    CompanyResponse,
    ConfirmationCode,
    Delivery,
    IdempotencyKey,
)
from casework.evidence.models import StoredPack
from casework.letters.models import Letter
from casework.mail.models import OutboundEmail
from casework.privacy.models import ErasureCode
from casework.reminders.models import Reminder
from casework.staff.models import CaseNote, CaseRead, SavedView, StaffApiToken, StaffUser

__all__ = [
    "AccessToken",
    "Case",
    "CaseEvent",
    "CaseNote",
    "CaseRead",
    "CaseStatusDelta",
    "CompanyResponse",
    "ConfirmationCode",
    "Delivery",
    "ErasureCode",
    "IdempotencyKey",
    "IntakeDraft",
    "Letter",
    "OutboundEmail",
    "Reminder",
    "SavedView",
    "StaffApiToken",
    "StaffUser",
    "StoredPack",
]
