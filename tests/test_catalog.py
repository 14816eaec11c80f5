"""The catalog loads, and a malformed file is an error naming the file and the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from casework.catalog import CatalogError, default_catalog, load_catalog

COURSERA_PLANS = {
    "course-one-time": ("one_time", None),
    "specialization-one-time": ("one_time", None),
    "coursera-plus-monthly": ("monthly", 7),
    "coursera-plus-annual": ("annual", 7),
    "specialization-monthly": ("monthly", 7),
    "professional-certificate-monthly": ("monthly", 7),
    "guided-project": ("one_time", None),
}


def test_coursera_has_every_plan_of_the_policy() -> None:
    coursera = default_catalog().get("coursera")
    assert coursera is not None
    assert {p.slug: (p.billing, p.trial_days) for p in coursera.plans} == COURSERA_PLANS
    assert coursera.policy_version == "coursera@2026-02-06"


def test_coursera_takes_no_email_and_every_channel_has_a_source() -> None:
    coursera = default_catalog().get("coursera")
    assert coursera is not None
    assert coursera.channel("email") is None
    web_form = coursera.channel("web_form")
    assert web_form is not None
    assert web_form.address == "https://learner.coursera.help/hc/en-us/requests/new"
    assert all(channel.source is not None for channel in coursera.cancel_channels)


def test_other_is_listed_with_its_plans() -> None:
    other = default_catalog().get("other")
    assert other is not None
    assert [p.slug for p in other.plans] == ["other-monthly", "other-annual", "other-one-time"]
    assert other.policy_version == "general@1"


GOOD = """
slug = "acme"
name = "Acme"
legal_name = "Acme Ltd"
country = "GB"
policy_version = "acme@2026-01-01"
[[sources]]
id = "terms"
title = "Acme terms"
url = "https://acme.example/terms"
checked_on = 2026-11-01
[[plans]]
slug = "acme-monthly"
name = "Monthly"
billing = "monthly"
[[cancel_channels]]
kind = "email"
address = "cancel@acme.example"
source = "terms"
"""


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("billing = \"monthly\"", "billing = \"weekly\""), "acme.toml: plans[0].billing"),
        (("checked_on = 2026-11-01", "checked_on = \"yesterday\""), "acme.toml: sources[0].checked_on"),
        (("source = \"terms\"", "source = \"nowhere\""), "acme.toml: cancel_channels[0].source"),
        (("name = \"Monthly\"", "name = \"Monthly\"\ncolour = \"red\""), "acme.toml: plans[0].colour"),
        (("country = \"GB\"\n", ""), "acme.toml: country"),
    ],
)
def test_malformed_file_names_file_and_field(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    (tmp_path / "acme.toml").write_text(GOOD.replace(*change))
    with pytest.raises(CatalogError, match=re.escape(expected)):
        load_catalog(tmp_path)


def test_a_good_file_loads(tmp_path: Path) -> None:
    (tmp_path / "acme.toml").write_text(GOOD)
    acme = load_catalog(tmp_path).get("acme")
    assert acme is not None
    channel = acme.channel("email")
    assert channel is not None
    assert channel.address == "cancel@acme.example"
