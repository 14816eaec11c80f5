"""Bulk actions on the queue: assign, release and status moves on ticked cases, all or nothing, each case's
event marked as part of a bulk action, and the way back to the same filtered queue."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from casework.cases.models import Case, CaseEvent
from casework.cases.states import CaseStatus, Outcome
from casework.runtime import Runtime
from casework.staff.accounts import create_staff
from tests.support.staff import PASSWORD, case_in_status, signed_in
from tests.support.web import post_form
from tests.support.writes import writing

pytestmark = pytest.mark.http
CHECKED_RE = re.compile(r'name="case" value="([^"]+)"[^>]*?\bchecked\b')


@pytest.fixture
def staff(committed: Runtime) -> dict[str, int]:
    """Casey (a caseworker, signed in by ``client``), Sam (another caseworker) and Sue (a supervisor)."""
    with writing(committed) as session:
        casey = create_staff(session, "casey@casework.test", "Casey Worker", PASSWORD)
        sam = create_staff(session, "sam@casework.test", "Sam Other", PASSWORD)
        sue = create_staff(session, "sue@casework.test", "Sue Supervisor", PASSWORD, role="supervisor")
        return {"casey": casey.id, "sam": sam.id, "sue": sue.id}


@pytest.fixture
def client(app: Flask, staff: dict[str, int]) -> FlaskClient:
    return signed_in(app, "casey@casework.test")


make_case = case_in_status


def ticked(runtime: Runtime, *references: str) -> list[str]:
    """The checkbox values of these cases as the queue shows them now."""
    with runtime.sessions() as session:
        found = {c.reference: c.version for c in session.scalars(select(Case).where(Case.reference.in_(references)))}
    return [f"{reference}:{found[reference]}" for reference in references]


def cases(runtime: Runtime, references: list[str]) -> dict[str, Case]:
    with runtime.sessions() as session:
        session.expire_on_commit = False
        return {c.reference: c for c in session.scalars(select(Case).where(Case.reference.in_(references)))}


def events(runtime: Runtime, references: list[str], action: str) -> list[CaseEvent]:
    with runtime.sessions() as session:
        return list(session.scalars(select(CaseEvent).join(Case, Case.id == CaseEvent.case_id)
                                    .where(Case.reference.in_(references), CaseEvent.action == action)
                                    .order_by(CaseEvent.id)))


def bulk(client: FlaskClient, selection: list[str], back: str = "/staff", **fields: Any) -> TestResponse:
    return post_form(client, "/staff/bulk", {"case": selection, "return": back, **fields}, page="/staff")


def page_text(response: TestResponse) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_bulk_assign_to_me_marks_every_event(client: FlaskClient, committed: Runtime, staff: dict[str, int]) -> None:
    refs = [make_case(committed) for _ in range(3)]
    response = bulk(client, ticked(committed, *refs), "/staff?status=ready&assignee=unassigned",
                    action="assign", assignee="me")
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff?status=ready&assignee=unassigned"
    assert {c.assignee_id for c in cases(committed, refs).values()} == {staff["casey"]}
    written = events(committed, refs, "assigned")
    assert len(written) == 3
    assert all(e.data["bulk"] == 3 and e.actor_staff_id == staff["casey"] for e in written)
    assert "3 cases assigned to you." in page_text(client.get("/staff"))


def test_bulk_release_of_own_cases(client: FlaskClient, committed: Runtime, staff: dict[str, int]) -> None:
    refs = [make_case(committed, assignee_id=staff["casey"]) for _ in range(3)]
    response = bulk(client, ticked(committed, *refs), action="release")
    assert response.status_code == 303
    assert {c.assignee_id for c in cases(committed, refs).values()} == {None}
    written = events(committed, refs, "released")
    assert [e.data["bulk"] for e in written] == [3, 3, 3]


def test_bulk_resolve_with_an_outcome(client: FlaskClient, committed: Runtime, staff: dict[str, int]) -> None:
    refs = [make_case(committed, CaseStatus.SENT) for _ in range(3)]
    response = bulk(client, ticked(committed, *refs), action="status", status="resolved", outcome="refund_denied")
    assert response.status_code == 303
    assert {(c.status, c.outcome) for c in cases(committed, refs).values()} == {
        (CaseStatus.RESOLVED, Outcome.REFUND_DENIED)}
    written = events(committed, refs, "resolved")
    assert len(written) == 3
    assert all(e.data == {"outcome": "refund_denied", "bulk": 3} for e in written)
    assert "3 cases resolved (refund denied)." in page_text(client.get("/staff"))


def test_bulk_question_to_each_consumer(client: FlaskClient, committed: Runtime) -> None:
    refs = [make_case(committed, CaseStatus.SENT) for _ in range(2)]
    response = bulk(client, ticked(committed, *refs), action="status", status="needs_info",
                    question="Which card was charged?")
    assert response.status_code == 303
    assert {c.status for c in cases(committed, refs).values()} == {CaseStatus.NEEDS_INFO}
    assert [e.data["bulk"] for e in events(committed, refs, "info_requested")] == [2, 2]


def test_one_stale_case_changes_nothing_and_is_named(client: FlaskClient, committed: Runtime) -> None:
    refs = [make_case(committed) for _ in range(3)]
    selection = ticked(committed, *refs)
    stale = refs[1]
    selection[1] = f"{stale}:{int(selection[1].split(':')[1]) - 1 or 99}"
    response = bulk(client, selection, action="assign", assignee="me")
    assert response.status_code == 409
    page = page_text(response)
    assert f'data-refused="{stale}"' in page
    assert "Someone changed this case since the list was shown" in page
    assert not any(f'data-refused="{ref}"' in page for ref in (refs[0], refs[2]))
    assert {c.assignee_id for c in cases(committed, refs).values()} == {None}
    assert events(committed, refs, "assigned") == []
    assert sorted(CHECKED_RE.findall(page)) == sorted([selection[0], selection[2]])  # the selection is kept


def test_a_move_one_case_does_not_allow_rolls_back_the_others(client: FlaskClient, committed: Runtime) -> None:
    refs = [make_case(committed, CaseStatus.SENT), make_case(committed, CaseStatus.CLOSED),
            make_case(committed, CaseStatus.SENT)]
    response = bulk(client, ticked(committed, *refs), action="status", status="resolved", outcome="cancelled")
    assert response.status_code == 409
    page = page_text(response)
    assert f'data-refused="{refs[1]}"' in page
    assert "A case that is closed cannot become resolved." in page
    found = cases(committed, refs)
    assert [found[ref].status for ref in refs] == [CaseStatus.SENT, CaseStatus.CLOSED, CaseStatus.SENT]
    assert events(committed, refs, "resolved") == []


def test_more_than_200_cases_is_refused(client: FlaskClient, committed: Runtime) -> None:
    ref = make_case(committed)
    selection = [f"CW-2026-{n:08d}:1" for n in range(200)] + ticked(committed, ref)
    response = bulk(client, selection, action="assign", assignee="me")
    assert response.status_code == 422
    assert "At most 200 cases at once" in page_text(response)
    assert cases(committed, [ref])[ref].assignee_id is None


def test_a_caseworker_cannot_bulk_assign_to_someone_else(client: FlaskClient, committed: Runtime,
                                                         staff: dict[str, int]) -> None:
    refs = [make_case(committed) for _ in range(2)]
    response = bulk(client, ticked(committed, *refs), action="assign", assignee=str(staff["sam"]))
    assert response.status_code == 403
    assert "Only a supervisor can move a case" in page_text(response)
    assert {c.assignee_id for c in cases(committed, refs).values()} == {None}


def test_a_caseworker_cannot_release_someone_elses_case(client: FlaskClient, committed: Runtime,
                                                        staff: dict[str, int]) -> None:
    mine, theirs = make_case(committed, assignee_id=staff["casey"]), make_case(committed, assignee_id=staff["sam"])
    response = bulk(client, ticked(committed, mine, theirs), action="release")
    assert response.status_code == 403
    assert f'data-refused="{theirs}"' in page_text(response)
    found = cases(committed, [mine, theirs])
    assert (found[mine].assignee_id, found[theirs].assignee_id) == (staff["casey"], staff["sam"])


def test_a_supervisor_bulk_assigns_to_a_caseworker(app: Flask, committed: Runtime, staff: dict[str, int]) -> None:
    supervisor = signed_in(app, "sue@casework.test")
    refs = [make_case(committed), make_case(committed, assignee_id=staff["casey"])]
    response = bulk(supervisor, ticked(committed, *refs), action="assign", assignee=str(staff["sam"]))
    assert response.status_code == 303
    assert {c.assignee_id for c in cases(committed, refs).values()} == {staff["sam"]}
    queue = page_text(supervisor.get("/staff"))
    assert "2 cases assigned." in queue  # the message names nobody (it travels in the cookie); the rows do
    assert "Sam Other" in queue


def test_missing_fields_are_field_errors_with_the_typed_values_kept(client: FlaskClient, committed: Runtime) -> None:
    refs = [make_case(committed, CaseStatus.SENT)]
    selection = ticked(committed, *refs)
    response = bulk(client, selection, action="status", status="escalated", **{"escalation.name": "ACCC"})
    assert response.status_code == 422
    page = page_text(response)
    assert 'id="bulk-escalation-kind-error"' in page
    assert 'name="escalation.name" class="input" maxlength="200" value="ACCC"' in page
    assert CHECKED_RE.findall(page) == selection
    for fields in ({}, {"action": "status", "status": "resolved"}, {"action": "assign", "assignee": "nobody"},
                   {"action": "status", "status": "needs_info", "question": "   "}):
        assert bulk(client, selection, **fields).status_code == 422
    assert bulk(client, [], action="release").status_code == 422
    assert bulk(client, ["not a case"], action="release").status_code == 422
    assert cases(committed, refs)[refs[0]].status is CaseStatus.SENT


def test_a_bulk_escalation_records_where_each_case_went(client: FlaskClient, committed: Runtime) -> None:
    refs = [make_case(committed, CaseStatus.SENT) for _ in range(2)]
    response = bulk(client, ticked(committed, *refs), action="status", status="escalated",
                    **{"escalation.kind": "regulator", "escalation.name": "ACCC"})
    assert response.status_code == 303
    assert {(c.status, c.escalated_to_name) for c in cases(committed, refs).values()} == {
        (CaseStatus.ESCALATED, "ACCC")}


def test_an_unknown_reference_is_refused_by_name(client: FlaskClient, committed: Runtime) -> None:
    ref = make_case(committed)
    response = bulk(client, [*ticked(committed, ref), "CW-2026-ZZZZZZZZ:1"], action="assign", assignee="me")
    assert response.status_code == 409
    assert 'data-refused="CW-2026-ZZZZZZZZ"' in page_text(response)
    assert cases(committed, [ref])[ref].assignee_id is None


@pytest.mark.parametrize("back", ["https://evil.example/staff", "//evil.example/staff", "/\\evil.example",
                                  "/staff/../evil", "javascript:alert(1)", "/elsewhere?status=sent"])
def test_the_way_back_never_leaves_the_queue(client: FlaskClient, committed: Runtime, back: str) -> None:
    ref = make_case(committed)
    response = bulk(client, ticked(committed, ref), back, action="assign", assignee="me")
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff"


def test_the_way_back_keeps_only_known_filters(client: FlaskClient, committed: Runtime) -> None:
    ref = make_case(committed)
    response = bulk(client, ticked(committed, ref), "/staff?status=ready&q=x%07y&bogus=1&status=nope",
                    action="assign", assignee="me")
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff?status=ready"


def test_the_queue_offers_the_bulk_form(client: FlaskClient, committed: Runtime) -> None:
    ref = make_case(committed)
    page = page_text(client.get("/staff?status=ready"))
    assert f'name="case" value="{ticked(committed, ref)[0]}"' in page
    assert 'action="/staff/bulk"' in page
    assert 'name="return" value="/staff?status=ready"' in page
