"""An ``.eml`` the file transport writes for a case erased while its send job ran does not stay in the outbox,
whichever comes first: erasure's commit and file removal, or the job's write."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from casework.cases.filing import file_case
from casework.cases.models import Case
from casework.db import utcnow
from casework.jobs.claimed import JobFailure, run_claimed
from casework.mail.jobs import Deliveries, SendEmail
from casework.mail.models import OutboundEmail
from casework.mail.services import queue_email
from casework.mail.transports import Accepted, FileTransport
from casework.privacy.erasure import erase_case
from casework.runtime import Runtime
from tests.support.factories import case_facts
from tests.support.writes import writing


def queued(runtime: Runtime) -> tuple[int, int, Path]:
    """A case and its consumer's e-mail, queued and not sent: (case id, e-mail id, its outbox file)."""
    with writing(runtime) as session:
        filed = file_case(session, case_facts(), runtime.settings.secret_key)
        case = session.get_one(Case, filed.case_id)
        case.email_confirmed_at = utcnow()
        email = queue_email(session, runtime.settings, key=f"test:{case.id}", kind="status_delivered",
                            to=[case.consumer_email], template="lost_link", context={"links": []}, now=utcnow(),
                            case_id=case.id)
        email_id, message_id = email.id, email.message_id
    return filed.case_id, email_id, FileTransport(runtime.settings.outbox).path_for(message_id)


def erase(runtime: Runtime, case_id: int) -> None:
    """The consumer's erasure: committed, and the outbox files of the case's e-mails removed after commit."""
    with writing(runtime) as session:
        assert erase_case(session, session.get_one(Case, case_id), "consumer_request", utcnow(),
                          outbox=runtime.settings.outbox)


class ErasedBeforeWriting(SendEmail):
    """Erasure runs after the job built the message under its claim and before the file is written."""

    def __init__(self, runtime: Runtime, deliveries: Deliveries, case_id: int) -> None:
        super().__init__(runtime, deliveries)
        self.case_id = case_id

    def work(self, job_id: int, prepared: Any) -> Accepted | JobFailure:
        erase(self.runtime, self.case_id)
        return super().work(job_id, prepared)


def test_erasure_between_the_claim_and_the_write_leaves_no_file(committed: Runtime) -> None:
    case_id, email_id, path = queued(committed)
    assert run_claimed(ErasedBeforeWriting(committed, {}, case_id), email_id) == "skipped"
    assert not path.exists()
    assert not list(committed.settings.outbox.glob("*.eml"))
    with committed.sessions() as session:
        assert session.get_one(OutboundEmail, email_id).status == "cancelled"


def test_erasure_between_the_write_and_the_check_leaves_no_file(committed: Runtime,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    case_id, email_id, path = queued(committed)
    write = FileTransport.send

    def write_then_erase(transport: FileTransport, message: EmailMessage) -> Accepted:
        accepted = write(transport, message)
        assert path.exists()
        erase(committed, case_id)
        return accepted

    monkeypatch.setattr(FileTransport, "send", write_then_erase)
    assert run_claimed(SendEmail(committed, {}), email_id) == "skipped"
    assert not path.exists()


def test_a_case_not_erased_keeps_its_file(committed: Runtime) -> None:
    _, email_id, path = queued(committed)
    assert run_claimed(SendEmail(committed, {}), email_id) == "sent"
    assert path.exists()
