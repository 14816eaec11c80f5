"""API 1.1 over HTTP: a case's ``language`` (en, fr, de): the country's unless chosen, refused with the allowed
values when it is anything else, returned in the case document, changed by a correction, and no assessment field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from casework.cases.models import Case
from casework.languages import LANGUAGES, default_language
from casework.runtime import Runtime
from casework.web import limiter
from tests.api.test_api_cases import bearer, case_body, cases_in
from tests.api.test_api_start_date_letter_plan import assessment_body
from tests.api.test_staff_api import staff, token_for
from tests.support.http import JsonClient, serve

pytestmark = [pytest.mark.http, pytest.mark.dates]

ALLOWED = "must be one of 'en', 'fr' or 'de'"
# API.md: FR, BE, LU → fr; DE, AT, CH → de; any other country → en.
COUNTRY_DEFAULTS = [("FR", "Europe/Paris", "fr"), ("BE", "Europe/Brussels", "fr"), ("LU", "Europe/Luxembourg", "fr"),
                    ("DE", "Europe/Berlin", "de"), ("AT", "Europe/Vienna", "de"), ("CH", "Europe/Zurich", "de"),
                    ("GB", "Europe/London", "en"), ("US", "America/New_York", "en"),
                    ("AU", "Australia/Melbourne", "en"), ("CA", "America/Toronto", "en")]


@pytest.fixture
def api(app: Flask, committed: Runtime) -> Iterator[JsonClient]:
    limiter.reset()
    with serve(app) as base_url:
        yield JsonClient(base_url)


def stored_language(runtime: Runtime) -> str:
    with runtime.sessions() as session:
        return str(session.execute(select(Case.language)).scalar_one())


def in_country(country: str, zone: str, **changes: Any) -> dict[str, Any]:
    """A case body from someone living in ``country``, paying in its own terms (the amount is left out)."""
    return case_body(country=country, timezone=zone, amount=None, **changes)


@pytest.mark.parametrize(("country", "expected"), [(c, lang) for c, _, lang in COUNTRY_DEFAULTS] + [
    ("fr", "fr"), ("JP", "en"), ("ZZ", "en"), ("", "en"), (None, "en")])
def test_the_default_language_follows_the_contracts_table(country: str | None, expected: str) -> None:
    assert default_language(country) == expected


@pytest.mark.parametrize(("country", "zone", "expected"), COUNTRY_DEFAULTS)
def test_without_a_language_the_case_takes_its_countrys(api: JsonClient, committed: Runtime, country: str,
                                                        zone: str, expected: str) -> None:
    filed = api.post("/api/v1/cases", in_country(country, zone))
    assert filed.status == 201, filed.body
    assert stored_language(committed) == expected
    document = api.get(f"/api/v1/cases/{filed.json['reference']}", headers=bearer(filed.json["access_token"])).json
    assert document["language"] == expected


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_chosen_language_is_kept_whatever_the_country(api: JsonClient, committed: Runtime, language: str) -> None:
    filed = api.post("/api/v1/cases", in_country("DE", "Europe/Berlin", language=language))
    assert filed.status == 201, filed.body
    assert stored_language(committed) == language


def test_null_is_the_same_as_absent(api: JsonClient, committed: Runtime) -> None:
    filed = api.post("/api/v1/cases", in_country("BE", "Europe/Brussels", language=None))
    assert filed.status == 201, filed.body
    assert stored_language(committed) == "fr"


@pytest.mark.parametrize("language", ["es", "FR", "En", " fr", "", "english", 123, True, ["fr"], {"code": "fr"}])
def test_any_other_language_is_a_422_naming_the_allowed_ones(api: JsonClient, committed: Runtime,
                                                             language: Any) -> None:
    """Only the three lowercase codes API.md lists: an upper-case code is refused, not guessed at."""
    reply = api.post("/api/v1/cases", case_body(language=language))
    assert reply.status == 422, reply.body
    assert reply.json["error"] == "validation_failed"
    assert reply.json["fields"] == {"language": ALLOWED}
    assert cases_in(committed) == 0


def test_a_bad_language_is_a_422_before_an_unknown_provider(api: JsonClient, committed: Runtime) -> None:
    reply = api.post("/api/v1/cases", case_body(provider="nobody", language="es"))
    assert (reply.status, reply.json["fields"]) == (422, {"language": ALLOWED})


def test_the_assessment_takes_no_language(api: JsonClient) -> None:
    """API.md: on case requests only. An assessment is no case; as any field it does not take, it is refused."""
    plain = api.post("/api/v1/assessments", assessment_body())
    assert plain.status == 200, plain.body
    assert "language" not in plain.json
    refused = api.post("/api/v1/assessments", assessment_body(language="fr"))
    assert (refused.status, refused.json["fields"]) == (422, {"language": "unknown field"})


def test_a_correction_changes_the_language_and_keeps_it_otherwise(api: JsonClient, committed: Runtime) -> None:
    filed = api.post("/api/v1/cases", in_country("FR", "Europe/Paris")).json
    ref, auth = filed["reference"], bearer(filed["access_token"])
    changed = api.request("PATCH", f"/api/v1/cases/{ref}", {"language": "en"}, headers=auth)
    assert changed.status == 200, changed.body
    assert changed.json["language"] == "en"
    assert stored_language(committed) == "en"
    # Another correction, even of the country, keeps the language the case has.
    moved = api.request("PATCH", f"/api/v1/cases/{ref}", {"country": "DE", "timezone": "Europe/Berlin"}, headers=auth)
    assert moved.status == 200, moved.body
    assert moved.json["language"] == "en"
    refused = api.request("PATCH", f"/api/v1/cases/{ref}", {"language": "FR"}, headers=auth)
    assert (refused.status, refused.json["fields"]) == (422, {"language": ALLOWED})
    assert stored_language(committed) == "en"
    # Null, as in a filing, means "not chosen": the country's.
    cleared = api.request("PATCH", f"/api/v1/cases/{ref}", {"language": None}, headers=auth)
    assert cleared.json["language"] == "de"


def test_a_staff_token_sees_the_language(api: JsonClient, committed: Runtime) -> None:
    filed = api.post("/api/v1/cases", in_country("CH", "Europe/Zurich")).json
    token = token_for(committed, staff(committed, "casey@casework.test"))
    document = api.get(f"/api/v1/cases/{filed['reference']}", headers=bearer(token))
    assert document.status == 200, document.body
    assert document.json["language"] == "de"


def test_the_description_lists_the_languages(api: JsonClient) -> None:
    schemas = api.get("/api/openapi.json").json["components"]["schemas"]
    asked = schemas["CaseRequest"]["properties"]["language"]
    assert [option.get("enum") for option in asked["anyOf"] if "enum" in option] == [list(LANGUAGES)]
    assert "language" not in schemas["CaseRequest"].get("required", [])
    assert "language" not in schemas["AssessmentRequest"]["properties"]
    assert schemas["CaseOut"]["properties"]["language"]["enum"] == list(LANGUAGES)
    assert "language" in schemas["CaseOut"]["required"]
