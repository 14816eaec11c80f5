"""Run pending job rows in this process, for page tests that need a letter, an e-mail or a pack done.

The worker tests prove the same jobs through a real Celery worker; here only the outcome matters.
"""

from __future__ import annotations

from sqlalchemy import select

from casework.evidence.models import StoredPack
from casework.letters.models import Letter
from casework.mail.models import OutboundEmail
from casework.runtime import Runtime
from worker.jobs import render_evidence_pack, render_letter, send_email


def run_pending_jobs(runtime: Runtime) -> None:
    for _ in range(20):
        with runtime.sessions() as session:
            letters = list(session.scalars(select(Letter.id).where(Letter.status == "pending")))
            emails = list(session.scalars(select(OutboundEmail.id).where(OutboundEmail.status == "pending")))
            packs = list(session.scalars(select(StoredPack.id).where(StoredPack.status == "pending")))
        if not letters and not emails and not packs:
            return
        for letter_id in letters:
            render_letter(runtime, letter_id)
        for email_id in emails:
            send_email(runtime, email_id)
        for pack_id in packs:
            render_evidence_pack(runtime, pack_id)
    raise AssertionError("jobs kept appearing")
