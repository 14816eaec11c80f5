"""Load: cases filed over HTTP at a steady rate while the workers render and send, everything real.

The app runs under gunicorn on PostgreSQL and Redis (rate limits off), with Celery workers and one beat started
as the Procfile starts them, and an SMTP server (aiosmtpd, in this process) that timestamps every message it
accepts. Each case goes the whole way a consumer's case goes: filed with ``POST /api/v1/cases``, its letter
rendered and e-mailed to the consumer with a code, confirmed with that code as soon as the e-mail arrives
(``POST /api/v1/cases/{reference}/confirm``), then e-mailed to the company. The letter lag of a case runs from
its filing request to the company's e-mail accepted by the SMTP server.

The load is open-loop: filings start on schedule from a pool of client threads whatever the answers take, and
latency is counted from the scheduled start, so a slow server cannot lower the offered rate unnoticed. Short
steps at increasing rates find the highest rate whose letter lag stays under the limit (then bisection), and the
rate found is confirmed over the full duration. A step passes when every letter arrived, none later than the
limit, and the lag's trend projected over the full duration stays under it too (a short step hides a slowly
growing queue). After each step the backlog drains before the next one starts.

Baseline, in the same run because the machine is shared: ``GET /healthz`` and ``GET /api/v1/providers`` (a
trivial read) on the same server while idle, probed every 2 s as during the load (healthz re-checks the broker
and the SMTP server every 5 s, so its latency depends on the cadence), and one letter of this run rendered in this
process; the report gives the ratios.

Settings (``CASEWORK_BENCH_LOAD_…``): ``QUICK=1`` (a smoke run: 8-s steps at 0.5 and 1 case/s, no bisection,
15 s of confirmation, so its "highest rate" is only a lower bound), ``SECONDS`` (300, the
confirmation run), ``STEP_SECONDS`` (60), ``RATES`` ("0.25,0.5,1,2,4,8" cases/s), ``BISECTIONS`` (3), ``RATE``
(one fixed rate for ``SECONDS``: no search), ``LAG_LIMIT_SECONDS`` (60), ``WORKERS`` (1 Celery worker process)
with ``CONCURRENCY`` (2, as the Procfile), ``WEB_WORKERS`` (2 gunicorn workers), ``CLIENTS`` (64 client threads),
``DRAIN_SECONDS`` (600, the longest wait for a step's letters), ``BASELINE_ROUNDS`` (30 idle probes
before and 30 after, 2 s apart), ``DATABASE_URL`` (its name must contain "bench"; emptied), ``BROKER_URL`` (Redis db 6;
emptied). Progress goes to stderr, the JSON to stdout.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.policy
import http.client
import json
import os
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiosmtpd.controller import Controller
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from casework import migrate
from casework.letters.render import renderer
from tests.conftest import reset_database
from tests.support.smtp import free_port

QUICK = os.environ.get("CASEWORK_BENCH_LOAD_QUICK", "") not in ("", "0")


def _setting(name: str, full: str, quick: str) -> str:
    return os.environ.get(f"CASEWORK_BENCH_LOAD_{name}", quick if QUICK else full)


DATABASE_URL = _setting("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/casework_bench_load",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/casework_bench_load")
BROKER_URL = _setting("BROKER_URL", "redis://127.0.0.1:6379/6", "redis://127.0.0.1:6379/6")
SECONDS = float(_setting("SECONDS", "300", "15"))
STEP_SECONDS = float(_setting("STEP_SECONDS", "60", "8"))
RATES = [float(r) for r in _setting("RATES", "0.25,0.5,1,2,4,8", "0.5,1").split(",") if r.strip()]
BISECTIONS = int(_setting("BISECTIONS", "3", "0"))
FIXED_RATE = float(_setting("RATE", "0", "0")) or None
LAG_LIMIT = float(_setting("LAG_LIMIT_SECONDS", "60", "60"))
WORKERS = int(_setting("WORKERS", "1", "1"))
CONCURRENCY = int(_setting("CONCURRENCY", "2", "2"))
WEB_WORKERS = int(_setting("WEB_WORKERS", "2", "2"))
CLIENTS = int(_setting("CLIENTS", "64", "64"))
DRAIN_SECONDS = float(_setting("DRAIN_SECONDS", "600", "120"))
CONFIRMATIONS = 2  # a failed confirmation steps down once and confirms again
STEP_DOWN = 0.8
BASELINE_ROUNDS = int(_setting("BASELINE_ROUNDS", "30", "5"))
PROBE_SECONDS = 2.0  # healthz re-checks broker and SMTP every 5 s: idle and loaded probes keep one cadence
PROBES = {"healthz": "/healthz", "providers": "/api/v1/providers"}
RENDER_ROUNDS = 10
HTTP_TIMEOUT = 120.0
COMPANY_EMAIL = "notices@acme-streaming.example"
SECRET_KEY = "bench-load-secret-key-not-for-production-use-0001"  # noqa: S105 - a throwaway database
REFERENCE = re.compile(r"CW-\d{4}-[0-9A-Z]{8}")
CODE = re.compile(r"Your confirmation code is ([0-9A-Z-]+)")


def log(message: str) -> None:
    print(f"[load {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load_average() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(values: list[float], digits: int = 1) -> dict[str, float] | None:
    if not values:
        return None
    return {"p50": round(statistics.median(values), digits), "p95": round(percentile(values, 0.95), digits),
            "max": round(max(values), digits), "n": len(values)}


# --- one case, as the bench sees it ---------------------------------------------------------------------------


@dataclass
class Filing:
    """The timeline of one case, in ``time.monotonic()`` seconds of this process."""

    n: int
    email: str
    scheduled: float
    started: float | None = None
    answered: float | None = None
    status: int | None = None
    error: str | None = None
    reference: str | None = None
    token: str | None = None
    code: str | None = None
    confirmation_mail: float | None = None
    confirm_started: float | None = None
    confirm_answered: float | None = None
    confirm_status: int | None = None
    company_mail: float | None = None
    delivered_notice: float | None = None

    @property
    def filed(self) -> bool:
        return self.status == 201

    @property
    def lag(self) -> float | None:
        return None if self.company_mail is None else self.company_mail - self.scheduled


def case_body(filing: Filing, today: dt.date) -> dict[str, Any]:
    """A consumer of a company outside the catalog that takes notices by e-mail (so the service sends it)."""
    return {
        "provider": "other", "plan": "other-monthly", "billing_channel": "direct", "country": "AU",
        "timezone": "Australia/Melbourne", "payment_date": (today - dt.timedelta(days=3)).isoformat(),
        "amount": {"value": "29.99", "currency": "AUD"}, "requested_outcome": "cancel_and_refund",
        "consumer": {"name": f"Load Consumer {filing.n}", "email": filing.email,
                     "postal_address": "12 Example Street\nBrunswick VIC 3056", "phone": None},
        "account_identifier": filing.email, "details": "Cancelled in the app; charged again the next month.",
        "company": {"name": "Acme Streaming", "email": COMPANY_EMAIL},
        "consent": {"send_in_my_name": True},
    }


def call(port: int, method: str, path: str, body: Any = None,
         headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One request on its own connection, as separate consumers make them."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
    try:
        sent = {"Content-Type": "application/json", "Accept": "application/json", **(headers or {})}
        connection.request(method, path, body=None if body is None else json.dumps(body), headers=sent)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class Consumers:
    """Files cases on schedule and confirms each one when its code arrives, from one pool of client threads."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.pool = ThreadPoolExecutor(CLIENTS, thread_name_prefix="consumer")
        self.lock = threading.Lock()
        self.by_email: dict[str, Filing] = {}
        self.count = 0
        self.run_tag = uuid.uuid4().hex[:6]
        self.unmatched: list[str] = []
        self.messages: dict[str, int] = {}

    def new_filing(self, scheduled: float) -> Filing:
        with self.lock:
            self.count += 1
            filing = Filing(self.count, f"load-{self.run_tag}-{self.count}@consumer.example", scheduled)
            self.by_email[filing.email] = filing
        return filing

    def file(self, filing: Filing, today: dt.date) -> None:
        filing.started = time.monotonic()
        try:
            status, data = call(self.port, "POST", "/api/v1/cases", case_body(filing, today))
        except OSError as exc:
            filing.answered, filing.error = time.monotonic(), f"{type(exc).__name__}: {exc}"
            return
        filing.answered, filing.status = time.monotonic(), status
        if status != 201:
            filing.error = f"{status} {data[:200]!r}"
            return
        answer = json.loads(data)
        with self.lock:
            filing.reference, filing.token = answer["reference"], answer["access_token"]
            ready = filing.code is not None and filing.confirm_started is None
            if ready:
                filing.confirm_started = time.monotonic()
        if ready:
            self.confirm(filing)

    def confirm(self, filing: Filing) -> None:
        try:
            status, data = call(self.port, "POST", f"/api/v1/cases/{filing.reference}/confirm",
                                {"code": filing.code}, {"Authorization": f"Bearer {filing.token}"})
        except OSError as exc:
            filing.confirm_answered, filing.error = time.monotonic(), f"confirm: {type(exc).__name__}: {exc}"
            return
        filing.confirm_answered, filing.confirm_status = time.monotonic(), status
        if status != 200:
            filing.error = f"confirm: {status} {data[:200]!r}"

    def accepted(self, at: float, content: bytes) -> None:
        """Called by the SMTP server for every message it accepts (its event loop: nothing slow here)."""
        headers = BytesHeaderParser(policy=email.policy.default).parsebytes(content)
        to, cc, subject = (str(headers.get(name, "")).strip() for name in ("To", "Cc", "Subject"))
        kind = ("company" if to == COMPANY_EMAIL else "confirmation" if subject.startswith("Please confirm")
                else "delivered" if " was delivered " in subject else "other")
        with self.lock:
            self.messages[kind] = self.messages.get(kind, 0) + 1
            filing = self.by_email.get(cc if kind == "company" else to)
            if filing is None:
                self.unmatched.append(f"{kind}: {subject[:120]}")
                return
            if kind == "company" and filing.company_mail is None:
                filing.company_mail = at
            elif kind == "delivered" and filing.delivered_notice is None:
                filing.delivered_notice = at
            if kind != "confirmation" or filing.confirmation_mail is not None:
                return
            filing.confirmation_mail = at
            found = CODE.search(_plain_text(content))
            if found is None:
                self.unmatched.append(f"confirmation without a code: {subject[:120]}")
                return
            filing.code = found.group(1)
            ready = filing.token is not None and filing.confirm_started is None
            if ready:
                filing.confirm_started = time.monotonic()
        if ready:
            self.pool.submit(self.confirm, filing)


