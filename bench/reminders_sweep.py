"""The reminder sweep over 100,000 due reminders on PostgreSQL, with cases being filed meanwhile.

Generates cases and due reminders with bulk inserts, then times ``run_reminder_sweep`` (every reminder
becomes an e-mail row with its calendar entry, and a wake-up for the send job is published to the
broker; no worker runs, so nothing is sent). A second thread files cases one at a time for as long
as the sweep runs: the sweep locks only the reminder rows of its current batch, so filing should not
wait for it; the filings' latencies are reported. PostgreSQL only (``CASEWORK_BENCH_DATABASE_URL``,
and ``CASEWORK_BENCH_BROKER_URL`` for Redis); the database is emptied first.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from casework import create_app, migrate
from casework.cases.filing import assessment_of, file_case
from casework.cases.models import Case
from casework.cases.states import CaseStatus
from casework.reminders.models import Reminder
from casework.reminders.sweep import run_reminder_sweep
from casework.runtime import Runtime, runtime_of
from tests.conftest import reset_database
from tests.support.factories import case_facts

REMINDERS = int(os.environ.get("CASEWORK_BENCH_REMINDERS", "100000"))
PER_CASE = 5
CHUNK = 5000


def _generate(runtime: Runtime, now: dt.datetime) -> None:
    """Confirmed cases, each with ``PER_CASE`` reminders already due."""
    facts = case_facts()
    assessment = assessment_of(facts, now)
    cases = REMINDERS // PER_CASE
    with runtime.engine.begin() as connection:
        for start in range(0, cases, CHUNK):
            rows = [{
                "reference": f"BENCH-{i:09d}", "status": CaseStatus.READY, "consumer_name": facts.consumer_name,
                "consumer_email": f"consumer{i}@example.com", "country": facts.country, "timezone": facts.timezone,
                "language": facts.case_language(),
                "provider_slug": facts.provider, "plan_slug": facts.plan, "policy_version": "bench",
                "billing_channel": facts.billing_channel, "payment_date": facts.payment_date,
                "amount_value": facts.amount_value, "amount_currency": facts.amount_currency,
                "requested_outcome": facts.requested_outcome, "assessment": assessment, "consent_at": now,
                "confirmed_at": now, "email_confirmed_at": now, "created_at": now, "updated_at": now, "version": 1,
            } for i in range(start, min(start + CHUNK, cases))]
            connection.execute(insert(Case), rows)
        case_ids = list(connection.execute(select(Case.id).order_by(Case.id)).scalars())
        reminders = [{"case_id": case_id, "kind": "renewal", "deadline": dt.date(2026, 12, 20), "lead_days": lead,
                      "due_at": now - dt.timedelta(minutes=lead), "recipient": f"consumer{n}@example.com",
                      "status": "scheduled", "created_at": now}
                     for n, case_id in enumerate(case_ids) for lead in range(PER_CASE)]
        for start in range(0, len(reminders), CHUNK):
            connection.execute(insert(Reminder), reminders[start:start + CHUNK])


def _file_while(runtime: Runtime, running: threading.Event, latencies: list[float]) -> None:
    while running.is_set():
        started = time.perf_counter()
        with runtime.sessions.begin() as session:
            file_case(session, case_facts(), runtime.settings.secret_key)
        latencies.append(time.perf_counter() - started)
        time.sleep(0.05)


def _purge_queue(runtime: Runtime) -> None:
    """The wake-ups published here have no worker: drop the bench queue from the broker."""
    with runtime.dispatcher.client.connection_for_write() as connection:
        connection.default_channel.queue_purge(runtime.settings.queue_name)


def main() -> dict[str, Any]:
    url = os.environ.get("CASEWORK_BENCH_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        return {"benchmark": "reminders_sweep", "skipped": "needs PostgreSQL: set CASEWORK_BENCH_DATABASE_URL"}
    var_dir = Path(tempfile.mkdtemp(prefix="casework-bench-"))
    overrides: dict[str, Any] = {
        "env": "testing", "var_dir": var_dir, "database_url": url,
        "broker_url": os.environ.get("CASEWORK_BENCH_BROKER_URL") or f"sqla+sqlite:///{var_dir / 'broker.sqlite'}",
        "queue_name": f"casework-bench-{uuid.uuid4().hex[:8]}",
    }
    try:
        reset_database(url)
    except Exception as exc:  # no server to talk to: say so instead of failing the whole bench run
        return {"benchmark": "reminders_sweep", "skipped": f"PostgreSQL unreachable: {type(exc).__name__}"}
    migrate.upgrade(url)
    runtime = runtime_of(create_app(overrides))
    now = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    _generate(runtime, now)
    generated = time.perf_counter() - started
    running, latencies = threading.Event(), []
    running.set()
    filer = threading.Thread(target=_file_while, args=(runtime, running, latencies))
    filer.start()
    try:
        started = time.perf_counter()
        counts = run_reminder_sweep(runtime, now)
        seconds = time.perf_counter() - started
    finally:
        running.clear()
        filer.join()
    with runtime.sessions() as session:
        left = session.execute(select(func.count()).where(Reminder.status == "scheduled")).scalar_one()
    _purge_queue(runtime)
    runtime.engine.dispose()
    return {
        "benchmark": "reminders_sweep",
        "backend": "postgresql + " + overrides["broker_url"].split(":", 1)[0],
        "due_reminders": REMINDERS,
        "generate_seconds": round(generated, 2),
        "sweep": {**counts, "seconds": round(seconds, 2), "reminders_per_second": round(REMINDERS / seconds, 1),
                  "still_scheduled": left},
        "filing_during_sweep": {
            "cases": len(latencies),
            "median_seconds": round(statistics.median(latencies), 4) if latencies else None,
            "max_seconds": round(max(latencies), 4) if latencies else None,
        },
    }
