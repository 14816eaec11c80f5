"""The law a letter may cite from the shipped file: only law in force on the letter's date, for the consumer's country
and region, for the contract's dates, the letter's kind and the billing; and a malformed law file is an error naming
the field. Every date is passed in, so these pass on any day."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from casework.letters.law import (
    BILLINGS,
    EU_MEMBER_STATES,
    LAW_FILE,
    LETTER_KINDS,
    Clause,
    LawDataError,
    LawSource,
    card_dispute_clauses,
    clauses_for_letter,
    clauses_in_force,
    default_clauses,
    load_clauses,
)

LETTER = date(2026, 11, 27)
SPREAD_OF_DATES = [
    date(1975, 10, 28), date(2010, 7, 1), date(2011, 1, 1), date(2014, 6, 13), date(2016, 7, 1), date(2020, 1, 1),
    date(2022, 3, 1), date(2022, 7, 1), date(2023, 6, 1), date(2023, 11, 9), date(2025, 1, 15), date(2025, 7, 7),
    date(2025, 7, 8), date(2025, 7, 14), date(2026, 6, 19), date(2026, 11, 27), date(2027, 7, 1), date(2030, 1, 1),
]
PLACES = [("AU", None), ("AU", "AU-NSW"), ("GB", None), ("DE", None), ("FR", None), ("IE", None), ("US", None),
          ("US", "US-CA"), ("US", "US-NY")]


def ids(country: str, region: str | None = None, **facts: Any) -> list[str]:
    """The ids a first letter for a monthly subscription made a week before 27 November 2026 cites, unless told."""
    args: dict[str, Any] = {
        "letter_kind": "cancellation", "billing": "monthly", "letter_date": LETTER,
        "terms_date": date(2026, 11, 20), "subscription_start": date(2026, 11, 20),
    }
    args.update(facts)
    return [c.id for c in clauses_for_letter(country, region, **args)]


def every_letter(country: str, region: str | None, day: date) -> list[Clause]:
    """Every clause any letter of ``day`` could cite, whatever its kind, billing, facts and contract dates."""
    found: dict[str, Clause] = {}
    for kind in LETTER_KINDS:
        for billing in BILLINGS:
            for made in (date(2010, 1, 1), date(2014, 6, 13), date(2023, 11, 9), day - timedelta(days=5), day):
                for conditions in (frozenset(), frozenset({"no_renewal_reminder"})):
                    for clause in clauses_for_letter(
                        country, region, letter_kind=kind, billing=billing, letter_date=day, terms_date=made,
                        subscription_start=made, conditions=conditions,
                    ):
                        found[clause.id] = clause
    return list(found.values())


WITHDRAWAL_IDS = {"gb-ccr-2013", "eu-crd-withdrawal", "eu-withdrawal-function", "fr-code-conso-l221-18"}


# --- Which contract date ----------------------------------------------------------------------------------------------

def test_a_german_contract_made_on_1_july_gets_no_withdrawal_clause_in_a_november_letter() -> None:
    july = date(2026, 7, 1)
    cited = ids("DE", terms_date=date(2026, 11, 1), subscription_start=july)
    assert cited == ["de-bgb-312k", "de-bgb-309-no-9"]
    assert not WITHDRAWAL_IDS & set(cited)


@pytest.mark.parametrize(
    ("country", "withdrawal"),
    [("GB", ["gb-ccr-2013"]), ("DE", ["eu-crd-withdrawal", "eu-withdrawal-function"]),
     ("IE", ["eu-crd-withdrawal", "eu-withdrawal-function"]),
     ("FR", ["eu-withdrawal-function", "fr-code-conso-l221-18"])],
)
def test_a_subscription_started_10_days_before_the_letter_gets_the_withdrawal_clauses(
    country: str, withdrawal: list[str]
) -> None:
    start = date(2026, 11, 17)
    assert [i for i in ids(country, terms_date=start, subscription_start=start) if i in WITHDRAWAL_IDS] == withdrawal


@pytest.mark.parametrize("country", ["GB", "DE", "FR", "IE", "GR"])
@pytest.mark.parametrize("kind", LETTER_KINDS)
@pytest.mark.parametrize("billing", BILLINGS)
def test_an_unknown_start_never_gets_a_withdrawal_clause(country: str, kind: str, billing: str) -> None:
    """Even with a payment on the letter's day: a withdrawal right is never guessed from a payment date."""
    cited = ids(country, letter_kind=kind, billing=billing, terms_date=LETTER, subscription_start=None)
    assert not WITHDRAWAL_IDS & set(cited)