def _plain_text(content: bytes) -> str:
    message = email.message_from_bytes(content, policy=email.policy.default)
    body = message.get_body(preferencelist=("plain",))
    return str(body.get_content()) if body is not None else ""


class _SinkHandler:
    def __init__(self, consumers: Consumers) -> None:
        self.consumers = consumers

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.consumers.accepted(time.monotonic(), envelope.content)
        return "250 Message accepted for delivery"


# --- processes and their CPU ----------------------------------------------------------------------------------


class Stack:
    """gunicorn, the Celery workers and beat, each in its own process group, with logs under ``var_dir``."""

    def __init__(self, env: dict[str, str], var_dir: Path, port: int) -> None:
        self.env, self.var_dir, self.port = env, var_dir, port
        self.web: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.beat: subprocess.Popen[bytes] | None = None
        self.commands: dict[str, str] = {}

    def _start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        self.commands[name] = shlex.join(args)
        with (self.var_dir / f"{name}.log").open("ab") as out:
            return subprocess.Popen(args, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, cwd=Path(__file__).resolve().parents[1])

    def start(self) -> None:
        bin_dir = Path(sys.executable).parent
        queue = self.env["CASEWORK_QUEUE_NAME"]
        self.web = self._start("web", [str(bin_dir / "gunicorn"), "-w", str(WEB_WORKERS), "-b",
                                       f"127.0.0.1:{self.port}", "--log-level", "warning", "casework:create_app()"])
        for n in range(WORKERS):
            self.workers.append(self._start(f"worker{n}", [
                str(bin_dir / "celery"), "-A", "worker.app", "worker", "--loglevel", "INFO", "--concurrency",
                str(CONCURRENCY), "--without-mingle", "--without-gossip", "--without-heartbeat", "-Q", queue,
                "-n", f"load{n}-{os.getpid()}@%h"]))
        self.beat = self._start("beat", [str(bin_dir / "celery"), "-A", "worker.app", "beat", "--loglevel", "INFO",
                                         "--schedule", str(self.var_dir / "celerybeat-schedule")])
        deadline = time.monotonic() + 90
        waiting = {f"worker{n}" for n in range(WORKERS)}
        while waiting or not self._web_up():
            if time.monotonic() > deadline:
                raise RuntimeError(f"not started in 90 s: {sorted(waiting) or ['web']}")
            for process in [self.web, *self.workers, self.beat]:
                if process is not None and process.poll() is not None:
                    raise RuntimeError(f"{process.args!r} exited early; logs in {self.var_dir}")
            waiting = {name for name in waiting if " ready." not in self.log(name)}
            time.sleep(0.2)

    def _web_up(self) -> bool:
        try:
            return call(self.port, "GET", "/healthz")[0] == 200
        except OSError:
            return False

    def log(self, name: str) -> str:
        path = self.var_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM each group (workers finish their task), SIGKILL what is left after 30 s."""
        processes = [p for p in [self.web, *self.workers, self.beat] if p is not None]
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def groups(self) -> dict[str, list[int]]:
        return {"web": [self.web.pid] if self.web else [],
                "workers": [p.pid for p in self.workers] + ([self.beat.pid] if self.beat else [])}


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()


def _children_cpu() -> dict[int, float]:
    """CPU seconds of every process, keyed by its parent's pid (summed): the live children of each parent."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            found[int(fields[1])] = found.get(int(fields[1]), 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return found


