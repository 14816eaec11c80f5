"""The case page's side panel: the actions a caseworker can take on the case now, the most relevant first,
and the one shown open. Each action is a disclosure on the page; deciding here (not in the template) keeps the
rule typed, testable and in one place, so the page stays short and the likely next step is already open."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from casework.cases.states import CaseStatus

# Every action the panel knows, in the order that suits an open case waiting for the company.
BASE_ORDER = ("approve", "record_delivery", "submit", "answer", "resolve", "follow_up", "final_notice", "escalate",
              "ask", "letter", "note", "close", "reopen")
# A finished case: closing it, a new charge, or reopening it; a note at any time.
FINISHED_ORDER = ("close", "answer", "reopen", "note")
# The form a refused post came from, so the page shows it open with its errors and what was typed.
ENDPOINT_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "staff.approve": ("approve",),
    "staff.record_delivery": ("record_delivery", "submit"),
    "staff.final_notice": ("final_notice",),
    "staff.add_case_note": ("note",),
    "staff.record_response": ("answer",),
    "staff.resolve_case": ("resolve",),
    "staff.close_case": ("close",),
    "staff.reopen_case": ("reopen",),
    "staff.ask_consumer": ("ask",),
    "staff.escalate_case": ("escalate",),
    "staff.follow_up_now": ("follow_up",),
    "staff.regenerate_letter": ("letter",),
    "staff.resend_letter": ("letter",),
}
FINISHED = (CaseStatus.RESOLVED, CaseStatus.CLOSED)
CLOCK = (CaseStatus.SENT, CaseStatus.FOLLOW_UP, CaseStatus.ESCALATED)


@dataclass(frozen=True)
class CaseState:
    """What decides which actions are offered (each flag as the case page reads it)."""

    status: CaseStatus
    transitions: Collection[str]
    awaiting_approval: bool
    channel_kind: str | None  # how the company takes the latest letter: email, web_form, post
    letter_sent: bool
    letter_failed: bool
    to_submit: bool
    follow_up_possible: bool
    can_regenerate: bool
    can_resend: bool
    answerable: bool  # not merged, personal data kept
    answer_since_delivery: str | None  # the type of the company's answer to the latest letter, if any


def available(state: CaseState) -> set[str]:
    """The actions the case allows now (the same conditions the forms were always offered under)."""
    found = {"note"}
    if state.status is CaseStatus.READY and state.awaiting_approval:
        found.add("approve")
    elif state.status is CaseStatus.READY and state.channel_kind not in (None, "email"):
        found.add("record_delivery")
    if state.to_submit:
        found.add("submit")
    if state.status in CLOCK:
        found.add("final_notice")
    if state.answerable and (state.status in FINISHED or state.status in CLOCK or state.status is CaseStatus.READY):
        found.add("answer")
    for action, target in (("resolve", "resolved"), ("close", "closed"), ("ask", "needs_info"),
                           ("escalate", "escalated")):
        if target in state.transitions:
            found.add(action)
    if state.status in FINISHED and ("sent" in state.transitions or "new" in state.transitions):
        found.add("reopen")
    if state.follow_up_possible:
        found.add("follow_up")
    if state.can_regenerate or (state.can_resend and state.channel_kind == "email" and state.letter_sent):
        found.add("letter")
    return found


def action_order(state: CaseState) -> list[str]:
    """The available actions, most relevant first.

    Once the company has answered the latest letter, deciding the case comes first (asking the consumer, when
    the company asked for information; a new charge is no answer); a failed letter puts writing it again first."""
    offered = available(state)
    order = list(FINISHED_ORDER if state.status in FINISHED else BASE_ORDER)
    if state.status not in FINISHED:
        if state.answer_since_delivery not in (None, "charged_again"):
            first = "ask" if state.answer_since_delivery == "asked_for_information" and "ask" in offered else "resolve"
            order.remove(first)
            order.insert(0, first)
        if state.letter_failed:
            order.remove("letter")
            order.insert(0, "letter")
    return [action for action in order if action in offered]


def open_action(order: list[str], endpoint: str | None, refused: bool) -> str | None:
    """The disclosure shown open: the form a refused post came from, else the most relevant action."""
    if refused and endpoint is not None:
        for action in ENDPOINT_ACTIONS.get(endpoint, ()):
            if action in order:
                return action
    return order[0] if order else None
