"""The staff queue over HTTP at a million cases on PostgreSQL: GET /api/v1/queue (and the /staff page) with
each kind of filter, and "take next" by concurrent caseworkers.

The cases are generated inside PostgreSQL (INSERT … SELECT FROM generate_series, in chunks) with a spread
like a deployment that has run for two years: nine in ten finished, the open ones over every status, most
with a date in the next 90 days, some overdue; two companies; e-mail addresses that repeat; caseworkers.
The load is kept between runs (a marker row names the scale), so only the first run at a scale pays for it.

The app runs under gunicorn (2 workers, rate limits off). Each request kind is timed over keep-alive
connections, round by round interleaved with a trivial endpoint of the same server (the baseline, measured
in the same run because the machine is shared): median, p95 and the ratio of medians. Then 8 clients, each
its own caseworker, token and connection, take cases for a few seconds; the claims are checked for
duplicates in the database and released afterwards so the next run starts from the same data.

``CASEWORK_BENCH_DASHBOARD_DATABASE_URL`` (its name must contain "bench"), ``CASEWORK_BENCH_DASHBOARD_CASES``
(1,000,000 by default), ``CASEWORK_BENCH_DASHBOARD_BROKER_URL`` (Redis db 15; nothing is enqueued).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, delete, insert, select, text
from sqlalchemy.engine import make_url

from casework import create_app, migrate
from casework.db import utcnow
from casework.runtime import Runtime, runtime_of
from casework.staff.accounts import create_staff
from casework.staff.api_tokens import issue_token
from casework.staff.models import StaffApiToken, StaffUser
from tests.support.smtp import free_port

DATABASE_URL = os.environ.get("CASEWORK_BENCH_DASHBOARD_DATABASE_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/casework_bench_dashboard")
BROKER_URL = os.environ.get("CASEWORK_BENCH_DASHBOARD_BROKER_URL", "redis://127.0.0.1:6379/15")
CASES = int(os.environ.get("CASEWORK_BENCH_DASHBOARD_CASES", "1000000"))
REPEATS = int(os.environ.get("CASEWORK_BENCH_DASHBOARD_REPEATS", "50"))
WARM_UP = 5
CHUNK = 100_000
DEEP_PAGES = 50
CASEWORKERS = 20
TAKERS = 8
TAKE_SECONDS = 10.0
TAKE_LIMIT = 2000
ME = "bench@casework.test"
PASSWORD = "bench password, long enough"  # noqa: S105 - the bench's own throwaway account
SECRET_KEY = "bench-dashboard-secret-key-not-for-production-use"  # noqa: S105 - tokens must outlive a run
GOALS = {"queue_p95_ms": 50.0, "claims_per_second": 400.0, "duplicates": 0}
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
TIMEOUT = 60

# --- the data ---------------------------------------------------------------------------------------------

_MARKER = "bench_dashboard_marker"
# One row per generated number i; the random draws a..h are columns of the inner SELECT, so each is drawn once.
_LOAD_CHUNK = text("""
INSERT INTO cases (reference, status, status_before_needs_info, outcome, consumer_name, consumer_email, country,
    timezone, language, provider_slug, plan_slug, policy_version, company, billing_channel, payment_date,
    certificate_earned, amount_value, amount_currency, requested_outcome, assessment, assignee_id, assigned_at,
    consent_at, confirmed_at, created_at, updated_at, version, answer_due_on, follow_ups_sent, resolved_at, urgency_on,
    urgency_kind, needs_review, escalated_to, escalated_to_name)
