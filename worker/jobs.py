"""The job functions, handed what finishing a job means for a case.

casework's job modules (``letters/jobs``, ``mail/jobs``, the relay) sit below the case lifecycle and never
import it; this is the one place that hands them the lifecycle's steps and the job tables. The Celery tasks
use it, and so does anything else that runs jobs in its own process (tests, benchmarks). It imports no Celery
app, so importing it starts nothing.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from casework.cases.delivery import LETTER_TO_COMPANY
from casework.cases.workflow import after_letter_rendered, record_email_delivery
from casework.evidence import jobs as pack_jobs
from casework.evidence.models import StoredPack
from casework.evidence.stored import PACK_TASK
from casework.jobs import relay
from casework.jobs.relay import JobKind
from casework.letters import jobs as letter_jobs
from casework.letters.models import Letter
from casework.letters.services import RENDER_TASK
from casework.mail import jobs as mail_jobs
from casework.mail.models import OutboundEmail
from casework.mail.services import SEND_TASK
from casework.runtime import Runtime

JOB_KINDS = (JobKind(Letter, RENDER_TASK), JobKind(OutboundEmail, SEND_TASK), JobKind(StoredPack, PACK_TASK))
# The letter e-mailed to the company is its delivery: the company's server accepting it moves the case on.
DELIVERIES: mail_jobs.Deliveries = {LETTER_TO_COMPANY: record_email_delivery}


def render_letter(runtime: Runtime, letter_id: int) -> str:
    return letter_jobs.render_letter(runtime, letter_id, after_letter_rendered)


def render_evidence_pack(runtime: Runtime, pack_id: int) -> str:
    return pack_jobs.render_evidence_pack(runtime, pack_id)


def send_email(runtime: Runtime, email_id: int) -> str:
    return mail_jobs.send_email(runtime, email_id, DELIVERIES)


def relay_due(session: Session, relay_after_seconds: float, now: dt.datetime | None = None) -> dict[str, int]:
    return relay.relay_due(session, JOB_KINDS, relay_after_seconds, now)


def run_relay(runtime: Runtime) -> dict[str, int]:
    return relay.run_relay(runtime, JOB_KINDS)
