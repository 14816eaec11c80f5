"""Every page's footer gives the address to write to and how soon we answer; the site's icon answers where
browsers look for it."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from casework import create_app
from casework.runtime import Runtime, runtime_of
from casework.site import ICON
from casework.web import limiter
from tests.support.web import filing_form, post_form, token_from_location

pytestmark = pytest.mark.http

FOOTER = re.compile(r'<footer class="site-footer[^"]*">(.*?)</footer>', re.S)


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


def footer_words(page: str) -> str:
    match = FOOTER.search(page)
    assert match is not None, "no footer"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).split())


def test_the_footer_gives_the_contact_address_and_answer_time_on_the_consumers_pages(client: FlaskClient) -> None:
    response = post_form(client, "/", filing_form())
    assert response.status_code == 303
    token = token_from_location(response)
    for path in ("/", f"/c/{token}", "/lost-link", "/start/company"):
        page = client.get(path).get_data(as_text=True)
        words = footer_words(page)
        assert "Questions about your case? E-mail help@casework.localhost — we answer within 2 working days." \
            in words, path
        assert "Lost the link to your case?" in words, path
        assert '<a href="mailto:help@casework.localhost">help@casework.localhost</a>' in page, path


def test_the_footer_states_a_deployments_own_address_and_time(settings_overrides: dict[str, Any]) -> None:
    app = create_app({**settings_overrides, "contact_email": "support@cases.example", "contact_response_days": 1})
    try:
        page = app.test_client().get("/lost-link").get_data(as_text=True)
    finally:
        runtime_of(app).engine.dispose()
    assert "E-mail support@cases.example — we answer within 1 working day." in footer_words(page)
    assert "help@casework.localhost" not in page


def test_the_icon_is_linked_and_favicon_ico_answers_with_it(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    link = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', page)
    assert link is not None
    linked = client.get(link.group(1))
    assert linked.status_code == 200
    assert linked.mimetype == "image/svg+xml"
    icon = linked.get_data()
    linked.close()

    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert response.get_data() == icon
    assert "max-age=" in response.headers["Cache-Control"]
    response.close()
    assert link.group(1).endswith("/" + ICON)
    assert icon.startswith(b"<svg ")
    assert b"<script" not in icon  # drawn, never run
