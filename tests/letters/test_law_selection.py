"""The rules that choose a letter's clauses, each on a made-up clause so the rule is seen alone: the dates the law is
in force, the two contract dates (terms date, original start), letter kinds, billing, conditions, replacements and
clauses that never go to the company. The functions are pure, so every date is passed in."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from casework.letters.law import (
    BILLINGS,
    LETTER_KINDS,
    Clause,
    LawSource,
    select_card_disputes,
    select_for_letter,
)

LETTER = date(2026, 11, 27)


def clause(**changes: Any) -> Clause:
    fields: dict[str, Any] = {
        "id": "xx-test", "jurisdiction": "US", "instrument": "Test Act", "sections": ("s 1",),
        "text": "Under the Test Act, a consumer may cancel.", "in_force_from": date(2020, 1, 1),
        "sources": (LawSource("Test", "https://example.org/test-act", date(2026, 12, 6)),),
    }
    fields.update(changes)
    return Clause(**fields)


def select(clauses: list[Clause], country: str = "US", region: str | None = None, **facts: Any) -> list[str]:
    args: dict[str, Any] = {
        "letter_kind": "cancellation", "billing": "monthly", "letter_date": LETTER,
        "terms_date": date(2026, 11, 20), "subscription_start": date(2026, 11, 20),
    }
    args.update(facts)
    return [c.id for c in select_for_letter(clauses, country, region, **args)]


# --- In force on the letter's date ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("changes", "letter", "cited"),
    [
        ({}, date(2019, 12, 31), False),
        ({}, date(2020, 1, 1), True),
        ({"in_force_until": date(2024, 1, 1)}, date(2023, 12, 31), True),
        ({"in_force_until": date(2024, 1, 1)}, date(2024, 1, 1), False),
        ({"vacated_on": date(2024, 1, 1)}, date(2023, 12, 31), True),
        ({"vacated_on": date(2024, 1, 1)}, date(2024, 1, 2), False),
        ({"status": "vacated", "vacated_on": date(2024, 1, 1)}, date(2023, 12, 31), False),
        ({"status": "not_in_force"}, date(2030, 1, 1), False),
        ({"in_force_from": None}, date(2030, 1, 1), False),
    ],
)
def test_only_law_in_force_on_the_letters_date_is_cited(changes: dict[str, Any], letter: date, cited: bool) -> None:
    made = date(2019, 1, 1)
    assert select([clause(**changes)], letter_date=letter, terms_date=made, subscription_start=made) == (
        ["xx-test"] if cited else [])


# --- Rules about the contract's terms: the terms date ---------------------------------------------------------------

@pytest.mark.parametrize(
    ("terms_date", "cited"),
    [(None, False), (date(2022, 2, 28), False), (date(2022, 3, 1), True), (date(2026, 11, 20), True)],
)
def test_a_rule_about_the_terms_looks_at_the_terms_date_and_an_unknown_one_never_qualifies(
    terms_date: date | None, cited: bool
) -> None:
    rule = clause(applies_to_contracts_from=date(2022, 3, 1))
    # The original start does not matter for such a rule: the contract was renewed under the new law.
    assert select([rule], terms_date=terms_date, subscription_start=date(2019, 1, 1)) == (["xx-test"] if cited else [])


def test_a_clause_without_a_contract_date_is_cited_whatever_the_contract_dates() -> None:
    assert select([clause()], terms_date=None, subscription_start=None) == ["xx-test"]


# --- Withdrawal-type rights: the original start --------------------------------------------------------------------

WITHDRAWAL = {"counts_from": "original_contract", "period_days": 14}


@pytest.mark.parametrize(
    ("start", "cited"),
    [
        (None, False),                       # unknown: never guessed
        (date(2026, 11, 17), True),          # 10 days before the letter
        (date(2026, 11, 13), True),          # start + 14 = the letter's date: still in time
        (date(2026, 11, 12), False),         # start + 14 = the day before the letter
        (date(2026, 11, 27), True),          # made on the letter's day
        (date(2026, 11, 28), False),         # a start after the letter is not a contract the letter is about
        (date(2025, 11, 20), False),         # a year ago
    ],
)
def test_a_withdrawal_type_right_runs_from_the_known_original_start(start: date | None, cited: bool) -> None:
    assert select([clause(**WITHDRAWAL)], subscription_start=start) == (["xx-test"] if cited else [])


def test_a_renewal_does_not_restart_a_withdrawal_type_right() -> None:
    """A payment or renewal last week is the terms date; the right still runs from the original start."""
    assert select([clause(**WITHDRAWAL)], terms_date=date(2026, 11, 20), subscription_start=date(2026, 7, 1)) == []


def test_a_withdrawal_type_right_is_never_guessed_from_a_payment_date() -> None:
    assert select([clause(**WITHDRAWAL)], terms_date=LETTER, subscription_start=None) == []


def test_a_withdrawal_type_right_with_a_contract_date_needs_both_dates_on_or_after_it() -> None:
    right = clause(**WITHDRAWAL, applies_to_contracts_from=date(2026, 6, 19))
    day = date(2026, 6, 25)
    assert select([right], letter_date=day, terms_date=date(2026, 6, 19), subscription_start=date(2026, 6, 19)) == [
        "xx-test"]
    assert select([right], letter_date=day, terms_date=date(2026, 6, 20), subscription_start=date(2026, 6, 18)) == []
    assert select([right], letter_date=day, terms_date=None, subscription_start=date(2026, 6, 19)) == []


# --- Which letter, which billing, which facts ----------------------------------------------------------------------

@pytest.mark.parametrize("kind", LETTER_KINDS)
def test_letter_kinds_limit_the_letters_that_cite_a_clause(kind: str) -> None:
    later_only = clause(letter_kinds=frozenset({"follow_up", "final_notice"}))
    assert select([later_only], letter_kind=kind) == ([] if kind == "cancellation" else ["xx-test"])
    assert select([clause()], letter_kind=kind) == ["xx-test"]


@pytest.mark.parametrize("billing", BILLINGS)
def test_billing_limits_the_contracts_a_clause_fits(billing: str) -> None:
    recurring = clause(billing=frozenset({"monthly", "annual"}))
    assert select([recurring], billing=billing) == ([] if billing == "one_time" else ["xx-test"])
    assert select([clause()], billing=billing) == ["xx-test"]


def test_a_clause_with_a_condition_is_cited_only_when_the_caller_passes_it() -> None:
    conditional = clause(condition="no_renewal_reminder")
    assert select([conditional]) == []
    assert select([conditional], conditions=frozenset({"no_renewal_reminder"})) == ["xx-test"]
    assert select([clause()], conditions=frozenset({"no_renewal_reminder"})) == ["xx-test"]


# --- Never to the company --------------------------------------------------------------------------------------------

CARD = {"id": "xx-card", "to_company": False, "route": "card_issuer"}


@pytest.mark.parametrize("kind", LETTER_KINDS)
@pytest.mark.parametrize("billing", BILLINGS)
def test_a_clause_not_for_the_company_is_in_no_letter(kind: str, billing: str) -> None:
    assert select([clause(**CARD)], letter_kind=kind, billing=billing) == []


def test_a_card_dispute_clause_is_given_for_guidance_where_and_while_it_is_law() -> None:
    card, letter_law = clause(**CARD, in_force_from=date(1975, 10, 28)), clause()
    assert select_card_disputes([letter_law, card], "US", None, LETTER) == [card]
    assert select_card_disputes([letter_law, card], "us", "US-NY", LETTER) == [card]
    assert select_card_disputes([letter_law, card], "GB", None, LETTER) == []
    assert select_card_disputes([letter_law, card], "US", None, date(1975, 10, 27)) == []
    assert select_card_disputes([clause(**CARD, status="vacated", vacated_on=date(2000, 1, 1))], "US", None,
                                LETTER) == []


# --- Replacements --------------------------------------------------------------------------------------------------

def test_a_national_text_replaces_the_directive_only_where_both_are_cited() -> None:
    directive = clause(id="eu-rule", jurisdiction="EU", **WITHDRAWAL)
    national = clause(id="fr-rule", jurisdiction="FR", replaces=("eu-rule",), **WITHDRAWAL)
    assert select([directive, national], "FR") == ["fr-rule"]
    assert select([directive, national], "DE") == ["eu-rule"]
    # Not yet numbered so on the letter's date: the directive stays.
    later = clause(id="fr-rule", jurisdiction="FR", replaces=("eu-rule",), in_force_from=date(2027, 1, 1))
    assert select([directive, later], "FR") == ["eu-rule"]


def test_a_replacement_keeps_the_data_files_order() -> None:
    older = clause(id="xx-old", applies_to_contracts_from=date(2010, 7, 1))
    newer = clause(id="xx-new", applies_to_contracts_from=date(2023, 11, 9), replaces=("xx-old",))
    other = clause(id="xx-other")
    assert select([other, older, newer], terms_date=date(2023, 11, 8)) == ["xx-other", "xx-old"]
    assert select([other, older, newer], terms_date=date(2023, 11, 9)) == ["xx-other", "xx-new"]


# --- Place --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("jurisdiction", "country", "region", "cited"),
    [
        ("US", "US", None, True), ("US", "us", "us-ca", True), ("US", "GB", None, False),
        ("US-CA", "US", "US-CA", True), ("US-CA", "us", " us-ca ", True), ("US-CA", "US", "US-NY", False),
        ("US-CA", "US", None, False), ("US-CA", "CA", "US-CA", False),
        ("EU", "IE", None, True), ("EU", "GR", None, True), ("EU", "EL", None, False), ("EU", "GB", None, False),
        ("EU", "EU", None, False), ("EU", "", None, False),
    ],
)
def test_the_jurisdiction_must_cover_the_consumer(jurisdiction: str, country: str, region: str | None,
                                                   cited: bool) -> None:
    assert select([clause(jurisdiction=jurisdiction)], country, region) == (["xx-test"] if cited else [])


# --- The caller's mistakes ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("facts", "message"),
    [
        ({"letter_kind": "reminder"}, "unknown letter kind 'reminder'"),
        ({"billing": "weekly"}, "unknown billing 'weekly'"),
        ({"conditions": frozenset({"no_reminder"})}, "unknown condition 'no_reminder'"),
    ],
)
def test_an_unknown_letter_kind_billing_or_condition_is_an_error_not_an_empty_list(
    facts: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        select([clause()], **facts)
