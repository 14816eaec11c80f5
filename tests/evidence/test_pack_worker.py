"""Evidence packs through a real Celery worker: a download never renders in the web process; the worker renders a
pack once, later downloads get the stored bytes, and a pack that no longer shows the whole case is never served."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import undefer
from werkzeug.test import TestResponse

import casework.evidence.views as evidence_views
from casework.cases.filing import file_case
from casework.cases.models import Case
from casework.cases.states import Actor, CaseStatus
from casework.cases.workflow import record_response
from casework.db import utcnow
from casework.evidence.models import StoredPack
from casework.letters.models import Letter
from casework.mail.models import OutboundEmail
from casework.runtime import Runtime
from casework.web import limiter
from tests.evidence.test_evidence import pdf_text, squeezed
from tests.support.factories import case_facts
from tests.support.today import days_ago
from tests.support.waiting import wait_for
from tests.support.writes import writing

pytestmark = pytest.mark.worker


@pytest.fixture
def client(app: Flask, committed: Runtime) -> Iterator[FlaskClient]:
    limiter.reset()
    with app.test_client() as test_client:
        yield test_client


def sent_case(runtime: Runtime) -> tuple[int, str]:
    """A filed case already delivered to the company (so it takes answers), once the worker is done with it."""
    with writing(runtime) as session:
        filed = file_case(session, case_facts(), runtime.settings.secret_key)
        case = session.get_one(Case, filed.case_id)
        case.status = CaseStatus.SENT
        case.confirmed_at = case.email_confirmed_at = utcnow()
    wait_for(lambda: quiet(runtime, filed.case_id), 60, "the letter and any e-mail it sends")
    return filed.case_id, filed.access_token


def quiet(runtime: Runtime, case_id: int) -> bool:
    with runtime.sessions() as session:
        letters = list(session.scalars(select(Letter.status).where(Letter.case_id == case_id)))
        emails = list(session.scalars(select(OutboundEmail.status).where(OutboundEmail.case_id == case_id)))
    return bool(letters) and "pending" not in letters + emails


def packs(runtime: Runtime) -> list[StoredPack]:
    with runtime.sessions() as session:
        return list(session.scalars(select(StoredPack).options(undefer(StoredPack.pdf), undefer(StoredPack.archive))
                                    .order_by(StoredPack.id)))


def rendered(runtime: Runtime) -> list[StoredPack]:
    return [pack for pack in packs(runtime) if pack.status == "rendered"]


class Renders:
    """Packs the worker rendered and stored since it started (a duplicate wake-up logs 'skipped' instead); its
    log file goes on from the earlier tests' workers of the same name."""

    def __init__(self, worker: Any) -> None:
        self.worker, self.start = worker, len(worker.log())

    def settled(self, expected: int) -> int:
        """The count once the worker has logged at least ``expected`` renders: a task's log line follows the commit
        that stored its pack, so it can lag behind what a test already read from the database."""
        def logged() -> int:
            count = self.count()
            return count if count >= expected else 0

        return wait_for(logged, 30, f"{expected} render(s) in the worker's log")

    def count(self) -> int:
        return sum(1 for line in self.worker.log()[self.start:].splitlines()
                   if "evidence.render_pack[" in line and "succeeded" in line and "'rendered'" in line)


def assert_preparing(response: TestResponse, back: str) -> None:
    assert response.status_code == 202, response.get_data(as_text=True)[:500]
    assert response.headers["Retry-After"].isdigit()
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "The evidence pack is being prepared" in page
    assert '<meta http-equiv="refresh"' in page
    assert f'href="{back}"' in page


def test_the_worker_renders_a_pack_once_and_the_next_downloads_get_the_stored_bytes(
    client: FlaskClient, committed: Runtime, start_worker: Any,
) -> None:
    renders = Renders(start_worker())
    case_id, token = sent_case(committed)
    url = f"/c/{token}/evidence.pdf"

    assert_preparing(client.get(url), f"/c/{token}")
    [pack] = wait_for(lambda: rendered(committed), 60, "the pack to be rendered")
    assert (pack.case_id, pack.attempts) == (case_id, 1)
    first = client.get(url)
    assert first.status_code == 200
    assert first.mimetype == "application/pdf"
    assert first.data == pack.pdf
    assert client.get(url).data == first.data  # stored, not made again (each render has its own time in it)
    archive = client.get(f"/c/{token}/evidence.zip")
    assert (archive.status_code, archive.mimetype, archive.data) == (200, "application/zip", pack.archive)
    assert [p.id for p in packs(committed)] == [pack.id]
    assert renders.settled(1) == 1

    # A new answer: the stored pack no longer shows the whole case, so it is never served again.
    with writing(committed) as session:
        record_response(session, session.get_one(Case, case_id), "refused", days_ago(1), "No refund, they said.",
                        Actor.CONSUMER, utcnow())
    assert_preparing(client.get(url), f"/c/{token}")
    [newer] = wait_for(lambda: [p for p in rendered(committed) if p.id != pack.id], 60, "the new pack")
    assert [p.id for p in packs(committed)] == [newer.id]  # the stale one went when the new one was stored
    again = client.get(url)
    assert again.status_code == 200
    assert again.data == newer.pdf != first.data
    assert "Norefund,theysaid." in squeezed(pdf_text(again.data))
    assert renders.settled(2) == 2


def test_concurrent_requests_for_the_same_pack_make_one_job(
    client: FlaskClient, app: Flask, committed: Runtime, start_worker: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    renders = Renders(start_worker())
    _, token = sent_case(committed)
    # Both requests have found no stored pack before either writes its job: the race the unique row settles.
    both_looked = threading.Barrier(2, timeout=30)
    queue = evidence_views.request_pack

    def after_both_looked(*args: Any, **kwargs: Any) -> int | None:
        both_looked.wait()
        return queue(*args, **kwargs)

    monkeypatch.setattr(evidence_views, "request_pack", after_both_looked)
    answers: list[int] = []

    def download() -> None:
        with app.test_client() as own:
            answers.append(own.get(f"/c/{token}/evidence.pdf").status_code)

    threads = [threading.Thread(target=download) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert answers == [202, 202]
    [pack] = wait_for(lambda: rendered(committed), 60, "the pack to be rendered")
    assert pack.attempts == 1
    assert len(packs(committed)) == 1
    assert client.get(f"/c/{token}/evidence.pdf").data == pack.pdf
    assert renders.settled(1) == 1
