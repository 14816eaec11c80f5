"""Whether the consumer's case page waits on the worker, and a fingerprint of what the page shows.

While a letter is being written or e-mailed the page would otherwise say "come back later"; a small script
asks ``/c/<token>/progress`` now and then and refreshes the page once the fingerprint changes. The
fingerprint is a hash of what the page is drawn from, so it says nothing the private link does not already
show; a handful of indexed look-ups make it cheap enough to ask for every few seconds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casework.cases.delivery import delivery_channel
from casework.cases.models import Case, CaseEvent, Delivery
from casework.cases.states import INTERNAL_ACTIONS, BillingChannel, CaseStatus
from casework.cases.workflow import awaiting_approval
from casework.config import Settings
from casework.letters.models import Letter
from casework.letters.plan import letter_plan_for_case
from casework.letters.services import latest_letter
from casework.mail.models import OutboundEmail


@dataclasses.dataclass(frozen=True)
class Progress:
    version: str  # changes whenever what the case page shows changes
    pending: bool  # the page waits on work the worker does by itself (a letter written, an e-mail sent)


def waiting_on_worker(settings: Settings, case: Case, letter: Letter | None, any_failed_email: bool) -> bool:
    """The page's "we are preparing your letter" and "your letter is being e-mailed" states, and only those.

    Waiting for the consumer or a caseworker is not pending: nothing changes by itself within minutes.
    """
    if case.personal_data_deleted_at is not None or case.billing_channel is not BillingChannel.DIRECT:
        return False
    if case.status is CaseStatus.NEW:
        return letter_plan_for_case(case).letter and (letter is None or letter.status == "pending")
    if case.status is CaseStatus.READY and letter is not None:
        return (not awaiting_approval(settings, case) and not any_failed_email
                and delivery_channel(letter)[0] == "email")
    return False


def progress_of(session: Session, settings: Settings, case: Case) -> Progress:
    letters = [tuple(row) for row in session.execute(
        select(Letter.id, Letter.status).where(Letter.case_id == case.id).order_by(Letter.id))]
    failed = list(session.scalars(select(OutboundEmail.id).where(
        OutboundEmail.case_id == case.id, OutboundEmail.status == "failed").order_by(OutboundEmail.id)))
    last_event = session.scalar(select(func.max(CaseEvent.id)).where(
        CaseEvent.case_id == case.id, CaseEvent.action.not_in(INTERNAL_ACTIONS)))
    last_delivery = session.scalar(select(func.max(Delivery.id)).where(Delivery.case_id == case.id))
    shown = [case.status.value, case.outcome.value if case.outcome else None, case.merged_into_id,
             case.confirmed_at, case.delivery_approved_at, case.personal_data_deleted_at,
             letters, failed, last_event, last_delivery]
    version = hashlib.sha256(json.dumps(shown, default=str).encode()).hexdigest()[:20]
    pending = waiting_on_worker(settings, case, latest_letter(session, case.id), bool(failed))
    return Progress(version, pending)
