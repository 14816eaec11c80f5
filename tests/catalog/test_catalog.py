"""The catalog loads, and a malformed file is an error naming the file and the field."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from casework.catalog import CatalogError, default_catalog, load_catalog
from casework.catalog.loader import WARNING_CODES, Rule, Rules

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


# A company file as data: the loader checks the form of its dates, never compares them with today.
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
checked_on = 2025-03-01
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
        (("checked_on = 2025-03-01", "checked_on = \"yesterday\""), "acme.toml: sources[0].checked_on"),
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


COURSERA_REFUNDS = {  # slug: (kind, window_days, certificate voids it, periods refunded)
    "course-one-time": ("within_window", 14, True, True),
    "specialization-one-time": ("within_window", 14, True, True),
    "coursera-plus-monthly": ("uncertain", 14, True, False),
    "coursera-plus-annual": ("within_window", 14, True, False),
    "specialization-monthly": ("current_period_not_refunded", None, False, False),
    "professional-certificate-monthly": ("current_period_not_refunded", None, False, False),
    "guided-project": ("non_refundable", None, False, True),
}


def test_coursera_refund_rules_are_the_policys() -> None:
    coursera = default_catalog().get("coursera")
    assert coursera is not None
    assert {p.slug: (p.refund.kind, p.refund.window_days, p.refund.certificate_voids, p.refund.periods_refunded)
            for p in coursera.plans} == COURSERA_REFUNDS
    assert coursera.terms_violation_may_deny_refund
    plus_annual = coursera.plan("coursera-plus-annual")
    assert plus_annual is not None
    assert "Learner Help Center" in plus_annual.refund_notes[0].text
    assert "not through My Purchases" in plus_annual.refund_notes[0].text


def test_every_coursera_text_names_a_listed_source() -> None:
    coursera = default_catalog().get("coursera")
    assert coursera is not None
    assert coursera.self_serve is not None
    texts = [getattr(coursera.rules, f.name) for f in fields(Rules) if f.name != "unknown_refund"]
    texts += [getattr(coursera.warnings, code) for code in WARNING_CODES]
    texts += [rule for plan in coursera.plans for rule in (plan.refund.reason, *plan.refund_notes) if rule]
    texts += [note.rule for note in coursera.country_notes]
    assert all(isinstance(rule, Rule) for rule in texts)  # nothing left to the general defaults
    listed = set(coursera.sources)
    assert all(rule.source in listed for rule in texts if isinstance(rule, Rule))
    assert coursera.self_serve.source in listed
    assert all(plan.refund.reason for plan in coursera.plans if plan.refund.kind != "current_period_not_refunded")


def test_other_takes_its_terms_from_the_case() -> None:
    other = default_catalog().get("other")
    assert other is not None
    assert other.consumer_supplied_terms
    assert all(p.refund.kind == "uncertain" and p.refund.window_days is None and p.trial_days is None
               for p in other.plans)
    assert other.sources == ()
    assert not other.terms_violation_may_deny_refund


RULES = GOOD.replace("[[sources]]", "terms_violation_may_deny_refund = true\n[[sources]]", 1) + """
[self_serve]
source = "terms"
subscription = ["Log in", "Cancel"]
fallback = "Write to support."
[[country_notes]]
country = "GB"
text = "UK customers: same terms."
source = "terms"
[rules.no_fee]
text = "No fee to cancel."
source = "terms"
[warnings.refund_window_closed]
text = "Closed on {window_ends}."
source = "terms"
[labels]
renewal = "Acme renews on {renewal}"
"""
PLAN_REFUND = """billing = "monthly"
[plans.refund]
kind = "within_window"
window_days = 30
source = "terms"
reason = "Refundable by {window_ends}."
[[plans.refund_notes]]
text = "Use the form."
source = "terms"
"""


def rules_file(*changes: tuple[str, str]) -> str:
    text = RULES.replace('billing = "monthly"\n', PLAN_REFUND)
    for change in changes:
        assert change[0] in text, change
        text = text.replace(*change)
    return text


def test_a_file_with_every_rule_table_loads(tmp_path: Path) -> None:
    (tmp_path / "acme.toml").write_text(rules_file())
    acme = load_catalog(tmp_path).get("acme")
    assert acme is not None
    plan = acme.plan("acme-monthly")
    assert plan is not None
    assert (plan.refund.kind, plan.refund.window_days, plan.refund.certificate_voids) == ("within_window", 30, False)
    assert plan.refund.reason is not None
    assert plan.refund.reason.source is not None
    assert plan.refund_notes[0].text == "Use the form."
    assert acme.terms_violation_may_deny_refund
    assert acme.self_serve_steps == ("Log in", "Cancel", "Write to support.")
    assert acme.rules.no_fee is not None
    assert acme.rules.no_fee.text == "No fee to cancel."
    assert acme.rules.refund_time is None  # not said, so not claimed
    assert acme.warnings.refund_window_closed.text == "Closed on {window_ends}."
    assert acme.warnings.app_store_billing.source is None  # general guidance where the file says nothing
    assert acme.labels.renewal == "Acme renews on {renewal}"
    assert acme.country_notes[0].country == "GB"


@pytest.mark.parametrize(("change", "expected"), [
    (('kind = "within_window"', 'kind = "sometimes"'), "acme.toml: plans[0].refund.kind: must be one of"),
    (('window_days = 30', 'window_days = true'), "acme.toml: plans[0].refund.window_days: must be a int"),
    (('window_days = 30', 'window_days = 0'), "acme.toml: plans[0].refund.window_days: must be at least 1"),
    (('window_days = 30\n', ''), "acme.toml: plans[0].refund.window_days: is required"),
    (('kind = "within_window"', 'kind = "non_refundable"'), "acme.toml: plans[0].refund.window_days: is not allowed"),
    (('source = "terms"\nreason', 'source = "nowhere"\nreason'), "acme.toml: plans[0].refund.source: names no"),
    (('reason = "Refundable by {window_ends}."', 'reason = "Refundable for {price}."'),
     "acme.toml: plans[0].refund.reason: unknown placeholder {price}"),
    (('reason = "Refundable by {window_ends}."', 'reason = "Refundable by {window_ends!r}."'),
     "acme.toml: plans[0].refund.reason: unknown placeholder"),
    (('reason = "Refundable by {window_ends}."', 'reason = "Refundable {"'), "acme.toml: plans[0].refund.reason"),
    (('reason = "Refundable by {window_ends}."\n', 'reason = "x"\ncolour = "red"\n'),
     "acme.toml: plans[0].refund.colour: unknown field"),
    (('kind = "within_window"', 'kind = "within_window"\ncertificate_voids = "yes"'),
     "acme.toml: plans[0].refund.certificate_voids: must be a bool"),
    (('text = "Use the form."\nsource = "terms"', 'text = "Use the form."\nsource = "blog"'),
     "acme.toml: plans[0].refund_notes[0].source: names no source"),
    (('name = "Monthly"', 'name = "Monthly"\ntrial_days = 0'), "acme.toml: plans[0].trial_days: must be at least 1"),
    (('terms_violation_may_deny_refund = true', 'terms_violation_may_deny_refund = "yes"'),
     "acme.toml: terms_violation_may_deny_refund: must be a bool"),
    (('[rules.no_fee]', '[rules.free_lunch]'), "acme.toml: rules.free_lunch: unknown field"),
    (('text = "No fee to cancel."\nsource = "terms"', 'text = "No fee to cancel."'),
     "acme.toml: rules.no_fee.source: is missing"),
    (('text = "No fee to cancel."\nsource = "terms"', 'text = "No fee to cancel."\nsource = "gossip"'),
     "acme.toml: rules.no_fee.source: names no source: 'gossip'"),
    (('[warnings.refund_window_closed]', '[warnings.price_hike]'), "acme.toml: warnings.price_hike: unknown field"),
    (('text = "Closed on {window_ends}."', 'text = "Closed on {closing_day}."'),
     "acme.toml: warnings.refund_window_closed.text: unknown placeholder"),
    (('renewal = "Acme renews on {renewal}"', 'renewal = 3'), "acme.toml: labels.renewal: must be a str"),
    (('[labels]', '[labels]\ncolour = "red"'), "acme.toml: labels.colour: unknown field"),
    (('source = "terms"\nsubscription', 'subscription'), "acme.toml: self_serve.source: is missing"),
    (('subscription = ["Log in", "Cancel"]', 'subscription = ["Log in", 3]'),
     "acme.toml: self_serve.subscription: must list non-empty strings"),
    (('country = "GB"\ntext', 'country = "gbr"\ntext'), "acme.toml: country_notes[0].country"),
    (('[[plans]]', '[[plans]]\nslug = "acme-monthly"\nname = "Again"\nbilling = "annual"\n[[plans]]'),
     "acme.toml: plans[1].slug: repeats the plan 'acme-monthly'"),
    (('[[plans]]', '[[sources]]\nid = "terms"\ntitle = "Again"\nchecked_on = 2025-03-01\n[[plans]]'),
     "acme.toml: sources[1].id: repeats the source 'terms'"),
    (('checked_on = 2025-03-01', 'checked_on = 2025-03-01T10:00:00'), "acme.toml: sources[0].checked_on"),
])
def test_a_malformed_rule_names_file_and_field(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    (tmp_path / "acme.toml").write_text(rules_file(change))
    with pytest.raises(CatalogError, match=re.escape(expected)):
        load_catalog(tmp_path)


def test_consumers_choose_among_the_listed_companies_before_another_company() -> None:
    choices = [p.slug for p in default_catalog().for_choice()]
    assert choices[-1] == "other"
    assert "coursera" in choices[:-1]
    assert sorted(choices) == sorted(default_catalog().providers)
