"""Thin tasks: take ids, call the casework job, let the job commit. Names are the dispatch contract."""

from __future__ import annotations

import logging

from casework.cases.clock import run_clock_sweep
from casework.cases.drafts import run_draft_expiry
from casework.cases.idempotency import run_purge
from casework.cases.status_counts import run_fold
from casework.cases.urgency_sweep import refresh_expired
from casework.db import utcnow
from casework.privacy.expiry import run_expiry
from casework.reminders.sweep import run_reminder_sweep
from worker.app import app, runtime
from worker.jobs import render_evidence_pack, render_letter, run_relay, send_email

_RENDER_LIMIT = int(runtime().settings.render_time_limit_seconds)
log = logging.getLogger("casework.worker")
_SEND_LIMIT = int(runtime().settings.smtp_timeout_seconds * 6) + 30


@app.task(name="letters.render", acks_late=True, soft_time_limit=_RENDER_LIMIT, time_limit=_RENDER_LIMIT + 30)
def render(letter_id: int) -> str:
    return render_letter(runtime(), letter_id)


@app.task(name="evidence.render_pack", acks_late=True, soft_time_limit=_RENDER_LIMIT,
          time_limit=_RENDER_LIMIT + 30)
def render_pack(pack_id: int) -> str:
    return render_evidence_pack(runtime(), pack_id)


@app.task(name="mail.send", acks_late=True, time_limit=_SEND_LIMIT)
def send(email_id: int) -> str:
    return send_email(runtime(), email_id)


@app.task(name="jobs.relay", acks_late=True, time_limit=120)
def relay() -> dict[str, int]:
    return run_relay(runtime())


@app.task(name="cases.expire_unconfirmed", acks_late=True, time_limit=600)
def expire_unconfirmed() -> int:
    return run_expiry(runtime())


@app.task(name="deadlines.sweep", acks_late=True, time_limit=600)
def deadlines_sweep() -> dict[str, int]:
    """Every minute: due consumer reminders, the company-answer clock (follow-ups and escalations), then the
    queue order of cases whose deadline day has gone by, the per-status counts folded together, the wizard
    drafts past their lifetime deleted and the Idempotency-Keys past their 24 hours purged."""
    counts = {f"reminders.{name}": value for name, value in run_reminder_sweep(runtime()).items()}
    counts.update({f"clock.{name}": value for name, value in run_clock_sweep(runtime()).items()})
    counts["queue.urgency_refreshed"] = refresh_expired(runtime(), utcnow())
    counts["queue.status_rows_folded"] = run_fold(runtime())
    counts["drafts.deleted"] = run_draft_expiry(runtime())
    counts["idempotency_keys.purged"] = run_purge(runtime())
    return counts
