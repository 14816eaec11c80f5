"""Cases filed per second over HTTP through gunicorn (2 workers) on PostgreSQL, beside a trivial JSON
endpoint of the same app measured in the same run (interleaved A B A B with wrk, 16 connections, rate
limits off). Also counts the SQL statements one filing makes, and the CPU time per request of the
gunicorn workers, PostgreSQL and Redis (from /proc), which is where the time goes.

Needs PostgreSQL and Redis (``CASEWORK_BENCH_DATABASE_URL`` / ``CASEWORK_BENCH_BROKER_URL``; defaults
to the local servers) and Debian's ``wrk``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import event

from casework import create_app, migrate
from casework.cases.filing import file_case
from casework.cases.intake import parse_case_request
from casework.db import utcnow
from casework.runtime import runtime_of
from tests.conftest import reset_database
from tests.support.smtp import free_port

DATABASE_URL = os.environ.get("CASEWORK_BENCH_DATABASE_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/casework_bench")
BROKER_URL = os.environ.get("CASEWORK_BENCH_BROKER_URL", "redis://127.0.0.1:6379/13")
SECONDS = int(os.environ.get("CASEWORK_BENCH_SECONDS", "8"))
CONNECTIONS = 16
BODY = {
    "provider": "coursera", "plan": "coursera-plus-annual", "billing_channel": "direct", "country": "AU",
    "payment_date": "2026-11-20", "amount": {"value": "599.00", "currency": "AUD"},
    "requested_outcome": "cancel_and_refund",
    "consumer": {"name": "Bench Consumer", "email": "bench@example.com"}, "consent": {"send_in_my_name": True},
}


def _wrk(url: str, script: Path | None, server_pid: int) -> dict[str, Any]:
    args = ["wrk", "--latency", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", url]
    if script is not None:
        args[1:1] = ["-s", str(script)]
    before = _cpu_seconds(server_pid)
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    after = _cpu_seconds(server_pid)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests_per_second": rps, "p50_ms": _ms(out, "50%"), "p99_ms": _ms(out, "99%"),
            "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
            "cpu_ms_per_request": {name: round((after[name] - before[name]) * 1000 / requests, 3) for name in after}}


def _cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU time (user + system) so far of the gunicorn workers, PostgreSQL and Redis, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = {"gunicorn_workers": 0.0, "postgresql": 0.0, "redis": 0.0}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        seconds = (int(fields[11]) + int(fields[12])) / tick
        if int(fields[1]) == server_pid:
            totals["gunicorn_workers"] += seconds
        elif name == "postgres":
            totals["postgresql"] += seconds
        elif name == "redis-server":
            totals["redis"] += seconds
    return totals


def _ms(out: str, label: str) -> float:
    value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 3)


def statements_per_filing(overrides: dict[str, Any]) -> int:
    runtime = runtime_of(create_app(overrides))
    count = 0

    def counted(*_: Any) -> None:
        nonlocal count
        count += 1

    facts = parse_case_request(json.dumps(BODY), utcnow())
    event.listen(runtime.engine, "before_cursor_execute", counted)
    with runtime.sessions.begin() as session:
        file_case(session, facts, runtime.settings.secret_key)
    event.remove(runtime.engine, "before_cursor_execute", counted)
    runtime.engine.dispose()
    return count


def main() -> dict[str, Any]:
    if shutil.which("wrk") is None:
        return {"benchmark": "intake", "skipped": "wrk is not installed (apt-get install -y wrk)"}
    try:
        reset_database(DATABASE_URL)
    except Exception as exc:
        return {"benchmark": "intake", "skipped": f"PostgreSQL is not reachable: {exc}"}
    migrate.upgrade(DATABASE_URL)
    var_dir = Path(tempfile.mkdtemp(prefix="casework-bench-intake-"))
    overrides = {"env": "development", "var_dir": var_dir, "database_url": DATABASE_URL, "broker_url": BROKER_URL,
                 "queue_name": f"casework-bench-{uuid.uuid4().hex[:8]}", "ratelimit_enabled": False}
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")}
    env.update({f"CASEWORK_{k.upper()}": str(v) for k, v in overrides.items()})
    port = free_port()
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    server = subprocess.Popen([gunicorn, "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
                               "casework:create_app()"], env=env, start_new_session=True)
    script = var_dir / "file.lua"
    script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                      f"wrk.body = [[{json.dumps(BODY)}]]\n")
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base)
        rounds = []
        for _ in range(2):  # A B A B
            trivial = _wrk(base + "/api/v1/providers", None, server.pid)
            filing = _wrk(base + "/api/v1/cases", script, server.pid)
            rounds.append({"trivial_get_providers": trivial, "file_case": filing})
    finally:
        server.terminate()
        server.wait(timeout=30)
    trivial_rps = statistics.median(r["trivial_get_providers"]["requests_per_second"] for r in rounds)
    filing_rps = statistics.median(r["file_case"]["requests_per_second"] for r in rounds)
    return {
        "benchmark": "intake",
        "server": "gunicorn, 2 workers; PostgreSQL; Redis broker",
        "connections": CONNECTIONS, "seconds_per_run": SECONDS, "rounds": rounds,
        "filing_per_second_median": filing_rps, "trivial_per_second_median": trivial_rps,
        "ratio": round(filing_rps / trivial_rps, 3),
        "filing_p99_ms_worst": max(r["file_case"]["p99_ms"] for r in rounds),
        "sql_statements_per_filing": statements_per_filing(overrides),
        "goal": "ratio >= 0.15 with p99 < 50 ms at 16 connections",
    }


def _wait(base: str) -> None:
    import urllib.request

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/api/v1/providers", timeout=2):  # noqa: S310 - local server
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")
