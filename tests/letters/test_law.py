"""The law a letter may cite: only law in force on the letter's date, for the consumer's country and region,
for a contract of that date; and a malformed law file is an error naming the field."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from casework.letters.law import (
    EU_MEMBER_STATES,
    LAW_FILE,
    Clause,
    LawDataError,
    LawSource,
    clauses_in_force,
    default_clauses,
    load_clauses,
)

SPREAD_OF_DATES = [
    date(2011, 1, 1), date(2014, 6, 13), date(2020, 1, 1), date(2023, 11, 9), date(2025, 1, 15),
    date(2025, 7, 7), date(2025, 7, 8), date(2025, 7, 14), date(2026, 6, 19), date(2026, 11, 27),
    date(2027, 7, 1), date(2030, 1, 1),
]


def ids(country: str, region: str | None, contract: date, letter: date) -> list[str]:
    return [clause.id for clause in clauses_in_force(country, region, contract, letter)]


@pytest.mark.parametrize(
    ("country", "region", "contract", "letter", "expected"),
    [
        # GB: CCR 2013 from 13 June 2014 only; the DMCC Act never.
        ("GB", None, date(2014, 6, 12), date(2014, 6, 12), []),
        ("GB", None, date(2014, 6, 13), date(2014, 6, 13), ["gb-ccr-2013"]),
        ("GB", None, date(2026, 11, 20), date(2026, 11, 27), ["gb-ccr-2013"]),
        ("GB", None, date(2030, 1, 1), date(2030, 1, 1), ["gb-ccr-2013"]),
        ("gb", "", date(2026, 11, 20), date(2026, 11, 27), ["gb-ccr-2013"]),
        # EU: Art. 11a only from 19 June 2026, and only for contracts from that date.
        ("DE", None, date(2026, 6, 1), date(2026, 6, 18), ["eu-crd-withdrawal"]),
        ("DE", None, date(2026, 6, 19), date(2026, 6, 18), ["eu-crd-withdrawal"]),
        ("DE", None, date(2026, 6, 18), date(2026, 6, 19), ["eu-crd-withdrawal"]),
        ("DE", None, date(2026, 6, 19), date(2026, 6, 19), ["eu-crd-withdrawal", "eu-withdrawal-function"]),
        ("FR", None, date(2026, 11, 20), date(2026, 11, 27), ["eu-crd-withdrawal", "eu-withdrawal-function"]),
        ("GR", None, date(2026, 11, 20), date(2026, 11, 27), ["eu-crd-withdrawal", "eu-withdrawal-function"]),
        ("IE", None, date(2014, 6, 12), date(2014, 6, 12), []),
        # AU: general ACL; unfair-contract-terms penalties only for contracts from 9 Nov 2023; no reforms.
        ("AU", None, date(2023, 11, 8), date(2026, 11, 27), ["au-acl-general"]),
        ("AU", None, date(2023, 11, 9), date(2026, 11, 27), ["au-acl-general", "au-acl-unfair-contract-terms"]),
        ("AU", None, date(2023, 11, 9), date(2023, 11, 8), ["au-acl-general"]),
        ("AU", "AU-NSW", date(2027, 7, 1), date(2027, 7, 1), ["au-acl-general", "au-acl-unfair-contract-terms"]),
        ("AU", None, date(2031, 1, 1), date(2031, 1, 1), ["au-acl-general", "au-acl-unfair-contract-terms"]),
        # US: ROSCA and card disputes everywhere; California only in US-CA; AB 2863 for contracts from 1 July 2025.
        ("US", None, date(2025, 7, 1), date(2026, 11, 27), ["us-rosca", "us-fair-credit-billing-act"]),
        ("US", "US-NY", date(2025, 7, 1), date(2026, 11, 27), ["us-rosca", "us-fair-credit-billing-act"]),
        ("US", "US-CA", date(2025, 6, 30), date(2026, 11, 27),
         ["us-rosca", "us-ca-automatic-renewal-law", "us-fair-credit-billing-act"]),
        ("US", "us-ca", date(2025, 7, 1), date(2026, 11, 27),
         ["us-rosca", "us-ca-automatic-renewal-law", "us-ca-ab-2863", "us-fair-credit-billing-act"]),
        ("US", "US-CA", date(2025, 7, 1), date(2025, 6, 30),
         ["us-rosca", "us-ca-automatic-renewal-law", "us-fair-credit-billing-act"]),
        ("US", "US-CA", date(2022, 6, 1), date(2022, 6, 30), ["us-rosca", "us-fair-credit-billing-act"]),
        ("CA", "US-CA", date(2025, 7, 1), date(2026, 11, 27), []),
        # Countries without rows, and non-members of the EU.
        ("NO", None, date(2026, 11, 20), date(2026, 11, 27), []),
        ("CH", None, date(2026, 11, 20), date(2026, 11, 27), []),
        ("JP", None, date(2026, 11, 20), date(2026, 11, 27), []),
        ("ZZ", None, date(2026, 11, 20), date(2026, 11, 27), []),
        ("EU", None, date(2026, 11, 20), date(2026, 11, 27), []),
        ("", None, date(2026, 11, 20), date(2026, 11, 27), []),
    ],
)
def test_clauses_in_force(country: str, region: str | None, contract: date, letter: date, expected: list[str]) -> None:
    assert ids(country, region, contract, letter) == expected


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
def test_law_not_in_force_or_struck_down_is_never_cited(
    country: str, region: str | None, never: str, day: date
) -> None:
    for contract in (date(2010, 1, 1), day):
        assert never not in ids(country, region, contract, day)


@pytest.mark.parametrize("country", sorted(EU_MEMBER_STATES))
def test_every_member_state_gets_the_consumer_rights_directive(country: str) -> None:
    assert ids(country, None, date(2026, 11, 20), date(2026, 11, 27)) == ["eu-crd-withdrawal", "eu-withdrawal-function"]


def test_the_member_states_are_the_27() -> None:
    assert len(EU_MEMBER_STATES) == 27
    assert all(re.fullmatch(r"[A-Z]{2}", code) for code in EU_MEMBER_STATES)
    assert "GR" in EU_MEMBER_STATES
    assert not {"EL", "GB", "UK", "NO", "CH", "IS", "LI"} & EU_MEMBER_STATES


@pytest.mark.parametrize(("country", "region"), [("AU", None), ("GB", None), ("DE", None), ("US", "US-CA")])
@pytest.mark.parametrize("day", SPREAD_OF_DATES)
def test_every_cited_clause_has_wording_and_a_dated_source(country: str, region: str | None, day: date) -> None:
    for clause in clauses_in_force(country, region, day, day):
        assert clause.text
        assert clause.sections
        assert clause.sources
        for source in clause.sources:
            assert source.url.startswith("https://")
            assert source.checked_on == date(2026, 11, 27)


def test_the_shipped_file_holds_every_row_of_the_policy_in_its_order() -> None:
    clauses = default_clauses()
    assert [c.id for c in clauses] == [
        "au-acl-general", "au-acl-unfair-contract-terms", "au-subscription-trap-reforms",
        "gb-ccr-2013", "gb-dmcc-2024-subscriptions",
        "eu-crd-withdrawal", "eu-withdrawal-function",
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


def test_letter_wording_is_conservative() -> None:
    for clause in default_clauses():
        assert not re.search(r"\b(guarantee[sd]? (?:a|your) refund|will (?:be )?refund|entitled to a refund)\b",
                             clause.text, re.IGNORECASE), clause.id


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


def test_a_valid_file_loads_from_any_path(tmp_path: Path) -> None:
    path = tmp_path / "law.toml"
    path.write_text(VALID, encoding="utf-8")
    (clause,) = load_clauses(path)
    assert clause == Clause(
        id="xx-test", jurisdiction="US", instrument="Test Act", sections=("s 1",),
        text="Under the Test Act, a consumer may cancel.", in_force_from=date(2020, 1, 1),
        sources=(LawSource("Test", "https://example.org/test-act", date(2026, 11, 27)),),
    )


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
        (VALID.replace("in_force_from = 2020-01-01", "in_force_from = 2020-01-01\nvacated_on = 2019-01-01"),
         "clause[0].vacated_on"),
        (VALID.split("[[clause.sources]]")[0], "clause[0].sources: is missing"),
        (VALID.split("[[clause.sources]]")[0] + "sources = []\n", "clause[0].sources: must list at least one entry"),
        (VALID.replace('url = "https://example.org/test-act"\n', ""), "clause[0].sources[0].url: is missing"),
        (VALID.replace('url = "https://example.org/test-act"', 'url = "http://example.org"'),
         "clause[0].sources[0].url"),
        (VALID.replace('title = "Test"\n', ""), "clause[0].sources[0].title: is missing"),
        (VALID.replace("checked_on = 2026-11-27\n", ""), "clause[0].sources[0].checked_on: is missing"),
        (VALID.replace('id = "xx-test"\n', ""), "clause[0].id: is missing"),
        (VALID.replace('jurisdiction = "US"', 'jurisdiction = "usa"'), "clause[0].jurisdiction"),
        (VALID.replace('sections = ["s 1"]', 'sections = "s 1"'), "clause[0].sections"),
        (VALID.replace('text = "Under the Test Act, a consumer may cancel."\n', ""), "clause[0].text: is missing"),
        (VALID.replace("in_force_from = 2020-01-01\n", ""), "clause[0].in_force_from: is missing"),
        (VALID.replace("in_force_from = 2020-01-01", 'in_force_from = 2020-01-01\nstatus = "repealed"'),
         "clause[0].status"),
        (VALID.replace("in_force_from = 2020-01-01", 'in_force_from = 2020-01-01\nstatus = "not_in_force"'),
         "clause[0].in_force_from"),
        (VALID.replace("in_force_from = 2020-01-01", 'in_force_from = 2020-01-01\nstatus = "vacated"'),
         "clause[0].vacated_on: is missing"),
        (VALID + "\n" + VALID, "clause[1].id: duplicate id"),
        ("", "clause: is missing"),
    ],
)
def test_a_malformed_file_is_an_error_naming_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "law.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LawDataError, match=re.escape(f"law.toml: {field}")):
        load_clauses(path)


def test_the_shipped_file_is_the_default() -> None:
    assert load_clauses(LAW_FILE) == default_clauses()