def _tree_cpu(pid: int, children: dict[int, float]) -> float:
    """A parent's own CPU, its reaped children's (cutime, cstime) and its live children's."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    own = sum(int(fields[i]) for i in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK")
    return own + children.get(pid, 0.0)


class CpuMeter:
    """CPU seconds so far of the web, the workers (with beat), the backends of this database, and us.

    The backends of this database are found in ``pg_stat_activity`` once a second; a backend counts from the
    first time it is seen (pooled connections live through the run, so little is missed). PostgreSQL's other
    processes are left out: on a shared machine they mostly work for other databases."""

    def __init__(self, stack: Stack, engine: Engine) -> None:
        self.stack, self.engine = stack, engine
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        with self.engine.connect() as connection:
            while not self.stop.is_set():
                pids = connection.execute(text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()")).scalars().all()
                connection.commit()
                for pid in pids:
                    fields = _stat(int(pid))
                    if fields is not None:
                        seconds = (int(fields[11]) + int(fields[12])) / tick
                        with self.lock:
                            self.first.setdefault(int(pid), seconds)
                            self.last[int(pid)] = seconds
                self.stop.wait(1.0)

    def sample(self) -> dict[str, float]:
        children = _children_cpu()
        with self.lock:
            backends = sum(self.last[pid] - self.first[pid] for pid in self.last)
        times = os.times()
        out = {name: sum(_tree_cpu(pid, children) for pid in pids) for name, pids in self.stack.groups().items()}
        return {**out, "postgresql": backends, "bench_clients_and_smtp_server": times.user + times.system}


# --- one step at one rate -----------------------------------------------------------------------------------


class Run:
    """The stack, the SMTP server, the consumers and the meters of one benchmark run."""

    def __init__(self, consumers: Consumers, stack: Stack, engine: Engine, meter: CpuMeter) -> None:
        self.consumers, self.stack, self.engine, self.meter = consumers, stack, engine, meter
        self.steps: list[dict[str, Any]] = []

    def step(self, rate: float, seconds: float, label: str) -> dict[str, Any]:
        backlog = self.drain(self.every_filing())
        if backlog:
            log(f"{label}: {backlog} earlier cases still wait for their letter; this step is not clean")
        log(f"{label}: {rate:g} cases/s for {seconds:g} s (load average {load_average()})")
        cpu_before, wall_start, load_before = self.meter.sample(), utc_now(), load_average()
        filings, offered_for, stopped = self._offer(rate, seconds)
        drained = self.drain(filings) == 0
        cpu_after = self.meter.sample()
        result = self._summarise(rate, seconds, label, filings, offered_for, stopped, drained,
                                 {k: cpu_after[k] - cpu_before[k] for k in cpu_after}, wall_start)
        result["load_average"] = {"before": load_before, "after": load_average()}
        result["backlog_at_start"] = backlog
        result["passed"] = result["passed"] and not backlog
        lag = result["letter_lag_s"]
        log(f"{label}: {'PASSED' if result['passed'] else 'failed'}; filed {result['filings']['filed']}, "
            f"lag {lag}, outstanding {result['letters_outstanding']}")
        self.steps.append(result)
        return result

    def _offer(self, rate: float, seconds: float) -> tuple[list[Filing], float, str | None]:
        """Start filings at ``start + i / rate`` until ``seconds`` pass, whatever the answers take; stop early
        once a case waits longer than the lag limit for its letter (the step has failed)."""
        today = dt.datetime.now(ZoneInfo("Australia/Melbourne")).date()
        filings: list[Filing] = []
        probed: dict[str, list[float]] = {name: [] for name in PROBES}
        probing = threading.Event()
        prober = threading.Thread(target=probe, args=(self.consumers.port, probed, probing), daemon=True)
        prober.start()
        start = time.monotonic()
        stopped: str | None = None
        i = 0
        while True:
            at = start + i / rate
            if at - start >= seconds:
                break
            now = time.monotonic()
            if at > now:
                time.sleep(at - now)
            late = [f for f in filings if f.company_mail is None and time.monotonic() - f.scheduled > LAG_LIMIT]
            if late:
                stopped = f"case {late[0].n} waited over {LAG_LIMIT:g} s for its letter"
                break
            filing = self.consumers.new_filing(at)
            filings.append(filing)
            self.consumers.pool.submit(self.consumers.file, filing, today)
            i += 1
        offered_for = time.monotonic() - start
        probing.set()
        prober.join()
        self._probed_under_load = probed
        return filings, offered_for, stopped

    def every_filing(self) -> list[Filing]:
        with self.consumers.lock:
            return list(self.consumers.by_email.values())

    def drain(self, filings: list[Filing]) -> int:
        """Wait until every filed case's letter reached the company, or the drain time is up: how many still wait
        (a case whose filing or confirmation was refused waits for nothing)."""
        deadline = time.monotonic() + DRAIN_SECONDS
        while True:
            waiting = [f for f in filings if f.answered is None or (f.filed and f.company_mail is None
                                                                    and f.error is None)]
            if not waiting or time.monotonic() > deadline:
                return len(waiting)
            time.sleep(0.5)

    def _summarise(self, rate: float, seconds: float, label: str, filings: list[Filing], offered_for: float,
                   stopped: str | None, drained: bool, cpu: dict[str, float],
                   wall_start: dt.datetime) -> dict[str, Any]:
        filed = [f for f in filings if f.filed]
        first = filings[0].scheduled if filings else time.monotonic()
        last_answer = max((f.answered for f in filed if f.answered), default=first)
        lags = [f.lag for f in filed if f.lag is not None]
        outstanding = [f for f in filed if f.company_mail is None]
        errors: dict[str, int] = {}
        for f in filings:
            if f.error:
                key = f.error[:80]
                errors[key] = errors.get(key, 0) + 1
        trend, projected = _lag_trend([(f.scheduled - first, f.lag) for f in filed if f.lag is not None])
        delivered_at = [f.company_mail for f in filed if f.company_mail is not None]
        passed = (bool(filed) and not stopped and not outstanding and len(filed) == len(filings)
                  and max(lags, default=0.0) < LAG_LIMIT and projected < LAG_LIMIT)
        return {
            "label": label, "rate_offered": rate, "seconds_planned": seconds,
            "seconds_offered": round(offered_for, 1), "stopped_early": stopped, "drained": drained,
            "filings": {"scheduled": len(filings), "filed": len(filed), "errors": errors},
            "rate_achieved": round(len(filed) / max(last_answer - first, 1e-9), 3) if filed else 0.0,
            "filing_latency_ms": summary([(f.answered - f.scheduled) * 1000 for f in filed if f.answered]),
            "client_start_delay_ms": summary([(f.started - f.scheduled) * 1000 for f in filings if f.started]),
            "confirm_latency_ms": summary([(f.confirm_answered - f.confirm_started) * 1000 for f in filed
                                           if f.confirm_answered and f.confirm_started]),
            "letter_lag_s": summary(lags, 2), "letters_outstanding": len(outstanding),
            "lag_trend_s_per_s": round(trend, 4), "lag_projected_at_full_duration_s": round(projected, 2),
            "stages_s": {
                "filing_to_confirmation_email": summary([f.confirmation_mail - f.scheduled for f in filed
                                                         if f.confirmation_mail], 2),
                "confirmation_email_to_confirmed": summary([f.confirm_answered - f.confirmation_mail for f in filed
                                                            if f.confirm_answered and f.confirmation_mail], 2),
                "confirmed_to_company_email": summary([f.company_mail - f.confirm_answered for f in filed
                                                       if f.company_mail and f.confirm_answered], 2),
            },
            "letters_delivered_per_second": round(len(delivered_at) / max(max(delivered_at) - first, 1e-9), 3)
            if delivered_at else 0.0,
            "probes_under_load_ms": {name: summary(times) for name, times in self._probed_under_load.items()},
            "worker_throughput_per_minute": self._throughput([f.reference for f in filed if f.reference],
                                                             wall_start),
            "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()},
            "cpu_seconds_per_filed_case": {k: round(v / max(len(filed), 1), 4) for k, v in cpu.items()},
            "passed": passed,
        }

    _probed_under_load: dict[str, list[float]]

    def _throughput(self, references: list[str], wall_start: dt.datetime) -> dict[str, Any]:
        """Letters rendered and e-mails sent for this step's cases, per minute from the step's start to the last."""
        with self.engine.connect() as connection:
            letters = connection.execute(text(
                "SELECT count(*), max(l.rendered_at) FROM letters l JOIN cases c ON c.id = l.case_id "
                "WHERE c.reference = ANY(:refs) AND l.status = 'rendered'"), {"refs": references}).one()
            mails = connection.execute(text(
                "SELECT count(*), max(m.sent_at) FROM outbound_emails m JOIN cases c ON c.id = m.case_id "
                "WHERE c.reference = ANY(:refs) AND m.status = 'sent'"), {"refs": references}).one()

        def per_minute(count: int, last: dt.datetime | None) -> float | None:
            if not count or last is None:
                return None
            return round(count * 60 / max((_aware(last) - wall_start).total_seconds(), 1e-9), 1)

        return {"letters_rendered": letters[0], "letters_rendered_per_minute": per_minute(letters[0], letters[1]),
                "emails_sent": mails[0], "emails_sent_per_minute": per_minute(mails[0], mails[1])}


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _lag_trend(points: list[tuple[float, float]]) -> tuple[float, float]:
    """The least-squares slope of lag against filing time, and the lag that line reaches at the full duration."""
    if len(points) < 3:
        return 0.0, max((lag for _, lag in points), default=0.0)
    xs, ys = [x for x, _ in points], [y for _, y in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0
    return slope, mean_y + slope * (SECONDS - mean_x)


# --- the search -----------------------------------------------------------------------------------------------


def search(run: Run) -> dict[str, Any]:
    """Rates upward until one fails, bisection between the last that passed and the first that failed, then
    the rate found over the full duration (one step down and again if that fails)."""
    if FIXED_RATE:
        fixed = run.step(FIXED_RATE, SECONDS, "fixed")
        verdict = "kept" if fixed["passed"] else "did not keep"
        return {"rate": FIXED_RATE if fixed["passed"] else None, "confirmed": fixed["passed"], "run": fixed,
                "note": f"one fixed rate, no search: {FIXED_RATE:g}/s {verdict} the letter lag under {LAG_LIMIT:g} s"}
    good: float | None = None
    bad: float | None = None
    for rate in RATES:
        if run.step(rate, STEP_SECONDS, "search")["passed"]:
            good = rate
        else:
            bad = rate
            break
    for _ in range(BISECTIONS):
        if bad is None:
            break
        rate = round((good + bad) / 2 if good is not None else bad / 2, 3)
        if run.step(rate, STEP_SECONDS, "bisect")["passed"]:
            good = rate
        else:
            bad = rate
    if good is None:
        return {"rate": None, "confirmed": False, "run": None,
                "note": f"no rate tried kept the letter lag under {LAG_LIMIT:g} s"}
    result: dict[str, Any] = {}
    for attempt in range(CONFIRMATIONS):
        result = run.step(good, SECONDS, "confirm")
        if result["passed"] or attempt == CONFIRMATIONS - 1:
            break
        good = round(good * STEP_DOWN, 3)
    note = None if bad is not None else f"every rate tried passed; the highest, {good:g}/s, is a lower bound"
    return {"rate": good, "confirmed": result["passed"], "run": result, "note": note}


# --- baselines ------------------------------------------------------------------------------------------------


def probe(port: int, times: dict[str, list[float]], done: threading.Event, rounds: int | None = None) -> None:
    """Every PROBE_SECONDS, each of PROBES once (milliseconds of the answers that were 200), until ``done`` is set
    or ``rounds`` have been made."""
    made = 0
    while not done.wait(PROBE_SECONDS) and (rounds is None or made < rounds):
        made += 1
        for name, path in PROBES.items():
            started = time.monotonic()
            with contextlib.suppress(OSError):
                if call(port, "GET", path)[0] == 200:
                    times[name].append((time.monotonic() - started) * 1000)


def idle_probes(port: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in PROBES}
    probe(port, times, threading.Event(), BASELINE_ROUNDS)
    return times


def render_in_process(engine: Engine) -> dict[str, Any]:
    """One letter of this run rendered here with the worker's renderer (warm), RENDER_ROUNDS times."""
    with engine.connect() as connection:
        row = connection.execute(text(
            "SELECT kind, data_snapshot FROM letters WHERE status = 'rendered' ORDER BY id LIMIT 1")).first()
    if row is None:
        return {"skipped": "no letter was rendered"}
    kind, snapshot = str(row[0]), dict(row[1])
    render = renderer()
    render.render(kind, snapshot)
    times = []
    for _ in range(RENDER_ROUNDS):
        started = time.monotonic()
        render.render(kind, snapshot)
        times.append((time.monotonic() - started) * 1000)
    return {"ms": summary(times), "load_average": load_average()}


