"""Unconfirmed cases expire: after 7 days without the consumer's confirmation nothing was sent in their name
(nor anything but the confirmation e-mail to their address), so the case is closed and its personal data
deleted, keeping the anonymous record.

It lives with the rest of erasure (not in the workflow) because what it does is delete personal data.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from casework.cases.models import Case, ConfirmationCode
from casework.cases.states import Actor, CaseStatus, Outcome
from casework.cases.transitions import finish
from casework.db import utcnow, writing_session
from casework.letters.models import first_letter_before, has_cancellation_letter
from casework.privacy.erasure import erase_case
from casework.runtime import Runtime

UNCONFIRMED_LIFETIME = dt.timedelta(days=7)


def expire_unconfirmed(session: Session, now: dt.datetime, batch: int = 200, outbox: Path | None = None) -> int:
    """Cases never confirmed within 7 days: closed, personal data deleted, the anonymous record kept.

    Cases without a letter (app-store billing, a one-time purchase with no refund to ask for) confirm their
    e-mail address alone, with the code of their first e-mail: never confirmed 7 days after their first code
    (that e-mail's, or the letter's that corrected facts took away), they expire the same way. A case whose
    corrected facts first called for a letter later counts its 7 days from that letter. A case without a letter
    whose confirmed address was changed does not expire: it waits, sending nothing, for the new one's code.
    """
    cutoff = now - UNCONFIRMED_LIFETIME
    letter_case = and_(has_cancellation_letter(Case.id), first_letter_before(Case.id, cutoff))
    address_code_before = (select(ConfirmationCode.id)
                           .where(ConfirmationCode.case_id == Case.id, ConfirmationCode.created_at < cutoff)
                           .exists())
    # A case whose address was confirmed once and then changed waits for the new one: it was proven to be someone's.
    code_used = (select(ConfirmationCode.id)
                 .where(ConfirmationCode.case_id == Case.id, ConfirmationCode.used_at.is_not(None)).exists())
    no_letter_case = and_(~has_cancellation_letter(Case.id), Case.email_confirmed_at.is_(None), address_code_before,
                          ~code_used)
    cases = list(session.scalars(
        select(Case).where(Case.status == CaseStatus.NEW, Case.confirmed_at.is_(None),
                           Case.personal_data_deleted_at.is_(None), Case.created_at < cutoff,
                           or_(letter_case, no_letter_case))
        .order_by(Case.id).limit(batch)
    ))
    for case in cases:
        finish(session, case, CaseStatus.CLOSED, Outcome.WITHDRAWN, Actor.SYSTEM, "expired_unconfirmed", now)
        erase_case(session, case, "expired", now, outbox=outbox)
    return len(cases)


def run_expiry(runtime: Runtime) -> int:
    """Beat: expire unconfirmed cases, batch by batch, each batch its own transaction."""
    total = 0
    while True:
        with writing_session(runtime.sessions) as session, session.begin():
            done = expire_unconfirmed(session, utcnow(), outbox=runtime.settings.outbox)
        total += done
        if done == 0:
            return total
