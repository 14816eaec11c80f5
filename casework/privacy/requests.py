"""The consumer asks for their personal data to be deleted, and confirms it from their mailbox.

The request e-mails a code and a link to the case's address; the link opens a page with a button
that posts the code (opening it deletes nothing: mail scanners open links). Codes are stored as
HMACs, live a day and allow five attempts; a new request supersedes the earlier codes. An open case
is withdrawn first, so nothing more goes out in the consumer's name.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from casework.cases.confirmation import CodeRefused, check_code
from casework.cases.models import Case, CaseEvent
from casework.cases.references import CROCKFORD
from casework.cases.states import FINISHED, Actor
from casework.cases.tokens import status_link, token_hmac
from casework.cases.transitions import CaseConflict
from casework.cases.workflow import withdraw
from casework.config import Settings
from casework.mail.models import OutboundEmail
from casework.mail.sealed import remember
from casework.mail.services import queue_email
from casework.privacy.erasure import erase_case
from casework.privacy.models import ErasureCode

CODE_LIFETIME = dt.timedelta(days=1)
ERASURE_EMAIL = "erasure_code"
REQUESTED_ACTION = "erasure_requested"


def _issue_code(session: Session, case: Case, secret_key: str, now: dt.datetime) -> tuple[ErasureCode, str]:
    session.execute(
        update(ErasureCode)
        .where(ErasureCode.case_id == case.id, ErasureCode.used_at.is_(None), ErasureCode.superseded_at.is_(None))
        .values(superseded_at=now)
        .execution_options(synchronize_session=False)
    )
    code = "".join(secrets.choice(CROCKFORD) for _ in range(8))
    row = ErasureCode(case_id=case.id, code_hmac=token_hmac(secret_key, code), created_at=now,
                      expires_at=now + CODE_LIFETIME)
    session.add(row)
    session.flush()
    return row, remember(session, f"{code[:4]}-{code[4:]}")


def request_erasure(session: Session, settings: Settings, case: Case, now: dt.datetime) -> OutboundEmail:
    """E-mail a deletion code and the link to the page that confirms it (the worker sends it)."""
    if case.personal_data_deleted_at is not None:
        raise CaseConflict("The personal data of this case is already deleted.")
    row, code = _issue_code(session, case, settings.secret_key, now)
    status_url = status_link(session, settings, case)
    session.add(CaseEvent(case_id=case.id, at=now, actor=Actor.CONSUMER, action=REQUESTED_ACTION, data={}))
    return queue_email(
        session, settings, key=f"erasure:{row.id}", kind=ERASURE_EMAIL, to=[case.consumer_email],
        template=ERASURE_EMAIL,
        context={"case": case, "code": code, "erase_url": f"{status_url}/erase?code={code}",
                 "open": case.status not in FINISHED, "expires_at": row.expires_at.strftime("%d %B %Y, %H:%M UTC")},
        now=now, case_id=case.id,
    )


def _current_code(session: Session, case_id: int) -> ErasureCode | None:
    return session.execute(
        select(ErasureCode)
        .where(ErasureCode.case_id == case_id, ErasureCode.used_at.is_(None), ErasureCode.superseded_at.is_(None))
        .order_by(ErasureCode.id.desc()).limit(1).with_for_update()
    ).scalar_one_or_none()


def confirm_erasure(session: Session, settings: Settings, case: Case, code: str, now: dt.datetime) -> bool:
    """The consumer's code: withdraw an open case, then delete its personal data. False if already deleted.

    A wrong, expired or used-up code raises CodeRefused after counting the attempt; the caller commits
    either way, so the attempt counts.
    """
    if case.personal_data_deleted_at is not None:
        return False
    row = _current_code(session, case.id)
    if row is None:
        raise CodeRefused("There is no deletion code waiting for this case. Ask for one first.")
    check_code(row, code, settings.secret_key, now)
    if case.status not in FINISHED:
        withdraw(session, case, Actor.CONSUMER, now)
    return erase_case(session, case, "consumer_request", now, actor=Actor.CONSUMER, outbox=settings.outbox)