# --- integrity: nothing lost, nothing stuck -------------------------------------------------------------------


def integrity(engine: Engine, consumers: Consumers) -> dict[str, Any]:
    with engine.connect() as connection:
        letters: dict[str, int] = {str(s): int(n) for s, n in connection.execute(text(
            "SELECT status, count(*) FROM letters GROUP BY status"))}
        mails = {f"{kind}:{status}": n for kind, status, n in connection.execute(text(
            "SELECT kind, status, count(*) FROM outbound_emails GROUP BY kind, status ORDER BY 1, 2")).all()}
        cases: dict[str, int] = {str(s): int(n) for s, n in connection.execute(text(
            "SELECT status, count(*) FROM cases GROUP BY status"))}
        retried = connection.execute(text(
            "SELECT (SELECT count(*) FROM letters WHERE attempts > 1) + "
            "(SELECT count(*) FROM outbound_emails WHERE attempts > 1)")).scalar_one()
        errors = [str(e)[:200] for e in connection.execute(text(
            "SELECT last_error FROM outbound_emails WHERE last_error IS NOT NULL UNION "
            "SELECT last_error FROM letters WHERE last_error IS NOT NULL LIMIT 5")).scalars()]
        sent_to_company = connection.execute(text(
            "SELECT count(*) FROM outbound_emails WHERE kind = 'letter_to_company' AND status = 'sent'")).scalar_one()
    with consumers.lock:
        arrived = sum(1 for f in consumers.by_email.values() if f.company_mail is not None)
        unmatched = list(consumers.unmatched[:5])
        messages = dict(consumers.messages)
    return {"letters_by_status": letters, "emails_by_kind_and_status": mails, "cases_by_status": cases,
            "jobs_tried_more_than_once": retried, "last_errors": errors,
            "company_letters_sent_in_database": sent_to_company, "company_letters_accepted_by_smtp": arrived,
            "smtp_messages_by_kind": messages, "smtp_messages_unmatched": unmatched}


