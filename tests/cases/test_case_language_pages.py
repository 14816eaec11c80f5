"""The language of the letter and e-mails on the pages: the single-page form and the wizard offer each language in
itself (marked with its ``lang``), check no choice for the consumer and file the country's when none is made; check
your answers shows it with "Change"; a bad value is a field error with the answers kept. The staff case page and
``flask case file --language`` too."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from casework.cases.models import Case
from casework.runtime import Runtime
from casework.staff.accounts import create_staff
from casework.web import limiter
from tests.cases.test_wizard import answer, cases, walk
from tests.support.staff import PASSWORD, signed_in
from tests.support.today import iso_days_ago
from tests.support.web import csrf_token, filing_form, post_form
from tests.support.writes import writing

pytestmark = [pytest.mark.http, pytest.mark.dates]

PAGE_ERROR = "Select the language of your letter and e-mails from the list"
IN_FRANCE = {
    "company": {"provider": "coursera"},
    "plan": {"plan": "coursera-plus-annual", "billing_channel": "direct"},
    "dates": {"country": "FR", "payment_date": iso_days_ago(7), "amount.value": "59.00", "amount.currency": "EUR"},
    "outcome": {"requested_outcome": "cancel_and_refund"},
    "details": {"consumer.name": "Jeanne Consommatrice", "consumer.email": "jeanne@example.com",
                "consent.send_in_my_name": "yes"},
}


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


def languages(runtime: Runtime) -> list[str]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Case.language).order_by(Case.id)))


def radios(page: str) -> dict[str, bool]:
    """The language radios of a page: value → checked."""
    found = re.findall(r'<input type="radio" id="language-(\w+)" name="language" value="\1"( checked)?>', page)
    return {value: bool(checked) for value, checked in found}


def assert_offered_in_themselves(page: str) -> None:
    assert "<legend>Language of your letter and e-mails (optional)</legend>" in page
    assert '<label for="language-en" lang="en">English</label>' in page
    assert '<label for="language-fr" lang="fr">Français</label>' in page
    assert '<label for="language-de" lang="de">Deutsch</label>' in page
    assert 'id="language" aria-describedby="language-hint"' in page


# --- the single-page form -------------------------------------------------------------------------------------

def test_the_form_offers_each_language_in_itself_and_chooses_none(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert_offered_in_themselves(page)
    assert radios(page) == {"en": False, "fr": False, "de": False}
    assert "If you do not choose one, we use your country\N{RIGHT SINGLE QUOTATION MARK}s" in page


@pytest.mark.parametrize(("country", "expected"), [("FR", "fr"), ("BE", "fr"), ("AT", "de"), ("GB", "en")])
def test_the_form_without_a_choice_files_the_countrys_language(client: FlaskClient, committed: Runtime,
                                                                country: str, expected: str) -> None:
    response = post_form(client, "/", filing_form(country=country, **{"amount.currency": "EUR"}))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    assert languages(committed) == [expected]


def test_the_form_keeps_the_language_chosen(client: FlaskClient, committed: Runtime) -> None:
    response = post_form(client, "/", filing_form(country="GB", language="de", **{"amount.currency": "GBP"}))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    assert languages(committed) == ["de"]


def test_the_form_keeps_the_choice_when_another_answer_is_wrong(client: FlaskClient, committed: Runtime) -> None:
    response = post_form(client, "/", filing_form(language="fr", **{"consumer.email": "jane@"}))
    assert response.status_code == 422
    assert radios(response.get_data(as_text=True)) == {"en": False, "fr": True, "de": False}
    assert cases(committed) == 0


@pytest.mark.parametrize("language", ["es", "FR", "123"])
def test_the_form_refuses_another_language_beside_its_field(client: FlaskClient, committed: Runtime,
                                                            language: str) -> None:
    response = post_form(client, "/", filing_form(language=language))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'<a href="#language">{PAGE_ERROR}</a>' in page
    assert f'<p class="field-error" id="language-error"><span class="visually-hidden">Error:</span> {PAGE_ERROR}</p>' \
        in page
    assert 'id="language" aria-describedby="language-hint language-error" aria-invalid="true"' in page
    assert 'value="Jane Q. Consumer"' in page  # the other answers are kept
    assert radios(page) == {"en": False, "fr": False, "de": False}
    assert cases(committed) == 0


# --- the wizard -----------------------------------------------------------------------------------------------

def before_details(answers: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {step: fields for step, fields in answers.items() if step != "details"}


def test_the_wizard_names_the_countrys_language_and_chooses_none(client: FlaskClient) -> None:
    walk(client, before_details(IN_FRANCE))
    page = client.get("/start/details").get_data(as_text=True)
    assert_offered_in_themselves(page)
    assert radios(page) == {"en": False, "fr": False, "de": False}
    assert 'If you do not choose one, we use <span lang="fr">Français</span>, the language of your country.' in page


def test_the_wizard_files_the_countrys_language_and_shows_it_with_change(client: FlaskClient,
                                                                          committed: Runtime) -> None:
    walk(client, IN_FRANCE)
    page = client.get("/start/check").get_data(as_text=True)
    row = re.search(r'<dt class="summary-list__key">Language of your letter and e-mails</dt>.*?</div>', page, re.S)
    assert row is not None
    assert '<span lang="fr">Français</span>' in row.group(0)
    assert 'href="/start/details?return=check">Change<span class="visually-hidden"> language of your letter' \
        in row.group(0)
    filed = client.post("/start/check", data={"csrf_token": csrf_token(client, "/start/check")})
    assert filed.status_code == 303
    assert languages(committed) == ["fr"]


def test_a_change_from_check_your_answers_is_kept(client: FlaskClient, committed: Runtime) -> None:
    walk(client, IN_FRANCE)
    token = csrf_token(client, "/start/details?return=check")
    response = client.post("/start/details?return=check",
                           data={"csrf_token": token, **IN_FRANCE["details"], "language": "en"})
    assert (response.status_code, response.headers["Location"]) == (303, "/start/check")
    page = client.get("/start/check").get_data(as_text=True)
    assert '<span lang="en">English</span>' in page
    assert radios(client.get("/start/details").get_data(as_text=True)) == {"en": True, "fr": False, "de": False}
    # A country changed afterwards leaves the language chosen as it is.
    walk(client, {"dates": {**IN_FRANCE["dates"], "country": "DE"}})
    assert '<span lang="en">English</span>' in client.get("/start/check").get_data(as_text=True)
    client.post("/start/check", data={"csrf_token": csrf_token(client, "/start/check")})
    assert languages(committed) == ["en"]


def test_the_wizard_refuses_another_language_and_keeps_the_answers(client: FlaskClient, committed: Runtime) -> None:
    walk(client, before_details(IN_FRANCE))
    status, page = answer(client, "details", {**IN_FRANCE["details"], "language": "es"})
    assert status == 422
    assert f'<p class="field-error" id="language-error"><span class="visually-hidden">Error:</span> {PAGE_ERROR}</p>' \
        in page
    assert 'href="#language"' in page
    assert 'value="Jeanne Consommatrice"' in page
    # Nothing of the step was saved: the check page sends back to it, and nothing is filed.
    assert client.get("/start/check").status_code == 302
    assert cases(committed) == 0


def test_the_app_store_path_asks_the_language_too(client: FlaskClient, committed: Runtime) -> None:
    apple = {**before_details(IN_FRANCE), "plan": {**IN_FRANCE["plan"], "billing_channel": "apple_app_store"},
             "dates": {"country": "BE", "payment_date": iso_days_ago(7)}}
    walk(client, apple)
    page = client.get("/start/details").get_data(as_text=True)
    assert_offered_in_themselves(page)
    walk(client, {"details": {"consumer.name": "Jeanne", "consumer.email": "jeanne@example.com", "language": "de"}})
    assert '<span lang="de">Deutsch</span>' in client.get("/start/check").get_data(as_text=True)
    client.post("/start/check", data={"csrf_token": csrf_token(client, "/start/check")})
    assert languages(committed) == ["de"]


# --- staff and the command line -------------------------------------------------------------------------------

def test_the_staff_case_page_shows_the_language(app: Flask, client: FlaskClient, committed: Runtime) -> None:
    assert post_form(client, "/", filing_form(country="LU", **{"amount.currency": "EUR"})).status_code == 303
    with writing(committed) as session:
        create_staff(session, "casey@casework.test", "Casey Worker", PASSWORD)
        reference = session.execute(select(Case.reference)).scalar_one()
    page = signed_in(app, "casey@casework.test").get(f"/staff/cases/{reference}").get_data(as_text=True)
    assert '<div><dt>Language</dt><dd><span lang="fr">Français</span> (fr)</dd></div>' in page


@pytest.mark.parametrize(("options", "expected"), [([], "de"), (["--language", "en"], "en")])
def test_the_command_line_takes_a_language(app: Flask, committed: Runtime, options: list[str],
                                           expected: str) -> None:
    result = app.test_cli_runner().invoke(args=[
        "case", "file", "--plan", "coursera-plus-annual", "--name", "Jana", "--email", "jana@example.com",
        "--country", "AT", "--payment-date", iso_days_ago(3), *options])
    assert result.exit_code == 0, result.output
    assert languages(committed) == [expected]


def test_the_command_line_refuses_another_language(app: Flask, committed: Runtime) -> None:
    result = app.test_cli_runner().invoke(args=[
        "case", "file", "--plan", "coursera-plus-annual", "--name", "Jana", "--email", "jana@example.com",
        "--country", "AT", "--payment-date", iso_days_ago(3), "--language", "es"])
    assert result.exit_code == 2
    assert "--language" in result.output
    assert cases(committed) == 0