@pytest.mark.parametrize(("start", "cited"), [(date(2026, 11, 13), True), (date(2026, 11, 12), False)])
def test_the_withdrawal_clause_lasts_until_start_plus_14_days(start: date, cited: bool) -> None:
    assert ("gb-ccr-2013" in ids("GB", terms_date=start, subscription_start=start)) is cited


def test_a_renewal_does_not_restart_the_withdrawal_period() -> None:
    assert ids("GB", terms_date=date(2026, 11, 20), subscription_start=date(2025, 11, 20)) == []


# --- Australia ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "cited"), [("cancellation", False), ("follow_up", True), ("final_notice", True)])
@pytest.mark.parametrize("billing", BILLINGS)
def test_acl_section_18_is_cited_only_in_a_follow_up_or_final_notice(kind: str, cited: bool, billing: str) -> None:
    assert ("au-acl-misleading-conduct" in ids("AU", letter_kind=kind, billing=billing)) is cited


@pytest.mark.parametrize(
    ("terms_date", "expected"),
    [
        (None, []),
        (date(2010, 6, 30), []),
        (date(2010, 7, 1), ["au-acl-unfair-contract-terms-2010"]),
        (date(2023, 11, 8), ["au-acl-unfair-contract-terms-2010"]),
        (date(2023, 11, 9), ["au-acl-unfair-contract-terms"]),
        (date(2026, 11, 20), ["au-acl-unfair-contract-terms"]),
    ],
)
def test_australian_unfair_terms_mention_penalties_only_for_contracts_from_9_november_2023(
    terms_date: date | None, expected: list[str]
) -> None:
    assert ids("AU", terms_date=terms_date, subscription_start=date(2009, 1, 1)) == expected


def test_an_australian_unfair_terms_clause_before_9_november_2023_is_not_cited_with_penalties() -> None:
    assert ids("AU", letter_date=date(2023, 11, 8), terms_date=date(2023, 11, 8)) == [
        "au-acl-unfair-contract-terms-2010"]


def test_no_clause_speaks_of_penalties_for_contracts_older_than_the_penalties() -> None:
    for clause in default_clauses():
        if re.search(r"penalt", clause.text, re.IGNORECASE):
            assert clause.applies_to_contracts_from is not None, clause.id
            assert clause.applies_to_contracts_from >= date(2023, 11, 9), clause.id


def test_the_consumer_guarantees_are_never_cited() -> None:
    for clause in default_clauses():
        assert not {"ss 60\u201362", "s 60", "s 61", "s 62", "s 64"} & set(clause.sections), clause.id
        assert "guarantee" not in clause.text.lower(), clause.id
        for source in clause.sources:
            assert "commerce.wa.gov.au" not in source.url, clause.id


# --- Europe ---------------------------------------------------------------------------------------------------------

def test_for_a_french_consumer_the_french_text_replaces_the_directive() -> None:
    cited = ids("FR")
    assert "fr-code-conso-l221-18" in cited
    assert "eu-crd-withdrawal" not in cited
    assert "eu-crd-withdrawal" in ids("DE")
    assert "eu-crd-withdrawal" in ids("BE")


def test_before_article_l221_18_had_its_number_the_directive_is_cited_in_france() -> None:
    start = date(2016, 6, 20)
    assert ids("FR", letter_date=date(2016, 6, 30), terms_date=start, subscription_start=start) == [
        "eu-crd-withdrawal"]


def test_article_l215_1_is_cited_only_when_the_consumer_says_no_renewal_reminder_came() -> None:
    assert "fr-code-conso-l215-1" not in ids("FR")
    assert "fr-code-conso-l215-1" in ids("FR", conditions=frozenset({"no_renewal_reminder"}))
    assert "fr-code-conso-l215-1" not in ids("FR", billing="one_time", conditions=frozenset({"no_renewal_reminder"}))
    assert "fr-code-conso-l215-1" not in ids("DE", conditions=frozenset({"no_renewal_reminder"}))