SELECT 'CW-2026-' || upper(lpad(to_hex(i), 8, '0')), status,
    CASE WHEN status = 'needs_info' THEN 'ready' END,
    CASE status WHEN 'resolved' THEN (ARRAY['cancelled', 'cancelled_refunded', 'cancelled_partial_refund',
                                            'refund_denied'])[1 + floor(b * 4)::int]
                WHEN 'closed' THEN (ARRAY['cancelled', 'withdrawn', 'no_response', 'refused'])[1 + floor(b * 4)::int]
    END,
    (ARRAY['Ann', 'Bo', 'Chen', 'Dana', 'Eli', 'Fatima', 'Gus', 'Hana', 'Ivan', 'Jo', 'Kemal', 'Lena', 'Mia',
           'Noor'])[1 + floor(c * 14)::int] || ' ' ||
    CASE WHEN d < 0.5 THEN (ARRAY['Smith', 'Nguyen', 'Garcia', 'Okafor', 'Müller', 'Kowalski', 'Tanaka', 'Silva',
                                  'Jones', 'Haddad', 'Brown'])[1 + floor(e * 11)::int]
         ELSE initcap((ARRAY['ka', 'lo', 'mir', 'ten', 'vas', 'dor', 'bel', 'rin', 'sol', 'gat', 'hum', 'pel',
                             'qua', 'zen', 'for', 'wil', 'yar', 'nob', 'cru', 'tis'])[1 + (i % 20)] ||
                      (ARRAY['ka', 'lo', 'mir', 'ten', 'vas', 'dor', 'bel', 'rin', 'sol', 'gat', 'hum', 'pel',
                             'qua', 'zen', 'for', 'wil', 'yar', 'nob', 'cru', 'tis'])[1 + (i / 20 % 20)] ||
                      (ARRAY['sky', 'berg', 'ton', 'vik', 'ard', 'ez', 'ini', 'ova', 'son', 'ley'])[1 + (i / 400 % 10)])
    END,
    'user' || (i % 400000) || '@example.com', 'AU', 'Australia/Melbourne', 'en',
    CASE WHEN f < 0.8 THEN 'coursera' ELSE 'other' END,
    CASE WHEN f < 0.8 THEN 'coursera-plus-annual' ELSE 'other-monthly' END, 'bench',
    CASE WHEN f >= 0.8 THEN jsonb_build_object(
        'name', (ARRAY['Acme Streaming', 'Globex Fitness', 'Initech Cloud', 'Umbrella Music'])[1 + floor(g * 4)::int],
        'email', 'cancel@company.example') END,
    'direct', (created - interval '3 days')::date, false, 599.00, 'AUD', 'cancel_and_refund',
    '{"deadlines": [], "refund": {"kind": "uncertain"}}'::jsonb,
    CASE WHEN h < 0.45 THEN :first_staff + floor(g * :caseworkers)::int END,
    CASE WHEN h < 0.45 THEN created + interval '1 day' END,
    created, CASE WHEN status <> 'new' THEN created END, created, created, 1,
    CASE WHEN status IN ('sent', 'follow_up') THEN current_date + floor(b * 60)::int - 20 END,
    CASE WHEN status = 'follow_up' THEN 1 ELSE 0 END,
    CASE WHEN status = 'resolved' THEN created + interval '30 days' END,
    CASE WHEN status IN ('resolved', 'closed') THEN DATE '9999-12-31'
         WHEN status IN ('sent', 'follow_up') THEN current_date + floor(b * 60)::int - 20
         WHEN b < 0.1 THEN current_date - 1 - floor(c * 30)::int
         WHEN b < 0.9 THEN current_date + floor(c * 90)::int
         ELSE DATE '9999-12-31' END,
    CASE WHEN status IN ('resolved', 'closed') THEN NULL
         WHEN status IN ('sent', 'follow_up') THEN 'answer_due'
         WHEN b < 0.9 THEN 'refund_window_end' END,
    status NOT IN ('resolved', 'closed') AND e < 0.02,
    CASE WHEN status = 'escalated' THEN 'ombudsman' END,
    CASE WHEN status = 'escalated' THEN 'Telecommunications Industry Ombudsman' END
