"""The case page's side panel: which actions are offered, the most relevant first, and which one is open."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from casework.cases.states import CaseStatus
from casework.staff.case_panel import CaseState, action_order, available, open_action


def state(status: CaseStatus, transitions: tuple[str, ...] = (), **changes: Any) -> CaseState:
    base = CaseState(status=status, transitions=transitions, awaiting_approval=False, channel_kind="email",
                     letter_sent=True, letter_failed=False, to_submit=False, follow_up_possible=False,
                     can_regenerate=False, can_resend=True, answerable=True, answer_since_delivery=None)
    return dataclasses.replace(base, **changes)


SENT = ("needs_info", "follow_up", "escalated", "resolved")


def test_a_case_waiting_for_the_company_offers_its_answer_first() -> None:
    assert action_order(state(CaseStatus.SENT, SENT, follow_up_possible=True)) == [
        "answer", "resolve", "follow_up", "final_notice", "escalate", "ask", "letter", "note"]


@pytest.mark.parametrize(("answer", "first"), [
    ("confirmed_cancellation", "resolve"), ("refused", "resolve"), ("asked_for_information", "ask"),
    ("charged_again", "answer"),  # a new charge is no answer to the letter
])
def test_once_the_company_answered_deciding_comes_first(answer: str, first: str) -> None:
    order = action_order(state(CaseStatus.SENT, SENT, answer_since_delivery=answer))
    assert order[0] == first
    assert sorted(order) == sorted(available(state(CaseStatus.SENT, SENT)))


def test_a_confirmed_letter_waiting_for_approval_or_a_web_form_puts_delivery_first() -> None:
    ready = ("needs_info", "resolved")
    assert action_order(state(CaseStatus.READY, ready, awaiting_approval=True))[0] == "approve"
    by_form = action_order(state(CaseStatus.READY, ready, channel_kind="web_form", letter_sent=False))
    assert by_form[0] == "record_delivery"
    assert "approve" not in by_form
    assert "record_delivery" not in action_order(state(CaseStatus.READY, ready))  # e-mail goes by itself


def test_a_failed_letter_puts_writing_it_again_first() -> None:
    order = action_order(state(CaseStatus.NEW, ("needs_info", "resolved"), letter_failed=True, can_regenerate=True,
                               letter_sent=False, answerable=True))
    assert order == ["letter", "resolve", "ask", "note"]


def test_a_finished_case_offers_closing_a_new_charge_and_reopening() -> None:
    assert action_order(state(CaseStatus.RESOLVED, ("closed", "sent"), can_resend=False)) == [
        "close", "answer", "reopen", "note"]
    assert action_order(state(CaseStatus.CLOSED, (), can_resend=False, answerable=False)) == ["note"]


def test_a_merged_case_offers_only_a_note() -> None:
    merged = state(CaseStatus.RESOLVED, (), can_resend=False, answerable=False)
    assert action_order(merged) == ["note"]


def test_the_refused_form_is_the_one_shown_open() -> None:
    order = ["answer", "resolve", "note"]
    assert open_action(order, "staff.case", refused=False) == "answer"
    assert open_action(order, "staff.add_case_note", refused=True) == "note"
    assert open_action(order, "staff.resolve_case", refused=False) == "answer"  # no errors: the usual one
    assert open_action(order, "staff.assign_case", refused=True) == "answer"  # not a panel form
    assert open_action(["submit", "note"], "staff.record_delivery", refused=True) == "submit"
    assert open_action([], "staff.case", refused=False) is None