@pytest.mark.parametrize(("letter", "cited"), [(date(2023, 5, 31), False), (date(2023, 6, 1), True)])
def test_article_l215_1_1_from_1_june_2023(letter: date, cited: bool) -> None:
    assert ("fr-code-conso-l215-1-1" in ids("FR", letter_date=letter, terms_date=date(2022, 1, 1),
                                             subscription_start=None)) is cited


@pytest.mark.parametrize(
    ("terms_date", "cited"),
    [(None, False), (date(2022, 2, 28), False), (date(2022, 3, 1), True), (date(2026, 11, 20), True)],
)
def test_309_no_9_only_for_contracts_made_from_1_march_2022(terms_date: date | None, cited: bool) -> None:
    assert ("de-bgb-309-no-9" in ids("DE", terms_date=terms_date, subscription_start=None)) is cited


@pytest.mark.parametrize(
    ("letter", "start", "cited"),
    [(date(2022, 6, 30), None, False), (date(2022, 7, 1), None, True), (date(2026, 11, 27), date(2015, 1, 1), True)],
)
def test_312k_from_1_july_2022_for_old_and_new_contracts_alike(letter: date, start: date | None, cited: bool) -> None:
    assert ("de-bgb-312k" in ids("DE", letter_date=letter, terms_date=start, subscription_start=start)) is cited


@pytest.mark.parametrize("country", ["DE", "FR"])
def test_german_and_french_termination_law_is_not_for_one_time_purchases(country: str) -> None:
    cited = ids(country, billing="one_time", conditions=frozenset({"no_renewal_reminder"}))
    assert not {"de-bgb-312k", "de-bgb-309-no-9", "fr-code-conso-l215-1-1", "fr-code-conso-l215-1"} & set(cited)
    assert WITHDRAWAL_IDS & set(cited)


@pytest.mark.parametrize(
    ("start", "letter", "cited"),
    [(date(2026, 6, 18), date(2026, 6, 19), False), (date(2026, 6, 19), date(2026, 6, 19), True),
     (date(2026, 6, 10), date(2026, 6, 18), False), (date(2026, 11, 20), date(2026, 11, 27), True)],
)
def test_article_11a_only_from_19_june_2026_and_for_contracts_from_then(start: date, letter: date,
                                                                          cited: bool) -> None:
    assert ("eu-withdrawal-function" in ids("DE", letter_date=letter, terms_date=start,
                                            subscription_start=start)) is cited


@pytest.mark.parametrize("country", sorted(EU_MEMBER_STATES))
def test_every_member_state_gets_a_withdrawal_clause_in_the_period(country: str) -> None:
    cited = ids(country)
    assert "eu-withdrawal-function" in cited
    assert ("fr-code-conso-l221-18" if country == "FR" else "eu-crd-withdrawal") in cited


def test_the_member_states_are_the_27() -> None:
    assert len(EU_MEMBER_STATES) == 27
    assert all(re.fullmatch(r"[A-Z]{2}", code) for code in EU_MEMBER_STATES)
    assert "GR" in EU_MEMBER_STATES
    assert not {"EL", "GB", "UK", "NO", "CH", "IS", "LI"} & EU_MEMBER_STATES


# --- United States ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", LETTER_KINDS)
def test_recurring_charge_law_is_not_for_a_one_time_purchase(kind: str) -> None:
    assert ids("US", "US-CA", letter_kind=kind, billing="one_time") == []
    assert ids("US", "US-CA", letter_kind=kind, billing="annual") == [
        "us-rosca", "us-ca-automatic-renewal-law", "us-ca-ab-2863"]


@pytest.mark.parametrize(
    ("region", "terms_date", "expected"),
    [
        (None, date(2025, 7, 1), ["us-rosca"]),
        ("US-NY", date(2025, 7, 1), ["us-rosca"]),
        ("US-CA", date(2025, 6, 30), ["us-rosca", "us-ca-automatic-renewal-law"]),
        ("us-ca", date(2025, 7, 1), ["us-rosca", "us-ca-automatic-renewal-law", "us-ca-ab-2863"]),
        ("US-CA", None, ["us-rosca", "us-ca-automatic-renewal-law"]),
    ],
)
def test_us_and_california_law(region: str | None, terms_date: date | None, expected: list[str]) -> None:
    assert ids("US", region, terms_date=terms_date) == expected


