"""Filing to the consumer's e-mail in the outbox, through a real worker.

Measures, for cases filed one at a time, the time from the commit that files a case to the
``.eml`` file in the outbox (median, p95), and a burst of cases filed at once (cases per second);
then, with the worker sending through a local SMTP server (aiosmtpd), the time from filing to the
server accepting the consumer's e-mail, one case at a time (an idle worker).
Baseline, in the same run: rendering and composing the same letter in-process, with no broker
and no worker, i.e. the floor the queue adds to. Backend: the embedded default, or PostgreSQL +
Redis with ``CASEWORK_BENCH_DATABASE_URL`` / ``CASEWORK_BENCH_BROKER_URL``.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import select

from casework import create_app, migrate
from casework.cases.filing import file_case
from casework.letters.models import Letter
from casework.letters.render import renderer
from casework.mail.models import OutboundEmail
from casework.mail.transports import FileTransport
from casework.runtime import runtime_of
from tests.conftest import reset_database
from tests.support.factories import case_facts
from tests.support.smtp import SMTPServer
from tests.support.worker import WorkerProcess

SEQUENTIAL = int(os.environ.get("CASEWORK_BENCH_CASES", "20"))
BURST = int(os.environ.get("CASEWORK_BENCH_BURST", "40"))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 4), "p95": round(percentile(values, 0.95), 4),
            "max": round(max(values), 4)}


def main() -> dict[str, Any]:
    var_dir = Path(tempfile.mkdtemp(prefix="casework-bench-"))
    overrides: dict[str, Any] = {
        "env": "testing",
        "var_dir": var_dir,
        "database_url": os.environ.get("CASEWORK_BENCH_DATABASE_URL")
        or f"sqlite:///{var_dir / 'cw.sqlite'}",
        "broker_url": os.environ.get("CASEWORK_BENCH_BROKER_URL")
        or f"sqla+sqlite:///{var_dir / 'broker.sqlite'}",
        "queue_name": f"casework-bench-{uuid.uuid4().hex[:8]}",
        "relay_interval_seconds": 5,
        "relay_after_seconds": 30,
    }
    reset_database(overrides["database_url"])
    migrate.upgrade(overrides["database_url"])
    runtime = runtime_of(create_app(overrides))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")}
    env.update({f"CASEWORK_{k.upper()}": str(v) for k, v in overrides.items()})
    worker = WorkerProcess(env, var_dir, "bench", pool=("prefork", "--concurrency", "2"))
    worker.start()
    try:
        latencies = [_one_case(runtime) for _ in range(SEQUENTIAL)]
        burst_seconds = _burst(runtime, BURST)
        with runtime.sessions() as session:
            snapshot = session.execute(select(Letter.data_snapshot).limit(1)).scalar_one()
        baseline = [_in_process(snapshot, var_dir / "baseline") for _ in range(SEQUENTIAL)]
    finally:
        worker.kill()
    try:
        to_smtp = _smtp_phase(runtime, env, var_dir)
    finally:
        runtime.engine.dispose()
    return {
        "benchmark": "filing_to_outbox",
        "backend": runtime.engine.dialect.name + " + " + overrides["broker_url"].split(":", 1)[0],
        "cases": SEQUENTIAL,
        "filing_to_outbox_seconds": summary(latencies),
        "baseline_in_process_render_and_compose_seconds": summary(baseline),
        "ratio_median_to_baseline": round(statistics.median(latencies) / statistics.median(baseline), 2),
        "burst": {"cases": BURST, "seconds": round(burst_seconds, 3),
                  "cases_per_second": round(BURST / burst_seconds, 2)},
        "filing_to_smtp_accepted_seconds": summary(to_smtp),
        "goal": "filing to e-mail under 2 s median in the embedded mode",
    }


def _smtp_phase(runtime: Any, env: dict[str, str], var_dir: Path) -> list[float]:
    """Filing to the consumer's e-mail accepted by a local SMTP server, one case at a time."""
    server = SMTPServer()
    server.start()
    worker = WorkerProcess({**env, "CASEWORK_SMTP_URL": server.url}, var_dir, "bench-smtp",
                           pool=("prefork", "--concurrency", "2"))
    worker.start()
    try:
        return [_one_case_to_smtp(runtime, server) for _ in range(SEQUENTIAL)]
    finally:
        worker.kill()
        server.stop()


def _one_case_to_smtp(runtime: Any, server: SMTPServer) -> float:
    started = time.perf_counter()
    case_id = _file(runtime)
    deadline = started + 60
    while True:
        with runtime.sessions() as session:
            message_id = session.execute(
                select(OutboundEmail.message_id).where(OutboundEmail.case_id == case_id)
            ).scalar_one_or_none()
        if message_id is not None and any(m["Message-ID"] == message_id for m in server.messages):
            return time.perf_counter() - started
        if time.perf_counter() > deadline:
            raise RuntimeError(f"case {case_id} reached no SMTP server within 60 s")
        time.sleep(0.01)


def _file(runtime: Any) -> int:
    with runtime.sessions.begin() as session:
        return int(file_case(session, case_facts(), runtime.settings.secret_key).case_id)


def _in_outbox(runtime: Any, case_id: int) -> bool:
    with runtime.sessions() as session:
        message_id = session.execute(
            select(OutboundEmail.message_id).where(OutboundEmail.case_id == case_id)
        ).scalar_one_or_none()
    return message_id is not None and FileTransport(runtime.settings.outbox).path_for(message_id).exists()


def _one_case(runtime: Any) -> float:
    started = time.perf_counter()
    case_id = _file(runtime)
    deadline = started + 60
    while not _in_outbox(runtime, case_id):
        if time.perf_counter() > deadline:
            raise RuntimeError(f"case {case_id} produced no e-mail within 60 s")
        time.sleep(0.01)
    return time.perf_counter() - started


def _in_process(snapshot: dict[str, Any], scratch: Path) -> float:
    """The same letter rendered, attached to a message and written out, in this process."""
    started = time.perf_counter()
    rendered = renderer().render("cancellation", snapshot)
    message = EmailMessage()
    message["Message-ID"] = f"<{uuid.uuid4().hex}@bench.test>"
    message["Subject"] = "baseline"
    message.set_content("baseline")
    message.add_attachment(rendered.pdf, maintype="application", subtype="pdf", filename="letter.pdf")
    FileTransport(scratch).send(message)
    return time.perf_counter() - started


def _burst(runtime: Any, count: int) -> float:
    started = time.perf_counter()
    ids = [_file(runtime) for _ in range(count)]
    deadline = started + 300
    remaining = set(ids)
    while remaining:
        remaining = {case_id for case_id in remaining if not _in_outbox(runtime, case_id)}
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{len(remaining)} cases produced no e-mail within 300 s")
        time.sleep(0.05)
    return time.perf_counter() - started