FROM (SELECT i, random() AS b, random() AS c, random() AS d, random() AS e, random() AS f, random() AS g,
             random() AS h,
             CASE WHEN a < 0.010 THEN 'new' WHEN a < 0.020 THEN 'needs_info' WHEN a < 0.050 THEN 'ready'
                  WHEN a < 0.080 THEN 'sent' WHEN a < 0.095 THEN 'follow_up' WHEN a < 0.100 THEN 'escalated'
                  WHEN a < 0.400 THEN 'resolved' ELSE 'closed' END AS status,
             now() - interval '1 minute' * floor(random() * 730 * 1440) AS created
      FROM (SELECT i, random() AS a FROM generate_series(CAST(:lo AS int), CAST(:hi AS int)) AS i) AS numbers
     ) AS drawn
""")


def _database_name(url: str) -> str:
    return make_url(url).database or ""


def _create_missing_database(url: str) -> None:
    engine = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        name = _database_name(url)
        if connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is None:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def _loaded(engine: Engine) -> bool:
    """The data of an earlier run at the same scale (a marker row, and the count agrees)."""
    with engine.connect() as connection:
        if connection.execute(text("SELECT to_regclass(:t)"), {"t": _MARKER}).scalar() is None:
            return False
        marked = connection.execute(text(f"SELECT cases FROM {_MARKER}")).scalar()  # noqa: S608 - constant
        return marked == CASES and connection.execute(text("SELECT count(*) FROM cases")).scalar_one() == CASES


def _empty(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))


def _staff(connection: Connection) -> int:
    """Caseworkers (``ME`` with a real password, the others without one); the first one's id."""
    others = [{"email": f"worker{n}@casework.test", "name": f"Worker {n}", "password_hash": "x",
               "role": "caseworker", "active": True, "created_at": utcnow()}
              for n in range(1, CASEWORKERS)]
    connection.execute(insert(StaffUser), others)
    return int(connection.execute(select(StaffUser.id).order_by(StaffUser.id)).scalars().first() or 0)


def _secondary_indexes(connection: Connection) -> list[tuple[str, str]]:
    """The indexes of cases that no constraint owns: dropped for the load, rebuilt after (much faster)."""
    rows = connection.execute(text(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'cases' AND indexname NOT IN "
        "(SELECT conname FROM pg_constraint WHERE conrelid = 'cases'::regclass)"))
    return [(str(name), str(definition)) for name, definition in rows]


def load(engine: Engine, runtime: Runtime) -> dict[str, Any]:
    """Empty, migrate and fill the database; the seconds each phase took."""
    started = time.monotonic()
    _empty(engine)
    migrate.upgrade(DATABASE_URL)
    with runtime.sessions.begin() as session:
        create_staff(session, ME, "Bench Worker", PASSWORD)
    with engine.begin() as connection:
        first_staff = _staff(connection)
        indexes = _secondary_indexes(connection)
        for name, _ in indexes:
            connection.execute(text(f'DROP INDEX "{name}"'))
        # The per-status counter rows: one per case inserted would double the load; written as totals below.
        connection.execute(text("ALTER TABLE cases DISABLE TRIGGER cases_status_count"))
    inserted = time.monotonic()
    for lo in range(1, CASES + 1, CHUNK):
        with engine.begin() as connection:
            connection.execute(text("SELECT setseed(:seed)"), {"seed": (lo % 1000) / 1000})
            connection.execute(_LOAD_CHUNK, {"lo": lo, "hi": min(lo + CHUNK - 1, CASES), "first_staff": first_staff,
                                             "caseworkers": CASEWORKERS})
        print(f"loading {min(lo + CHUNK - 1, CASES)}/{CASES} ({time.monotonic() - started:.1f} s)", file=sys.stderr)
    rows_seconds = time.monotonic() - inserted
    indexed = time.monotonic()
    with engine.begin() as connection:
        for name, definition in indexes:
            print(f"indexing {name} ({time.monotonic() - started:.1f} s)", file=sys.stderr)
            connection.execute(text(definition))
        connection.execute(text("ALTER TABLE cases ENABLE TRIGGER cases_status_count"))
        connection.execute(text("INSERT INTO case_status_deltas (status, delta) "
                                "SELECT status, count(*) FROM cases GROUP BY status"))
        connection.execute(text(f"CREATE TABLE {_MARKER} (cases integer NOT NULL, loaded_at timestamptz NOT NULL)"))
        connection.execute(text(f"INSERT INTO {_MARKER} VALUES (:n, now())"), {"n": CASES})  # noqa: S608
    index_seconds = time.monotonic() - indexed
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    return {"seconds": round(time.monotonic() - started, 1), "insert_seconds": round(rows_seconds, 1),
            "index_seconds": round(index_seconds, 1), "chunk": CHUNK,
            "how": "INSERT … SELECT generate_series in chunks; secondary indexes dropped and rebuilt; the "
                   "status-count trigger off during the load, the totals inserted after; VACUUM ANALYZE"}