def test_california_law_only_in_california_and_from_its_dates() -> None:
    assert ids("US", "US-CA", letter_date=date(2022, 6, 30), terms_date=date(2022, 6, 1)) == ["us-rosca"]
    assert ids("CA", "US-CA") == []


@pytest.mark.parametrize(("country", "region"), PLACES)
@pytest.mark.parametrize("day", SPREAD_OF_DATES)
def test_the_card_dispute_law_is_never_in_a_letter(country: str, region: str | None, day: date) -> None:
    assert "us-fair-credit-billing-act" not in [c.id for c in every_letter(country, region, day)]


def test_the_card_dispute_law_is_given_for_the_consumers_guidance() -> None:
    (fcba,) = card_dispute_clauses("US", "US-CA", LETTER)
    assert fcba.id == "us-fair-credit-billing-act"
    assert fcba.sections == ("15 U.S.C. § 1666",)
    assert not fcba.to_company
    assert [c.id for c in card_dispute_clauses("us", None, LETTER)] == ["us-fair-credit-billing-act"]
    assert card_dispute_clauses("US", None, date(1975, 10, 27)) == []
    assert card_dispute_clauses("GB", None, LETTER) == []
    assert card_dispute_clauses("AU", None, LETTER) == []


# --- Law that is never cited ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("country", "region", "never"),
    [
        ("GB", None, "gb-dmcc-2024-subscriptions"),
        ("US", None, "us-ftc-negative-option-rule"),
        ("US", "US-CA", "us-ftc-negative-option-rule"),
        ("AU", None, "au-subscription-trap-reforms"),
    ],
)
@pytest.mark.parametrize("day", SPREAD_OF_DATES)
def test_law_not_in_force_or_struck_down_is_never_cited(country: str, region: str | None, never: str,
                                                        day: date) -> None:
    assert never not in [c.id for c in every_letter(country, region, day)]


@pytest.mark.parametrize("country", ["NO", "CH", "JP", "ZZ", "EU", "", "CA"])
def test_a_country_without_rows_gets_no_clause(country: str) -> None:
    assert every_letter(country, None, LETTER) == []


# --- The snapshot's present call ------------------------------------------------------------------------------------

def test_the_old_call_is_a_first_letter_for_a_monthly_subscription_with_no_known_start() -> None:
    assert [c.id for c in clauses_in_force("AU", None, date(2026, 11, 20), LETTER)] == [
        "au-acl-unfair-contract-terms"]
    assert [c.id for c in clauses_in_force("AU", None, date(2023, 11, 8), LETTER)] == [
        "au-acl-unfair-contract-terms-2010"]
    assert clauses_in_force("GB", None, date(2026, 11, 20), LETTER) == []
    assert [c.id for c in clauses_in_force("US", "US-CA", date(2025, 7, 1), LETTER)] == [
        "us-rosca", "us-ca-automatic-renewal-law", "us-ca-ab-2863"]
    assert [c.id for c in clauses_in_force("DE", None, date(2026, 11, 20), LETTER)] == [
        "de-bgb-312k", "de-bgb-309-no-9"]


# --- The shipped file -----------------------------------------------------------------------------------------------

def test_the_shipped_file_holds_every_row_of_the_policy_in_its_order() -> None:
    clauses = default_clauses()
    assert [c.id for c in clauses] == [
        "au-acl-misleading-conduct", "au-acl-unfair-contract-terms-2010", "au-acl-unfair-contract-terms",
        "au-subscription-trap-reforms",
        "gb-ccr-2013", "gb-dmcc-2024-subscriptions",
        "eu-crd-withdrawal", "eu-withdrawal-function",
        "de-bgb-312k", "de-bgb-309-no-9",
        "fr-code-conso-l215-1-1", "fr-code-conso-l215-1", "fr-code-conso-l221-18",
        "us-rosca", "us-ftc-negative-option-rule",
        "us-ca-automatic-renewal-law", "us-ca-ab-2863", "us-fair-credit-billing-act",
    ]
    by_id = {c.id: c for c in clauses}
    assert by_id["gb-dmcc-2024-subscriptions"].in_force_from is None
    assert by_id["gb-dmcc-2024-subscriptions"].status == "not_in_force"
    assert by_id["au-subscription-trap-reforms"].status == "not_in_force"
    assert by_id["us-ftc-negative-option-rule"].vacated_on == date(2025, 7, 8)
    assert by_id["us-ftc-negative-option-rule"].status == "vacated"
    assert all(c.sources for c in clauses)
    assert default_clauses() is clauses


