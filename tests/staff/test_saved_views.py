"""Saved views: a caseworker names the queue's current filters, sees them listed as links on the queue, opens
them, replaces them by saving the same name, and deletes their own (anyone else's is not found)."""

from __future__ import annotations

import html
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from casework.runtime import Runtime
from casework.staff.accounts import create_staff
from casework.staff.models import SavedView
from tests.support.staff import PASSWORD, signed_in
from tests.support.web import post_form
from tests.support.writes import writing

pytestmark = pytest.mark.http
VIEW_RE = re.compile(r'<li data-view-id="(\d+)"><a href="([^"]+)"[^>]*>([^<]*)</a>')


@pytest.fixture
def staff(committed: Runtime) -> dict[str, int]:
    with writing(committed) as session:
        casey = create_staff(session, "casey@casework.test", "Casey Worker", PASSWORD)
        sam = create_staff(session, "sam@casework.test", "Sam Other", PASSWORD)
        return {"casey": casey.id, "sam": sam.id}


@pytest.fixture
def client(app: Flask, staff: dict[str, int]) -> FlaskClient:
    return signed_in(app, "casey@casework.test")


def save(client: FlaskClient, name: str, back: str) -> TestResponse:
    return post_form(client, "/staff/views", {"view_name": name, "return": back}, page="/staff")


def listed(client: FlaskClient, query: str = "") -> list[tuple[str, str, str]]:
    """(id, link, name) of the saved views on the queue page."""
    page = client.get(f"/staff?{query}")
    assert page.status_code == 200
    return [(i, html.unescape(link), html.unescape(name)) for i, link, name in VIEW_RE.findall(page.get_data(
        as_text=True))]


def stored(runtime: Runtime) -> list[tuple[int, str, str]]:
    with runtime.sessions() as session:
        return [(v.staff_id, v.name, v.query) for v in session.scalars(select(SavedView).order_by(SavedView.id))]


def test_save_list_and_open_a_view(client: FlaskClient, committed: Runtime, staff: dict[str, int]) -> None:
    response = save(client, "  My sent  cases ", "/staff?status=sent&assignee=mine&after=abc")
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff?status=sent&assignee=mine&after=abc"
    assert stored(committed) == [(staff["casey"], "My sent cases", "status=sent&assignee=mine")]  # no cursor
    assert "The view \u201cMy sent cases\u201d is saved." in html.unescape(client.get("/staff").get_data(as_text=True))
    [(view_id, link, name)] = listed(client)
    assert (link, name) == ("/staff?status=sent&assignee=mine", "My sent cases")
    opened = client.get(link).get_data(as_text=True)
    assert f'<li data-view-id="{view_id}"><a href="/staff?status=sent&amp;assignee=mine" aria-current="page">' in opened
    assert '<input type="checkbox" name="status" value="sent" checked>' in opened


def test_saving_the_same_name_replaces_its_filters(client: FlaskClient, committed: Runtime,
                                                    staff: dict[str, int]) -> None:
    assert save(client, "Mine", "/staff?assignee=mine").status_code == 303
    assert save(client, "Mine", "/staff?assignee=mine&overdue=1").status_code == 303
    assert stored(committed) == [(staff["casey"], "Mine", "assignee=mine&overdue=1")]
    assert "The view \u201cMine\u201d is updated." in html.unescape(client.get("/staff").get_data(as_text=True))


def test_names_are_checked_and_the_typed_name_kept(client: FlaskClient, committed: Runtime) -> None:
    empty = save(client, "   ", "/staff?status=sent")
    assert empty.status_code == 422
    assert 'id="view-name-error"' in empty.get_data(as_text=True)
    long_name = "n" * 101
    too_long = save(client, long_name, "/staff?status=sent")
    assert too_long.status_code == 422
    page = too_long.get_data(as_text=True)
    assert "At most 100 characters (this has 101)." in page
    assert f'value="{long_name}"' in page
    assert '<input type="checkbox" name="status" value="sent" checked>' in page  # the filters shown are kept
    assert save(client, "n" * 100, "/staff").status_code == 303
    assert [name for _, name, _ in stored(committed)] == ["n" * 100]


def test_at_most_50_views_each(client: FlaskClient, committed: Runtime, staff: dict[str, int]) -> None:
    with writing(committed) as session:
        session.add_all(SavedView(staff_id=staff["casey"], name=f"View {n}", query="") for n in range(50))
        session.add(SavedView(staff_id=staff["sam"], name="Sam's", query=""))
    refused = save(client, "One more", "/staff?failed=1")
    assert refused.status_code == 422
    assert "delete one first" in refused.get_data(as_text=True)
    assert save(client, "View 7", "/staff?failed=1").status_code == 303  # replacing is not one more
    assert len(stored(committed)) == 51


def test_delete_own_views_only(app: Flask, client: FlaskClient, committed: Runtime, staff: dict[str, int]) -> None:
    with writing(committed) as session:
        mine = SavedView(staff_id=staff["casey"], name="Mine", query="assignee=mine")
        theirs = SavedView(staff_id=staff["sam"], name="Theirs", query="status=sent")
        session.add_all([mine, theirs])
        session.flush()
        mine_id, theirs_id = mine.id, theirs.id
    assert [name for _, _, name in listed(client)] == ["Mine"]  # only one's own views are listed
    assert post_form(client, f"/staff/views/{theirs_id}/delete", {"return": "/staff"}, page="/staff"
                     ).status_code == 404
    assert post_form(client, "/staff/views/999999/delete", {"return": "/staff"}, page="/staff").status_code == 404
    assert post_form(client, "/staff/views/99999999999/delete", {}, page="/staff").status_code == 404
    deleted = post_form(client, f"/staff/views/{mine_id}/delete", {"return": "/staff?status=ready"}, page="/staff")
    assert deleted.status_code == 303
    assert deleted.headers["Location"] == "/staff?status=ready"
    assert stored(committed) == [(staff["sam"], "Theirs", "status=sent")]
    sam = signed_in(app, "sam@casework.test")
    assert [name for _, _, name in listed(sam)] == ["Theirs"]


@pytest.mark.parametrize("back", ["https://evil.example/staff?status=sent", "//evil.example/staff?status=sent",
                                  "/staff/../x?status=sent"])
def test_a_view_from_elsewhere_saves_no_filters_and_stays_on_the_queue(client: FlaskClient, committed: Runtime,
                                                                       back: str) -> None:
    response = save(client, "Odd", back)
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff"
    assert [query for _, _, query in stored(committed)] == [""]


def test_garbage_filters_are_not_saved(client: FlaskClient, committed: Runtime) -> None:
    assert save(client, "Tidy", "/staff?status=nope&status=ready&company=no-such&q=%20ab%20%20c").status_code == 303
    assert [query for _, _, query in stored(committed)] == ["status=ready&q=ab+c"]