def _release_claims(engine: Engine) -> int:
    """Undo every "take next" of a bench run (the loaded data has no events), so each run starts the same."""
    with engine.begin() as connection:
        ids = list(connection.execute(text(
            "DELETE FROM case_events WHERE action = 'assigned' AND data->>'how' = 'take_next' RETURNING case_id"
        )).scalars())
        if ids:
            connection.execute(text("UPDATE cases SET assignee_id = NULL, assigned_at = NULL, "
                                    "version = version - 1 WHERE id = ANY(:ids)"), {"ids": sorted(set(ids))})
    return len(ids)


def _tokens(runtime: Runtime) -> tuple[str, list[str]]:
    """A fresh token for ``ME`` and one for each taking client (each its own caseworker)."""
    now = utcnow()
    with runtime.sessions.begin() as session:
        session.execute(delete(StaffApiToken))
        users = list(session.scalars(select(StaffUser).order_by(StaffUser.id)))
        me = next(u for u in users if u.email == ME)
        mine, _ = issue_token(session, me, "bench", SECRET_KEY, now)
        takers = [issue_token(session, u, "bench", SECRET_KEY, now)[0] for u in users if u.email != ME][:TAKERS]
    return mine, takers


def _shape(engine: Engine) -> dict[str, Any]:
    with engine.connect() as connection:
        by_status: dict[str, int] = {str(k): int(v) for k, v in connection.execute(text(
            "SELECT status, sum(delta) FROM case_status_deltas GROUP BY status ORDER BY status"))}
        open_cases = connection.execute(text(
            "SELECT count(*) FILTER (WHERE assignee_id IS NULL), count(*) FILTER (WHERE needs_review), "
            "count(*) FILTER (WHERE urgency_on < current_date) FROM cases "
            "WHERE status NOT IN ('resolved', 'closed')")).one()
    return {"by_status": by_status, "open_unassigned": open_cases[0],
            "open_needs_review": open_cases[1], "open_overdue": open_cases[2]}