def test_the_shipped_file_cites_the_sections_the_policy_names() -> None:
    sections = {c.id: c.sections for c in default_clauses()}
    assert sections["au-acl-misleading-conduct"] == ("s 18",)
    assert sections["au-acl-unfair-contract-terms-2010"] == ("s 23", "s 24")
    assert sections["gb-ccr-2013"] == ("regs 29\u201331", "reg 34", "regs 36\u201337")
    assert {"Art. 11", "Art. 13", "Art. 14(3)", "Art. 16(m)"} <= set(sections["eu-crd-withdrawal"])
    assert sections["de-bgb-312k"] == ("§ 312k para. 4", "§ 312k para. 6")
    assert sections["us-rosca"] == ("15 U.S.C. § 8403",)


def test_the_refund_duty_is_attributed_to_regulation_34_not_29_to_31() -> None:
    (ccr,) = [c for c in default_clauses() if c.id == "gb-ccr-2013"]
    assert "under regulation 34 the trader is to reimburse" in ccr.text


def test_every_withdrawal_clause_runs_14_days_from_the_original_contract_and_names_its_exceptions() -> None:
    withdrawal = [c for c in default_clauses() if c.withdrawal_type]
    assert {c.id for c in withdrawal} == WITHDRAWAL_IDS
    for clause in withdrawal:
        assert clause.counts_from == "original_contract"
        assert clause.period_days == 14
        if clause.id != "eu-withdrawal-function":
            assert "may have to pay an amount in proportion" in clause.text, clause.id
            assert re.search(r"may be lost", clause.text), clause.id


@pytest.mark.parametrize(("country", "region"), PLACES)
@pytest.mark.parametrize("day", SPREAD_OF_DATES)
def test_every_cited_clause_has_wording_and_a_dated_source(country: str, region: str | None, day: date) -> None:
    for clause in every_letter(country, region, day):
        assert clause.text
        assert clause.sections
        assert clause.sources
        for source in clause.sources:
            assert source.url.startswith("https://")
            assert source.checked_on in (date(2026, 11, 27), date(2026, 12, 6))


def test_letter_wording_is_conservative() -> None:
    promised = re.compile(
        r"\b(guarantee[sd]?|will (?:be )?refund(?:ed)?|entitled to|must refund|will be cancelled|you must)\b",
        re.IGNORECASE)
    for clause in default_clauses():
        assert not promised.search(clause.text), clause.id
        if clause.text:
            assert re.search(r"\b(under|may)\b", clause.text, re.IGNORECASE), clause.id


def test_the_shipped_file_is_the_default() -> None:
    assert load_clauses(LAW_FILE) == default_clauses()


# --- A malformed file -----------------------------------------------------------------------------------------------

VALID = """\
[[clause]]
id = "xx-test"
jurisdiction = "US"
instrument = "Test Act"
sections = ["s 1"]
text = "Under the Test Act, a consumer may cancel."
in_force_from = 2020-01-01

[[clause.sources]]
title = "Test"
url = "https://example.org/test-act"
checked_on = 2026-11-27
"""
OTHER = VALID.replace('id = "xx-test"', 'id = "xx-other"')


def with_field(line: str, text: str = VALID) -> str:
    return text.replace("in_force_from = 2020-01-01", f"in_force_from = 2020-01-01\n{line}", 1)


