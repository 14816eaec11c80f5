"""Flash messages wait for the next page in Flask's session cookie, which is signed, not encrypted: whoever sees
the cookie reads them. So none carries an e-mail address or a person's name; the page itself shows the address
from the case where it helps.

Each action that flashes something about a person is taken here, and the cookie it leaves is decoded.
"""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from casework.cases.filing import file_case
from casework.cases.models import Case
from casework.mail.models import OutboundEmail
from casework.runtime import Runtime
from casework.staff.accounts import create_staff
from casework.web import limiter
from tests.staff.test_staff_case_actions import Filed, act, delivered
from tests.support.cookies import EMAIL_RE, flashes_in_cookie
from tests.support.factories import case_facts
from tests.support.jobs import run_pending_jobs
from tests.support.staff import PASSWORD, case_in_status, signed_in
from tests.support.web import post_form
from tests.support.writes import writing

pytestmark = pytest.mark.http
CONSUMER_EMAIL = "ottoline.quill@example.org"
COLLEAGUE = ("Bartholomew Nettlefold", "bart.nettle@casework.test")


def assert_flashed_without_personal_data(app: Flask, client: FlaskClient, *names: str) -> list[str]:
    messages = flashes_in_cookie(app, client)
    assert messages, "the action flashes a message"
    for message in messages:
        assert EMAIL_RE.search(message) is None, message
        for name in names:
            assert name not in message, message
    return messages


@pytest.fixture
def filed(committed: Runtime) -> Filed:
    """A letter case written and e-mailed to the consumer to confirm."""
    limiter.reset()
    with writing(committed) as session:
        case = file_case(session, case_facts(consumer_email=CONSUMER_EMAIL, consumer_name="Ottoline Quillfeather"),
                         committed.settings.secret_key)
    run_pending_jobs(committed)
    return Filed(case.case_id, case.reference, case.access_token)


@pytest.fixture
def people(committed: Runtime) -> dict[str, int]:
    limiter.reset()
    with writing(committed) as session:
        sue = create_staff(session, "sue@casework.test", "Sue Supervisor", PASSWORD, role="supervisor")
        colleague = create_staff(session, COLLEAGUE[1], COLLEAGUE[0], PASSWORD)
        casey = create_staff(session, "casey@casework.test", "Casey Worker", PASSWORD)
        session.flush()
        return {"sue": sue.id, "colleague": colleague.id, "casey": casey.id}


def test_asking_for_a_new_code_flashes_no_address(app: Flask, filed: Filed) -> None:
    client = app.test_client()
    response = post_form(client, f"/c/{filed.token}/resend", {}, page=f"/c/{filed.token}")
    assert response.status_code == 303
    [message] = assert_flashed_without_personal_data(app, client, "Ottoline")
    assert "the address you gave" in message
    assert CONSUMER_EMAIL in client.get(f"/c/{filed.token}").get_data(as_text=True)  # the page shows it


def test_asking_to_delete_ones_details_flashes_no_address(app: Flask, filed: Filed) -> None:
    client = app.test_client()
    response = post_form(client, f"/c/{filed.token}/erasure-request", {}, page=f"/c/{filed.token}")
    assert response.status_code == 303
    [message] = assert_flashed_without_personal_data(app, client, "Ottoline")
    assert "the address you gave" in message
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert CONSUMER_EMAIL in page  # the erase page names the address the code went to


def test_disabling_and_enabling_a_colleague_flashes_no_address(app: Flask, people: dict[str, int]) -> None:
    supervisor = signed_in(app, "sue@casework.test")
    colleague = people["colleague"]
    response = post_form(supervisor, f"/staff/users/{colleague}/disable", {}, page="/staff/users")
    assert response.status_code == 303
    assert_flashed_without_personal_data(app, supervisor, *COLLEAGUE)
    supervisor.get("/staff/users")  # shows (and so takes) the message
    response = post_form(supervisor, f"/staff/users/{colleague}/enable", {}, page="/staff/users")
    assert response.status_code == 303
    assert_flashed_without_personal_data(app, supervisor, *COLLEAGUE)


def test_a_bulk_assignment_flashes_no_colleagues_name(app: Flask, committed: Runtime,
                                                      people: dict[str, int]) -> None:
    supervisor = signed_in(app, "sue@casework.test")
    reference = case_in_status(committed)
    with committed.sessions() as session:
        version = session.execute(select(Case.version).where(Case.reference == reference)).scalar_one()
    response = post_form(supervisor, "/staff/bulk", {"case": [f"{reference}:{version}"], "return": "/staff",
                                                     "action": "assign", "assignee": str(people["colleague"])},
                         page="/staff")
    assert response.status_code == 303
    [message] = assert_flashed_without_personal_data(app, supervisor, *COLLEAGUE)
    assert message.startswith("1 case assigned")
    assert COLLEAGUE[0] in supervisor.get("/staff").get_data(as_text=True)  # the queue shows whose it is


def test_sending_a_failed_email_again_flashes_no_address(app: Flask, committed: Runtime, filed: Filed,
                                                         people: dict[str, int]) -> None:
    casey = signed_in(app, "casey@casework.test")
    with writing(committed) as session:
        email_id = session.execute(select(OutboundEmail.id).where(OutboundEmail.case_id == filed.case_id,
                                                                  OutboundEmail.kind == "confirm_letter")).scalar_one()
        session.execute(update(OutboundEmail).where(OutboundEmail.id == email_id)
                        .values(status="failed", last_error="550 no such user"))
    response = act(casey, committed, filed, f"emails/{email_id}/retry")
    assert response.status_code == 303
    assert_flashed_without_personal_data(app, casey, "Ottoline")


def test_e_mailing_the_letter_again_flashes_no_address(app: Flask, committed: Runtime,
                                                       people: dict[str, int]) -> None:
    casey = signed_in(app, "casey@casework.test")
    sent = delivered(committed)
    response = act(casey, committed, sent, "letters/resend")
    assert response.status_code == 303
    assert_flashed_without_personal_data(app, casey)


def test_giving_a_case_to_a_colleague_flashes_no_name(app: Flask, committed: Runtime, filed: Filed,
                                                      people: dict[str, int]) -> None:
    supervisor = signed_in(app, "sue@casework.test")
    response = act(supervisor, committed, filed, "assign", {"assignee": str(people["colleague"])})
    assert response.status_code == 303
    assert_flashed_without_personal_data(app, supervisor, *COLLEAGUE)
    assert COLLEAGUE[0] in supervisor.get(f"/staff/cases/{filed.reference}").get_data(as_text=True)