# --- the run --------------------------------------------------------------------------------------------------


def _flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


def _settings() -> dict[str, Any]:
    return {"quick": QUICK, "seconds": SECONDS, "step_seconds": STEP_SECONDS, "rates": RATES,
            "bisections": BISECTIONS, "fixed_rate": FIXED_RATE, "lag_limit_seconds": LAG_LIMIT,
            "celery_workers": WORKERS, "celery_concurrency": CONCURRENCY, "gunicorn_workers": WEB_WORKERS,
            "client_threads": CLIENTS, "drain_seconds": DRAIN_SECONDS, "cpus": os.cpu_count()}


def _ratios(baseline: dict[str, Any], run: dict[str, Any] | None, found: float | None) -> dict[str, Any]:
    if run is None or not run.get("filing_latency_ms"):
        return {}
    out: dict[str, Any] = {}
    for name in PROBES:
        idle, loaded = baseline["idle_ms"].get(name), run["probes_under_load_ms"].get(name)
        if idle:
            out[f"filing_p50_to_idle_{name}_p50"] = round(run["filing_latency_ms"]["p50"] / idle["p50"], 1)
        if idle and loaded:
            out[f"{name}_under_load_p50_to_idle_p50"] = round(loaded["p50"] / idle["p50"], 1)
    render = (baseline.get("render_in_process") or {}).get("ms") or {}
    if render and run.get("letter_lag_s"):
        out["letter_lag_p50_to_render_p50"] = round(run["letter_lag_s"]["p50"] * 1000 / render["p50"], 1)
        ceiling = WORKERS * CONCURRENCY * 1000 / render["p50"]
        out["render_only_ceiling_cases_per_second"] = round(ceiling, 2)
        if found:
            out["found_rate_to_render_only_ceiling"] = round(found / ceiling, 3)
    return out


