"""Case statuses, outcomes and the allowed transitions of the public API contract."""

from __future__ import annotations

from enum import StrEnum


class CaseStatus(StrEnum):
    NEW = "new"
    NEEDS_INFO = "needs_info"
    READY = "ready"
    SENT = "sent"
    FOLLOW_UP = "follow_up"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Outcome(StrEnum):
    CANCELLED = "cancelled"
    CANCELLED_REFUNDED = "cancelled_refunded"
    CANCELLED_PARTIAL_REFUND = "cancelled_partial_refund"
    REFUND_DENIED = "refund_denied"
    REFUSED = "refused"
    NO_RESPONSE = "no_response"
    REDIRECTED_APP_STORE = "redirected_app_store"
    WITHDRAWN = "withdrawn"


class Actor(StrEnum):
    CONSUMER = "consumer"
    STAFF = "staff"
    SYSTEM = "system"


class BillingChannel(StrEnum):
    DIRECT = "direct"
    APPLE_APP_STORE = "apple_app_store"
    GOOGLE_PLAY = "google_play"


class RequestedOutcome(StrEnum):
    CANCEL = "cancel"
    CANCEL_AND_REFUND = "cancel_and_refund"


S = CaseStatus

# A finished case: nothing more goes out for it, and only "charged again" or a caseworker reopens it. Here,
# with the statuses, so that every floor (reminders included, below the state machine) reads the one tuple.
FINISHED: tuple[CaseStatus, ...] = (CaseStatus.RESOLVED, CaseStatus.CLOSED)

# "needs_info" returns to the status it came from; that target is checked against the case itself.
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.NEW: frozenset({S.READY, S.NEEDS_INFO, S.RESOLVED}),
    S.NEEDS_INFO: frozenset({S.RESOLVED}),
    S.READY: frozenset({S.SENT, S.NEEDS_INFO, S.RESOLVED}),
    S.SENT: frozenset({S.FOLLOW_UP, S.ESCALATED, S.NEEDS_INFO, S.RESOLVED}),
    S.FOLLOW_UP: frozenset({S.ESCALATED, S.NEEDS_INFO, S.RESOLVED}),
    S.ESCALATED: frozenset({S.NEEDS_INFO, S.RESOLVED}),
    S.RESOLVED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
}


def can_transition(current: CaseStatus, target: CaseStatus, came_from: CaseStatus | None = None) -> bool:
    """Whether ``current`` may move to ``target`` (reopening is a separate, explicit action)."""
    if current is S.NEEDS_INFO and came_from is not None and target is came_from:
        return True
    return target in TRANSITIONS[current]


# Events (by the consumer or the system) that put a case in front of a caseworker: "needs review".
REVIEW_ACTIONS = frozenset({"response_recorded", "info_provided", "refund_received", "attachment_added",
                            "reopened", "escalation_due", "facts_corrected"})
# Events only staff see: the consumer's page and the consumer's API leave them out.
INTERNAL_ACTIONS = frozenset({"note_added", "assigned", "released", "reviewed"})
ESCALATION_KINDS = ("regulator", "ombudsman", "card_issuer")