def test_a_valid_file_loads_from_any_path(tmp_path: Path) -> None:
    path = tmp_path / "law.toml"
    path.write_text(VALID, encoding="utf-8")
    (clause,) = load_clauses(path)
    assert clause == Clause(
        id="xx-test", jurisdiction="US", instrument="Test Act", sections=("s 1",),
        text="Under the Test Act, a consumer may cancel.", in_force_from=date(2020, 1, 1),
        sources=(LawSource("Test", "https://example.org/test-act", date(2026, 11, 27)),),
    )
    assert clause.letter_kinds == frozenset(LETTER_KINDS)
    assert clause.billing == frozenset(BILLINGS)
    assert clause.to_company
    assert not clause.withdrawal_type


def test_the_new_fields_load(tmp_path: Path) -> None:
    path = tmp_path / "law.toml"
    text = with_field('letter_kinds = ["follow_up"]\nbilling = ["monthly", "annual"]\n'
                      'counts_from = "original_contract"\nperiod_days = 14\ncondition = "no_renewal_reminder"\n'
                      'replaces = ["xx-other"]', VALID) + "\n" + OTHER
    text = text.replace('checked_on = 2026-11-27\n', 'checked_on = 2026-11-27\nnote = "Read in part."\n', 1)
    path.write_text(text, encoding="utf-8")
    clause, other = load_clauses(path)
    assert clause.letter_kinds == frozenset({"follow_up"})
    assert clause.billing == frozenset({"monthly", "annual"})
    assert (clause.counts_from, clause.period_days) == ("original_contract", 14)
    assert clause.condition == "no_renewal_reminder"
    assert clause.replaces == ("xx-other",)
    assert clause.sources[0].note == "Read in part."
    assert other.replaces == ()
    card = with_field('to_company = false\nroute = "card_issuer"')
    path.write_text(card, encoding="utf-8")
    (fcba,) = load_clauses(path)
    assert (fcba.to_company, fcba.route) == (False, "card_issuer")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (VALID.replace('sections = ["s 1"]', 'sections = ["s 1"]\nsummary = "x"'), "clause[0].summary: unknown field"),
        (VALID.replace('checked_on = 2026-11-27', 'checked_on = 2026-11-27\nread = "x"'),
         "clause[0].sources[0].read: unknown field"),
        (VALID + 'extra = 1\n', "clause[0].sources[0].extra: unknown field"),
        ('version = 1\n' + VALID, "version: unknown field"),
        (VALID.replace("in_force_from = 2020-01-01", 'in_force_from = "2020-01-01"'), "clause[0].in_force_from"),
        (VALID.replace("in_force_from = 2020-01-01", "in_force_from = 2020-02-30"), "in_force_from"),
        (VALID.replace("in_force_from = 2020-01-01", "in_force_from = 2020-01-01T00:00:00"), "clause[0].in_force_from"),
        (VALID.replace("checked_on = 2026-11-27", 'checked_on = "yesterday"'), "clause[0].sources[0].checked_on"),
        (VALID.replace("checked_on = 2026-11-27", "checked_on = 2026-13-01"), "checked_on"),
        (with_field("vacated_on = 2019-01-01"), "clause[0].vacated_on"),
        (VALID.split("[[clause.sources]]")[0], "clause[0].sources: is missing"),
        (VALID.split("[[clause.sources]]")[0] + "sources = []\n", "clause[0].sources: must list at least one entry"),
        (VALID.replace('url = "https://example.org/test-act"\n', ""), "clause[0].sources[0].url: is missing"),
        (VALID.replace('url = "https://example.org/test-act"', 'url = "http://example.org"'),
         "clause[0].sources[0].url"),
        (VALID.replace('title = "Test"\n', ""), "clause[0].sources[0].title: is missing"),
        (VALID.replace("checked_on = 2026-11-27\n", ""), "clause[0].sources[0].checked_on: is missing"),
        (VALID.replace("checked_on = 2026-11-27", 'checked_on = 2026-11-27\nnote = ""'),
         "clause[0].sources[0].note: must not be empty"),
        (VALID.replace('id = "xx-test"\n', ""), "clause[0].id: is missing"),
        (VALID.replace('id = "xx-test"', 'id = "XX test"'), "clause[0].id"),
        (VALID.replace('jurisdiction = "US"', 'jurisdiction = "usa"'), "clause[0].jurisdiction"),
        (VALID.replace('sections = ["s 1"]', 'sections = "s 1"'), "clause[0].sections"),
        (VALID.replace('text = "Under the Test Act, a consumer may cancel."\n', ""), "clause[0].text: is missing"),
        (VALID.replace("in_force_from = 2020-01-01\n", ""), "clause[0].in_force_from: is missing"),
        (with_field('status = "repealed"'), "clause[0].status"),
        (with_field('status = "not_in_force"'), "clause[0].in_force_from"),
        (with_field('status = "vacated"'), "clause[0].vacated_on: is missing"),
        (VALID + "\n" + VALID, "clause[1].id: duplicate id"),
        ("", "clause: is missing"),
        # letter_kinds and billing: non-empty lists of known names, no repeats.
        (with_field('letter_kinds = "follow_up"'), "clause[0].letter_kinds: must be a list of strings"),
        (with_field("letter_kinds = []"), "clause[0].letter_kinds: must list at least one of"),
        (with_field('letter_kinds = ["reminder"]'), "clause[0].letter_kinds[0]: must be one of"),
        (with_field('letter_kinds = ["follow_up", "follow_up"]'), "clause[0].letter_kinds[1]: repeats"),
        (with_field('billing = ["weekly"]'), "clause[0].billing[0]: must be one of"),
        (with_field("billing = []"), "clause[0].billing: must list at least one of"),
        (with_field("billing = [1]"), "clause[0].billing[0]: must be a non-empty string"),
        # counts_from and period_days: together, known, a positive whole number of days.
        (with_field('counts_from = "payment_date"\nperiod_days = 14'), "clause[0].counts_from: must be one of"),
        (with_field('counts_from = "original_contract"'), "clause[0].period_days: is missing"),
        (with_field("period_days = 14"), "clause[0].counts_from: is missing"),
        (with_field('counts_from = "original_contract"\nperiod_days = 0'), "clause[0].period_days: must be at least 1"),
        (with_field('counts_from = "original_contract"\nperiod_days = "14"'),
         "clause[0].period_days: must be a whole number"),
        (with_field('counts_from = "original_contract"\nperiod_days = true'),
         "clause[0].period_days: must be a whole number"),
        (with_field('counts_from = "original_contract"\nperiod_days = 14.5'),
         "clause[0].period_days: must be a whole number"),
        # to_company and route.
        (with_field('to_company = "no"'), "clause[0].to_company: must be true or false"),
        (with_field("to_company = false"), "clause[0].route: is missing"),
        (with_field('route = "card_issuer"'), "clause[0].route: is only for clauses with to_company = false"),
        (with_field('to_company = false\nroute = "regulator"'), "clause[0].route: must be one of"),
        (with_field('to_company = false\nroute = "card_issuer"\nletter_kinds = ["final_notice"]'),
         "clause[0].letter_kinds: must be absent with to_company = false"),
        # condition.
        (with_field('condition = "no_reminder"'), "clause[0].condition: must be one of"),
        (with_field('condition = ""'), "clause[0].condition: must not be empty"),
        # replaces: existing plain clauses, not itself, no repeats.
        (with_field('replaces = "xx-other"') + OTHER, "clause[0].replaces: must be a list of strings"),
        (with_field('replaces = ["xx-missing"]'), "clause[0].replaces[0]: no clause has id 'xx-missing'"),
        (with_field('replaces = ["xx-test"]'), "clause[0].replaces[0]: a clause cannot replace itself"),
        (with_field('replaces = ["Not An Id"]'), "clause[0].replaces[0]: must be a clause id"),
        (with_field('replaces = ["xx-other", "xx-other"]') + OTHER, "clause[0].replaces[1]: repeats"),
        (with_field('replaces = ["xx-other"]') + with_field('replaces = ["xx-test"]', OTHER),
         "clause[0].replaces[0]: 'xx-other' itself replaces other clauses"),
    ],
)
def test_a_malformed_file_is_an_error_naming_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "law.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LawDataError, match=re.escape(f"law.toml: {field}")):
        load_clauses(path)


def test_an_unreadable_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(LawDataError, match=re.escape("missing.toml: cannot be read")):
        load_clauses(tmp_path / "missing.toml")