def _stack_env(overrides: dict[str, Any]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")}
    env.update({f"CASEWORK_{k.upper()}": str(v) for k, v in overrides.items()})
    return env


def _guarded(step: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return step()
    except Exception as exc:  # a bench reports, it does not crash the other benches
        log(f"failed: {type(exc).__name__}: {exc}")
        return {"failed": f"{type(exc).__name__}: {exc}"}


def main() -> dict[str, Any]:
    head: dict[str, Any] = {
        "benchmark": "load", "started_at": utc_now().isoformat(timespec="seconds"),
        "command": shlex.join([f"{k}={v}" for k, v in sorted(os.environ.items())
                               if k.startswith("CASEWORK_BENCH_LOAD_")] + [".venv/bin/python", "-m", "bench", "load"]),
        "database": make_url(DATABASE_URL).database, "broker": BROKER_URL, "settings": _settings(),
        "load_average_before": load_average()}
    if "bench" not in (make_url(DATABASE_URL).database or "").lower():
        return {**head, "skipped": "the database's name must contain 'bench' (it is emptied)"}
    try:
        reset_database(DATABASE_URL)
        _flush_redis(BROKER_URL)
    except Exception as exc:
        return {**head, "skipped": f"PostgreSQL or Redis is not reachable: {exc}"}
    migrate.upgrade(DATABASE_URL)
    return {**head, **_guarded(_run), "load_average_after": load_average()}


def _run() -> dict[str, Any]:
    var_dir = Path(tempfile.mkdtemp(prefix="casework-bench-load-"))
    port = free_port()
    consumers = Consumers(port)
    smtp = Controller(_SinkHandler(consumers), hostname="127.0.0.1", port=free_port())
    smtp.start()
    overrides = {"env": "development", "var_dir": var_dir, "database_url": DATABASE_URL, "broker_url": BROKER_URL,
                 "queue_name": f"casework-bench-load-{uuid.uuid4().hex[:8]}", "ratelimit_enabled": False,
                 "secret_key": SECRET_KEY, "smtp_url": f"smtp://127.0.0.1:{smtp.port}",
                 "base_url": f"http://127.0.0.1:{port}"}
    stack = Stack(_stack_env(overrides), var_dir, port)
    engine = create_engine(DATABASE_URL)
    meter: CpuMeter | None = None
    try:
        log(f"starting gunicorn, {WORKERS} Celery worker(s) and beat; logs in {var_dir}")
        stack.start()
        meter = CpuMeter(stack, engine)
        meter.thread.start()
        run = Run(consumers, stack, engine, meter)
        before = idle_probes(port)
        log(f"baseline: idle probes {({k: summary(v) for k, v in before.items()})}")
        found = search(run)
        outstanding = run.drain(run.every_filing())
        after = idle_probes(port)
        baseline: dict[str, Any] = {"idle_ms": {k: summary(before[k] + after[k]) for k in PROBES},
                                    "idle_ms_before": {k: summary(v) for k, v in before.items()},
                                    "idle_ms_after": {k: summary(v) for k, v in after.items()},
                                    "render_in_process": render_in_process(engine)}
        log(f"baseline: letter rendered in-process {baseline['render_in_process']}")
        checked = {"letters_outstanding_at_stop": outstanding, **integrity(engine, consumers)}
    finally:
        if meter is not None:
            meter.stop.set()
            meter.thread.join(timeout=5)
        stack.stop()
        smtp.stop()
        consumers.pool.shutdown(wait=False, cancel_futures=True)
        engine.dispose()
    return {
        "stack": {"commands": stack.commands, "logs": str(var_dir)},
        f"highest_rate_with_letter_lag_under_{LAG_LIMIT:g}_s": {
            "cases_per_second": found["rate"], "confirmed_over_seconds": SECONDS if found["confirmed"] else None,
            "note": found.get("note")},
        "run": found["run"], "baseline": baseline,
        "ratios": _ratios(baseline, found["run"], found["rate"]),
        "integrity": checked, "steps": run.steps,
    }