def _samples(engine: Engine) -> dict[str, str]:
    """Search terms that find open cases: an e-mail address, a common surname and a rare one."""
    with engine.connect() as connection:
        email, rare = connection.execute(text(
            "SELECT consumer_email, split_part(consumer_name, ' ', 2) FROM cases WHERE id >= :id "
            "AND status NOT IN ('resolved', 'closed') AND split_part(consumer_name, ' ', 2) NOT IN "
            "('Smith', 'Nguyen', 'Garcia', 'Okafor', 'Müller', 'Kowalski', 'Tanaka', 'Silva', 'Jones', 'Haddad', "
            "'Brown') ORDER BY id LIMIT 1"), {"id": CASES // 2}).one()
    return {"email": str(email), "common_name": "Nguyen", "rare_name": str(rare)}


def _code_version() -> dict[str, str]:
    """Which queue code was measured (it is being changed): the file's digest and time."""
    path = Path(__file__).resolve().parent.parent / "casework" / "staff" / "queue.py"
    return {"casework/staff/queue.py sha256": hashlib.sha256(path.read_bytes()).hexdigest()[:12],
            "modified_at": dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).isoformat(timespec="seconds")}


# --- HTTP ---------------------------------------------------------------------------------------------------


class Client:
    """One keep-alive connection; a bearer token or a session cookie."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        self.headers = {"Accept": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None,
                content_type: str | None = None) -> tuple[int, bytes, float]:
        headers = dict(self.headers)
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if content_type:
            headers["Content-Type"] = content_type
        started = time.perf_counter()
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, data, elapsed

    def get_json(self, path: str) -> dict[str, Any]:
        status, data, _ = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {data[:300]!r}")
        return dict(json.loads(data))


def _sign_in(port: int) -> Client | None:
    """A browser-like session for the HTML page: the login form's CSRF token, then POST /staff/login."""
    client = Client(port)
    client.headers["Accept"] = "text/html"
    _, page, _ = client.request("GET", "/staff/login")
    found = CSRF_RE.search(page.decode())
    if found is None:
        return None
    form = urllib.parse.urlencode({"csrf_token": found.group(1), "email": ME, "password": PASSWORD})
    status, _, _ = client.request("POST", "/staff/login", form, "application/x-www-form-urlencoded")
    return client if status == 303 else None


def _deep_cursor(client: Client) -> str:
    cursor = ""
    for _ in range(DEEP_PAGES):
        page = client.get_json("/api/v1/queue" + (f"?after={urllib.parse.quote(cursor)}" if cursor else ""))
        if not page["next_cursor"]:
            break
        cursor = str(page["next_cursor"])
    return cursor


def _kinds(client: Client, samples: dict[str, str]) -> dict[str, str]:
    deep = _deep_cursor(client)
    quote = urllib.parse.quote
    return {
        "first_page": "/api/v1/queue",
        f"deep_page_after_{DEEP_PAGES}_pages": f"/api/v1/queue?after={quote(deep)}",
        "company_coursera_status_sent": "/api/v1/queue?company=coursera&status=sent",
        "search_email": f"/api/v1/queue?q={quote(samples['email'])}",
        "search_name_common": f"/api/v1/queue?q={quote(samples['common_name'])}",
        "search_name_rare": f"/api/v1/queue?q={quote(samples['rare_name'])}",
        "mine": "/api/v1/queue?assignee=mine",
        "review": "/api/v1/queue?review=1",
    }


def _summary(times: list[float], baseline: float | None = None) -> dict[str, Any]:
    ordered = sorted(times)
    median = statistics.median(ordered)
    out: dict[str, Any] = {"median_ms": round(median, 2),
                           "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 2)}
    if baseline:
        out["ratio_median_to_baseline"] = round(median / baseline, 1)
    return out


def time_reads(port: int, token: str, samples: dict[str, str]) -> dict[str, Any]:
    """Each kind REPEATS times after a warm-up, round by round interleaved with the baseline."""
    api = Client(port, token)
    paths: dict[str, tuple[Client, str]] = {k: (api, p) for k, p in _kinds(api, samples).items()}
    paths = {"baseline_get_providers": (Client(port), "/api/v1/providers"), **paths}
    browser = _sign_in(port)
    if browser is not None:
        paths["html_staff_page"] = (browser, "/staff")
        paths["html_staff_page_search_email"] = (browser, f"/staff?q={urllib.parse.quote(samples['email'])}")
    times: dict[str, list[float]] = {kind: [] for kind in paths}
    facts: dict[str, dict[str, Any]] = {}
    for round_no in range(WARM_UP + REPEATS):
        for kind, (client, path) in paths.items():
            status, data, elapsed = client.request("GET", path)
            if status != 200:
                raise RuntimeError(f"{kind}: GET {path} answered {status}: {data[:300]!r}")
            if round_no >= WARM_UP:
                times[kind].append(elapsed)
            elif round_no == 0 and path.startswith("/api/v1/queue"):
                body = json.loads(data)
                facts[kind] = {"rows": len(body["cases"]), "notices": body["notices"]}
    baseline = statistics.median(times["baseline_get_providers"])
    results: dict[str, Any] = {
        kind: {**_summary(t, None if kind.startswith("baseline") else baseline), **facts.get(kind, {})}
        for kind, t in times.items()}
    results["_paths"] = {kind: path for kind, (_, path) in paths.items()}
    if browser is None:
        results["_html"] = "skipped: could not sign in through /staff/login"
    return results


# --- take next ----------------------------------------------------------------------------------------------


def take_next_race(port: int, server_pid: int, tokens: list[str], engine: Engine) -> dict[str, Any]:
    """TAKERS clients take cases until TAKE_SECONDS pass or TAKE_LIMIT claims are made; duplicates counted."""
    got: list[list[str]] = [[] for _ in tokens]
    errors: list[str] = []
    latencies: list[float] = []
    lock = threading.Lock()
    stop = threading.Event()
    start_gate = threading.Barrier(len(tokens) + 1)

    def client(n: int) -> None:
        connection = Client(port, tokens[n])
        start_gate.wait()
        while not stop.is_set():
            status, data, elapsed = connection.request("POST", "/api/v1/queue/take-next", "{}", "application/json")
            if status != 200:
                with lock:
                    errors.append(f"{status} {data[:200]!r}")
                return
            case = json.loads(data)["case"]
            if case is None:
                return
            with lock:
                got[n].append(case["reference"])
                latencies.append(elapsed)
                if len(latencies) >= TAKE_LIMIT:
                    stop.set()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(len(tokens))]
    for thread in threads:
        thread.start()
    cpu_before = _cpu_seconds(server_pid)
    start_gate.wait()
    started = time.monotonic()
    stop.wait(TAKE_SECONDS)
    stop.set()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    cpu_after = _cpu_seconds(server_pid)
    every = [ref for refs in got for ref in refs]
    with engine.connect() as connection:
        db_duplicates = connection.execute(text(
            "SELECT count(*) FROM (SELECT case_id FROM case_events WHERE action = 'assigned' "
            "AND data->>'how' = 'take_next' GROUP BY case_id HAVING count(*) > 1) AS twice")).scalar_one()
        events = connection.execute(text(
            "SELECT count(*) FROM case_events WHERE action = 'assigned' AND data->>'how' = 'take_next'")).scalar_one()
    claims = len(every)
    # CPU per claim over all cores bounds the rate even on an idle machine (the bench's own clients not counted).
    cpu = _cpu_ms_per(cpu_before, cpu_after, claims)
    return {"clients": len(tokens), "seconds": round(seconds, 2), "claims": claims, "assigned_events": events,
            "claims_per_second": round(claims / seconds, 1),
            "duplicates_in_database": db_duplicates, "duplicates_between_clients": claims - len(set(every)),
            "per_client": [len(refs) for refs in got], "errors": errors[:5],
            "cpu_ms_per_claim": cpu, "ceiling_claims_per_second_from_cpu": round(
                (os.cpu_count() or 1) * 1000 / max(sum(cpu.values()), 0.001)),
            "latency": _summary(latencies) if latencies else None}


# --- the run ------------------------------------------------------------------------------------------------


def _serve(overrides: dict[str, Any]) -> tuple[subprocess.Popen[bytes], int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")}
    env.update({f"CASEWORK_{k.upper()}": str(v) for k, v in overrides.items()})
    port = free_port()
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    server = subprocess.Popen([gunicorn, "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
                               "casework:create_app()"], env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            Client(port).request("GET", "/api/v1/providers")
            return server, port
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("gunicorn did not start")


def _cpu_seconds(server_pid: int) -> dict[tuple[str, int], float]:
    """CPU time (user + system) so far per process of the gunicorn workers and of PostgreSQL, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[tuple[str, int], float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2:].split()
        seconds = (int(fields[11]) + int(fields[12])) / tick
        if int(fields[1]) == server_pid:
            found["gunicorn_workers", int(stat.parent.name)] = seconds
        elif raw[raw.index("(") + 1:raw.rindex(")")] == "postgres":
            found["postgresql", int(stat.parent.name)] = seconds
    return found


def _cpu_ms_per(before: dict[tuple[str, int], float], after: dict[tuple[str, int], float],
                count: int) -> dict[str, float]:
    """Per process, so a process that ends in between (a closed connection) takes nothing away."""
    totals = {"gunicorn_workers": 0.0, "postgresql": 0.0}
    for key, seconds in after.items():
        totals[key[0]] += seconds - before.get(key, 0.0)
    return {name: round(total * 1000 / max(count, 1), 2) for name, total in totals.items()}


def _load_average() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def _goals(reads: dict[str, Any], race: dict[str, Any]) -> dict[str, Any]:
    queue_kinds = {k: v for k, v in reads.items() if not k.startswith(("_", "baseline"))}
    over = {k: v["p95_ms"] for k, v in queue_kinds.items() if v["p95_ms"] >= GOALS["queue_p95_ms"]}
    duplicates = race["duplicates_in_database"] + race["duplicates_between_clients"]
    return {
        "queue_p95_under_50_ms": {"met": not over, "over": over},
        "claims_per_second_at_least_400": {"met": race["claims_per_second"] >= GOALS["claims_per_second"],
                                           "measured": race["claims_per_second"]},
        "zero_duplicates": {"met": duplicates == 0, "measured": duplicates},
    }


def _run(engine: Engine, runtime: Runtime, overrides: dict[str, Any]) -> dict[str, Any]:
    loaded = {"skipped": f"reused the {CASES} cases of an earlier run"} if _loaded(engine) else load(engine, runtime)
    released = _release_claims(engine)
    mine, takers = _tokens(runtime)
    samples = _samples(engine)
    server, port = _serve(overrides)
    try:
        reads = time_reads(port, mine, samples)
        race = take_next_race(port, server.pid, takers, engine)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"load": loaded, "released_before_run": released, "data": _shape(engine), "search_terms": samples,
            "reads": reads, "take_next": race, "goals": _goals(reads, race),
            "released_after_run": _release_claims(engine)}


def _guarded(step: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return step()
    except Exception as exc:  # a bench reports, it does not crash the other benches
        return {"failed": f"{type(exc).__name__}: {exc}"}


def main() -> dict[str, Any]:
    head: dict[str, Any] = {"benchmark": "dashboard", "started_at": utcnow().isoformat(timespec="seconds"),
                            "database": _database_name(DATABASE_URL), "cases": CASES, "repeats": REPEATS,
                            "server": "gunicorn, 2 workers; PostgreSQL; rate limits off; keep-alive http.client",
                            "load_average_before": _load_average(), "code": _code_version()}
    if "bench" not in _database_name(DATABASE_URL).lower():
        return {**head, "skipped": "the database's name must contain 'bench' (it is emptied and filled)"}
    try:
        _create_missing_database(DATABASE_URL)
    except Exception as exc:
        return {**head, "skipped": f"PostgreSQL is not reachable: {exc}"}
    migrate.upgrade(DATABASE_URL)
    var_dir = Path(tempfile.mkdtemp(prefix="casework-bench-dashboard-"))
    overrides = {"env": "development", "var_dir": var_dir, "database_url": DATABASE_URL, "broker_url": BROKER_URL,
                 "queue_name": f"casework-bench-{uuid.uuid4().hex[:8]}", "ratelimit_enabled": False,
                 "secret_key": SECRET_KEY}
    runtime = runtime_of(create_app(overrides))
    engine = create_engine(DATABASE_URL)
    try:
        body = _guarded(lambda: _run(engine, runtime, overrides))
    finally:
        engine.dispose()
        runtime.engine.dispose()
    return {**head, **body, "load_average_after": _load_average(),
            "goals_wanted": "p95 < 50 ms for every queue request; >= 400 claims/s by 8 clients; 0 duplicates"}
