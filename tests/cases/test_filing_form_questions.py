"""The single-page form without its script: every question shown, each saying when it applies; the plans carry
what the script needs to show only the questions that apply (tests/cases/test_browser_page_scripts.py)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from casework.catalog import default_catalog
from casework.runtime import Runtime
from casework.web import limiter
from tests.support.web import filing_form, post_form

pytestmark = pytest.mark.http


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


def option(page: str, value: str) -> str:
    found = re.search(rf'<option value="{re.escape(value)}"[^>]*>', page)
    assert found is not None, value
    return found.group(0)


def test_every_plan_says_its_company_and_whether_the_certificate_is_asked(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert '<script src="/static/filing-form.js" defer></script>' in page
    for provider in default_catalog().providers.values():
        for plan in provider.plans:
            tag = option(page, f"{provider.slug}:{plan.slug}")
            assert f'data-provider="{provider.slug}"' in tag
            assert ("data-certificate-asked" in tag) is plan.refund.certificate_voids, tag


def test_without_the_script_every_question_is_shown_saying_when_it_applies(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    company = re.search(r'<fieldset class="subgroup" id="another-company"[^>]*>(.*?)</fieldset>', page, re.S)
    assert company is not None
    assert "hidden" not in company.group(0).split(">", 1)[0]
    hint = " ".join(html.unescape(company.group(1)).split())
    assert 'Only if the company is not in the list: choose one of the "Another company" plans above' in hint
    for field in ("company.name", "company.email", "company.web_form_url", "company.postal_address"):
        assert f'name="{field}"' in company.group(1), field

    certificate = re.search(r'<div class="field field--checkbox" id="certificate-field">(.*?)</div>', page, re.S)
    assert certificate is not None
    words = " ".join(html.unescape(certificate.group(1)).split())
    assert "Only for a plan whose refund ends once you earn a certificate: Coursera — " in words
    assert "Coursera — Coursera Plus (annual)" in words
    assert "Guided Project" not in words  # its refund does not depend on a certificate
    assert 'aria-describedby="certificate_earned-hint"' in certificate.group(1)


def test_what_was_typed_for_another_company_comes_back_with_the_errors(client: FlaskClient) -> None:
    response = post_form(client, "/", filing_form(**{"plan": "other:other-monthly", "company.name": "",
                                                      "company.email": "cancel@acme.example"}))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'value="cancel@acme.example"' in page
    assert 'id="company-name-error"' in page
