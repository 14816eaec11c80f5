"""Where in the United States, Canada or Australia a consumer lives: asked after the country, in the wizard and
on the single form; it picks state law for the letter and, when no zone is given, the zone reminders follow."""

from __future__ import annotations

from collections.abc import Iterator
from zoneinfo import available_timezones

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from casework.cases.intake import countries
from casework.cases.models import Case
from casework.letters.models import Letter
from casework.regions import REGION_PAGE_MESSAGE, REGION_ZONES, REGIONS, region_name, zone_for_region
from casework.runtime import Runtime
from casework.web import limiter
from tests.support.today import iso_days_ago
from tests.support.web import csrf_token, filing_form, post_form

pytestmark = [pytest.mark.http, pytest.mark.dates]


def wizard_answers(**dates: str) -> dict[str, dict[str, str]]:
    return {
        "company": {"provider": "coursera"},
        "plan": {"plan": "coursera-plus-annual", "billing_channel": "direct"},
        "dates": {"country": "US", "region": "US-CA", "payment_date": iso_days_ago(7), "amount.value": "399.00",
                  "amount.currency": "USD", **dates},
        "outcome": {"requested_outcome": "cancel_and_refund"},
        "details": {"consumer.name": "Carla Consumer", "consumer.email": "carla@example.com",
                    "consent.send_in_my_name": "yes"},
    }


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


def answer(client: FlaskClient, step: str, fields: dict[str, str]) -> tuple[int, str]:
    response = client.post(f"/start/{step}", data={"csrf_token": csrf_token(client, f"/start/{step}"), **fields})
    return response.status_code, response.headers.get("Location", "") or response.get_data(as_text=True)


def walk(client: FlaskClient, answers: dict[str, dict[str, str]]) -> None:
    for step, fields in answers.items():
        status, where = answer(client, step, fields)
        assert status == 303, (step, where[:2000])


def filed(runtime: Runtime) -> tuple[Case, list[str]]:
    """The one filed case and the law its first letter's snapshot cites."""
    with runtime.sessions() as session:
        case = session.execute(select(Case)).scalar_one()
        letter = session.execute(select(Letter).where(Letter.case_id == case.id)).scalar_one()
        session.expunge_all()
        return case, [clause["id"] for clause in letter.data_snapshot["law"]]


def test_every_region_belongs_to_its_country_and_has_a_real_zone() -> None:
    zones = available_timezones()
    assert {country: len(regions) for country, regions in REGIONS.items()} == {"US": 51, "CA": 13, "AU": 8}
    for country, regions in REGIONS.items():
        assert country in countries()
        for code in regions:
            assert code.split("-")[0] == country
            assert REGION_ZONES[code] in zones, code
    assert set(REGION_ZONES) == {code for regions in REGIONS.values() for code in regions}
    assert zone_for_region("us-ca") == "America/Los_Angeles"
    assert (region_name("US-CA"), region_name("AU-WA"), region_name(None)) == ("California", "Western Australia", None)


def test_a_californian_through_the_wizard_gets_state_law_and_pacific_time(client: FlaskClient,
                                                                         committed: Runtime) -> None:
    dates_page = client.get("/start/dates").get_data(as_text=True)
    assert '<optgroup label="United States">' in dates_page
    assert '<option value="US-CA">California</option>' in dates_page
    walk(client, wizard_answers())
    check = client.get("/start/check").get_data(as_text=True)
    assert "California, United States" in check
    response = client.post("/start/check", data={"csrf_token": csrf_token(client, "/start/check")})
    assert response.status_code == 303
    case, law = filed(committed)
    assert (case.country, case.region, case.timezone) == ("US", "US-CA", "America/Los_Angeles")
    assert "us-ca-automatic-renewal-law" in law


def test_a_zone_given_wins_over_the_regions(client: FlaskClient, committed: Runtime) -> None:
    from casework.cases.views import form_to_case_input

    data = form_to_case_input({"country": "US", "region": "US-CA", "timezone": "America/New_York"})
    assert (data["region"], data["timezone"]) == ("US-CA", "America/New_York")


def test_the_check_page_names_the_country_alone_without_a_region(client: FlaskClient, committed: Runtime) -> None:
    walk(client, wizard_answers(country="AU", region="", **{"amount.currency": "AUD"}))
    check = client.get("/start/check").get_data(as_text=True)
    assert '<dd class="summary-list__value">Australia</dd>' in check


def test_a_region_of_another_country_is_refused_on_the_wizard_step(client: FlaskClient, committed: Runtime) -> None:
    walk(client, {k: v for k, v in wizard_answers().items() if k in ("company", "plan")})
    status, page = answer(client, "dates", wizard_answers(region="CA-BC")["dates"])
    assert status == 422
    assert REGION_PAGE_MESSAGE in page
    assert 'href="#region"' in page  # the error summary names the field
    assert 'aria-invalid="true"' in page.split('id="region"')[1].split(">")[0]
    assert '<option value="CA-BC" selected>British Columbia</option>' in page  # what was chosen stays
    assert '<option value="US" selected>' in page
    assert f'value="{iso_days_ago(7)}"' in page


def test_a_region_left_from_another_country_is_dropped(client: FlaskClient, committed: Runtime) -> None:
    """The question is not asked in Germany, so a region chosen before the country changed does not count."""
    walk(client, wizard_answers(country="DE", **{"amount.currency": "EUR"}))
    client.post("/start/check", data={"csrf_token": csrf_token(client, "/start/check")})
    case, _ = filed(committed)
    assert (case.region, case.timezone) == (None, "Europe/Berlin")


def test_a_californian_through_the_single_form(client: FlaskClient, committed: Runtime) -> None:
    response = post_form(client, "/", filing_form(country="US", region="US-CA", **{"amount.currency": "USD"}))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    case, law = filed(committed)
    assert (case.region, case.timezone) == ("US-CA", "America/Los_Angeles")
    assert "us-ca-automatic-renewal-law" in law


def test_the_single_form_refuses_a_region_of_another_country(client: FlaskClient, committed: Runtime) -> None:
    response = post_form(client, "/", filing_form(country="AU", region="US-CA", **{"consumer.name": "Kept Name"}))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert REGION_PAGE_MESSAGE in page
    assert 'href="#region"' in page
    assert '<option value="US-CA" selected>California</option>' in page
    assert 'value="Kept Name"' in page
    with committed.sessions() as session:
        assert session.execute(select(Case)).first() is None


def test_an_australian_in_western_australia_counts_days_in_perth(client: FlaskClient, committed: Runtime) -> None:
    response = post_form(client, "/", filing_form(region="AU-WA"))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    case, _ = filed(committed)
    assert (case.country, case.region, case.timezone) == ("AU", "AU-WA", "Australia/Perth")


def test_an_unknown_region_of_the_country_is_refused_on_the_page(client: FlaskClient, committed: Runtime) -> None:
    response = post_form(client, "/", filing_form(country="US", region="US-ZZ", **{"amount.currency": "USD"}))
    assert response.status_code == 422
    assert REGION_PAGE_MESSAGE in response.get_data(as_text=True)
