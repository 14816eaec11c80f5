"""The staff queue page (GET /staff) over many cases, beside a trivial staff page measured in the same run.

Seeds ``CASEWORK_BENCH_QUEUE_CASES`` cases (20,000 by default) with bulk Core inserts: every status (most of
them finished, as in a long-running deployment), act-by dates, company answers due and overdue, escalations,
caseworkers, two companies, reviews, failed letters and e-mails. Then, signed in through the Flask test client,
times the queue page with each filter, a name search, and a deep page reached by following 20 "next" links,
interleaved round by round with the baselines: the catalog page (same app, same sign-in, no case query) and a
plain SELECT of 50 cases by id. Reports medians, p95, the ratio of each median to the catalog page's, and the SQL
statements per request (constant: no per-row query) with the median time spent in them.

The database is ``CASEWORK_BENCH_DATABASE_URL`` (else ``CASEWORK_DATABASE_URL``), emptied first, so its name
must contain "bench" or "test"; without either, an SQLite file in a temporary folder.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import random
import re
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, func, insert, select, text
from sqlalchemy.engine import make_url

from casework import create_app, migrate
from casework.cases.models import Case
from casework.cases.references import encode_reference
from casework.cases.states import BillingChannel, CaseStatus, Outcome, RequestedOutcome
from casework.cases.urgency import ANSWER_DUE, ESCALATION_DUE, NO_DEADLINE
from casework.letters.models import Letter
from casework.mail.models import OutboundEmail
from casework.runtime import Runtime, runtime_of
from casework.staff.accounts import create_staff
from casework.staff.models import StaffUser
from tests.conftest import reset_database
from tests.support.web import post_form

CASES = int(os.environ.get("CASEWORK_BENCH_QUEUE_CASES", "20000"))
REPEATS = int(os.environ.get("CASEWORK_BENCH_QUEUE_REPEATS", "30"))
DEEP_PAGES = 20
CHUNK = 5000
CASEWORKERS = 12
PASSWORD = "bench password, long enough"  # noqa: S105 - the bench's own throwaway account
SEED = 20261127
NEXT_RE = re.compile(r'<a href="([^"]+)" rel="next">')
# Statuses as a deployment that has run for a while holds them: most cases are finished.
STATUS_WEIGHTS = {CaseStatus.NEW: 4, CaseStatus.NEEDS_INFO: 4, CaseStatus.READY: 12, CaseStatus.SENT: 20,
                  CaseStatus.FOLLOW_UP: 6, CaseStatus.ESCALATED: 2, CaseStatus.RESOLVED: 12, CaseStatus.CLOSED: 40}
FIRST = ("Ann", "Bo", "Chen", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jo", "Kemal", "Lena", "Mia", "Noor")
LAST = ("Smith", "Nguyen", "Garcia", "Okafor", "Müller", "Kowalski", "Tanaka", "Silva", "Jones", "Haddad", "Brown")
DEADLINE_KINDS = ("refund_window_end", "renewal", "trial_end")
OTHER_COMPANY = {"name": "Acme Streaming", "email": "cancel@acme.example"}
ASSESSMENT = {"deadlines": [], "refund": {"kind": "uncertain"}}


def _database_url(var_dir: Path) -> str:
    return (os.environ.get("CASEWORK_BENCH_DATABASE_URL") or os.environ.get("CASEWORK_DATABASE_URL")
            or f"sqlite:///{var_dir / 'queue-bench.sqlite'}")


def _disposable(url: str) -> bool:
    """Only a database made for benches or tests is emptied."""
    if url.startswith("sqlite"):
        return True
    name = (make_url(url).database or "").lower()
    return "bench" in name or "test" in name


def _urgency(rng: random.Random, status: CaseStatus, today: dt.date, now: dt.datetime) -> dict[str, Any]:
    """Urgency columns and the company's clock as the app would keep them for a case in ``status``."""
    values: dict[str, Any] = {"urgency_on": NO_DEADLINE, "urgency_kind": None, "answer_due_on": None,
                              "escalation_due_at": None}
    if status in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
        return values
    if status in (CaseStatus.SENT, CaseStatus.FOLLOW_UP):
        due = today + dt.timedelta(days=rng.randint(-20, 20))
        values.update(answer_due_on=due, urgency_on=due, urgency_kind=ANSWER_DUE)
        if status is CaseStatus.FOLLOW_UP and rng.random() < 0.3:
            values.update(escalation_due_at=now - dt.timedelta(days=2), urgency_on=min(due, today - dt.timedelta(2)),
                          urgency_kind=ESCALATION_DUE)
        return values
    if rng.random() < 0.7:
        values.update(urgency_on=today + dt.timedelta(days=rng.randint(-1, 365)),
                      urgency_kind=rng.choice(DEADLINE_KINDS))
    return values


def _case_row(rng: random.Random, n: int, staff_ids: list[int], today: dt.date, now: dt.datetime) -> dict[str, Any]:
    status = rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()))[0]
    finished = status in (CaseStatus.RESOLVED, CaseStatus.CLOSED)
    other = rng.random() < 0.3
    first, last = rng.choice(FIRST), rng.choice(LAST)
    created = now - dt.timedelta(minutes=rng.randint(0, 365 * 24 * 60))
    return {
        # An odd multiplier is a bijection modulo 2**40: references look random and never collide.
        "reference": encode_reference(2026, (n * 0x9E3779B1 + 12345) % 2**40), "status": status,
        "outcome": Outcome.CANCELLED if finished else None,
        "consumer_name": f"{first} {last}", "consumer_email": f"{first.lower()}.{n}@example.com",
        "country": "AU", "timezone": "Australia/Melbourne", "language": "en",
        "provider_slug": "other" if other else "coursera", "plan_slug": "other-monthly" if other else
        "coursera-plus-annual", "policy_version": "bench", "company": OTHER_COMPANY if other else None,
        "billing_channel": BillingChannel.DIRECT, "payment_date": (created - dt.timedelta(days=3)).date(),
        "requested_outcome": RequestedOutcome.CANCEL_AND_REFUND, "assessment": ASSESSMENT,
        "assignee_id": None if finished or rng.random() < 0.5 else rng.choice(staff_ids),
        "needs_review": not finished and rng.random() < 0.05,
        "consent_at": created, "confirmed_at": None if status is CaseStatus.NEW else created,
        "created_at": created, "updated_at": created, "version": 1, **_urgency(rng, status, today, now),
    }


def _staff(runtime: Runtime) -> tuple[str, list[int]]:
    """The signed-in caseworker (a real argon2 password) and colleagues; their ids."""
    with runtime.sessions.begin() as session:
        me = create_staff(session, "bench@casework.test", "Bench Worker", PASSWORD)
        colleagues = [{"email": f"worker{n}@casework.test", "name": f"Worker {n}", "password_hash": "x",
                       "role": "caseworker", "active": True} for n in range(CASEWORKERS - 1)]
        session.execute(insert(StaffUser), colleagues)
        ids = list(session.scalars(select(StaffUser.id).order_by(StaffUser.id)))
        return me.email, ids


def _failures(rng: random.Random, case_ids: list[int], now: dt.datetime) -> list[list[dict[str, Any]]]:
    """A failed letter for 1% of the cases and a failed e-mail for 0.5%."""
    letters = [{"case_id": case_id, "kind": "cancellation", "version": 1, "status": "failed", "data_snapshot": {},
                "created_at": now, "relay_at": now, "last_error": "render failed"}
               for case_id in rng.sample(case_ids, max(1, len(case_ids) // 100))]
    emails = [{"idempotency_key": f"bench:{case_id}", "message_id": f"<bench.{case_id}@casework.test>",
               "case_id": case_id, "kind": "letter_to_company", "sender": "casework@casework.test",
               "recipients": ["cancel@company.example"], "subject": "Cancellation", "body_text": "-",
               "status": "failed", "created_at": now, "relay_at": now, "last_error": "550 no such user"}
              for case_id in rng.sample(case_ids, max(1, len(case_ids) // 200))]
    return [letters, emails]


def seed(runtime: Runtime, cases: int, now: dt.datetime) -> None:
    rng = random.Random(SEED)
    _, staff_ids = _staff(runtime)
    today = now.date()
    with runtime.engine.begin() as connection:
        for start in range(0, cases, CHUNK):
            rows = [_case_row(rng, n, staff_ids, today, now) for n in range(start, min(start + CHUNK, cases))]
            connection.execute(insert(Case), rows)
        case_ids = list(connection.scalars(select(Case.id)))
        letters, emails = _failures(rng, case_ids, now)
        connection.execute(insert(Letter), letters)
        connection.execute(insert(OutboundEmail), emails)
    with runtime.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        # As autovacuum would have by now: planner statistics, and PostgreSQL's visibility map.
        connection.execute(text("VACUUM ANALYZE" if connection.dialect.name == "postgresql" else "ANALYZE"))


def _signed_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    response = post_form(client, "/staff/login", {"email": email, "password": PASSWORD}, page="/staff/login")
    if response.status_code != 303:
        raise RuntimeError(f"bench sign-in failed: {response.status_code}")
    return client


def _deep_url(client: FlaskClient) -> str:
    """The queue page reached by following ``DEEP_PAGES`` "next" links from the top."""
    url = "/staff"
    for _ in range(DEEP_PAGES):
        found = NEXT_RE.search(client.get(url).get_data(as_text=True))
        if found is None:
            break
        url = found.group(1).replace("&amp;", "&")
    return url


class Statements:
    """Counts the SQL statements an engine runs and the time spent in them (where a page's time goes)."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self.seconds = 0.0
        self._started = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *_: Any) -> None:
        self.count += 1
        self._started = time.perf_counter()

    def _after(self, *_: Any) -> None:
        self.seconds += time.perf_counter() - self._started


def _timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _summary(samples: list[float], baseline: float | None) -> dict[str, Any]:
    ordered = sorted(samples)
    median = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    out: dict[str, Any] = {"median_ms": round(median * 1000, 2), "p95_ms": round(p95 * 1000, 2)}
    if baseline:
        out["ratio_to_catalog_page"] = round(median / baseline, 2)
    return out


def _scenarios(client: FlaskClient, staff_id: int, probe: tuple[str, str]) -> dict[str, str]:
    """The URLs timed; ``probe`` is an open case's reference and e-mail address to search for."""
    return {
        "no_filter": "/staff",
        "status_sent": "/staff?status=sent",
        "status_ready_and_new": "/staff?status=ready&status=new",
        "mine": "/staff?assignee=mine",
        "colleague": f"/staff?assignee={staff_id}",
        "unassigned": "/staff?assignee=unassigned",
        "overdue": "/staff?overdue=1",
        "within_7": "/staff?within=7",
        "review": "/staff?review=1",
        "failed": "/staff?failed=1",
        "company_other": "/staff?company=other",
        "search_name": "/staff?q=kowal",
        "search_email": "/staff?q=" + probe[1].upper().replace("@", "%40"),
        "search_reference": "/staff?q=" + probe[0].lower(),
        f"deep_page_{DEEP_PAGES + 1}": _deep_url(client),
    }


def _measure(runtime: Runtime, client: FlaskClient, urls: dict[str, str]) -> dict[str, Any]:
    """Round-robin: each round requests every URL once, so drift hits all of them alike."""

    def get(url: str) -> None:
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code}")

    def select_50() -> None:
        with runtime.sessions() as session:
            list(session.scalars(select(Case).where(Case.id > 1000).order_by(Case.id).limit(50)))

    calls: dict[str, Callable[[], None]] = {"catalog_page": lambda: get("/staff/catalog"), "select_50_by_id": select_50}
    calls.update({name: functools.partial(get, url) for name, url in urls.items()})
    samples: dict[str, list[float]] = {name: [] for name in calls}
    sql_samples: dict[str, list[float]] = {name: [] for name in calls}
    statements: dict[str, int] = {}
    counter = Statements(runtime.engine)
    for round_number in range(REPEATS + 2):
        for name, call in calls.items():
            count, sql_before = counter.count, counter.seconds
            seconds = _timed(call)
            statements[name] = counter.count - count
            if round_number >= 2:  # two warm-up rounds
                samples[name].append(seconds)
                sql_samples[name].append(counter.seconds - sql_before)
    baseline = statistics.median(samples["catalog_page"])

    def summary(name: str, ratio: bool = True) -> dict[str, Any]:
        return {**_summary(samples[name], baseline if ratio else None), "sql_statements": statements[name],
                "sql_median_ms": round(statistics.median(sql_samples[name]) * 1000, 2)}

    return {"baselines": {"catalog_page": summary("catalog_page", ratio=False),
                          "select_50_by_id": summary("select_50_by_id")},
            "queue_page": {name: summary(name) for name in urls}}


def main() -> dict[str, Any]:
    var_dir = Path(tempfile.mkdtemp(prefix="casework-bench-queue-"))
    try:
        return _run(var_dir)
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)  # the SQLite database, the embedded broker, the secret key


def _run(var_dir: Path) -> dict[str, Any]:
    url = _database_url(var_dir)
    if not _disposable(url):
        return {"benchmark": "queue", "skipped": "the bench empties its database: name one with 'bench' or 'test' "
                                                 "in CASEWORK_BENCH_DATABASE_URL"}
    try:
        reset_database(url)
    except Exception as exc:  # no server to talk to: say so instead of failing the whole bench run
        return {"benchmark": "queue", "skipped": f"database unreachable: {type(exc).__name__}"}
    migrate.upgrade(url)
    overrides: dict[str, Any] = {"env": "testing", "var_dir": var_dir, "database_url": url,
                                 "broker_url": f"sqla+sqlite:///{var_dir / 'broker.sqlite'}",
                                 "queue_name": f"casework-bench-{uuid.uuid4().hex[:8]}", "ratelimit_enabled": False}
    app = create_app(overrides)
    runtime = runtime_of(app)
    now = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    seed(runtime, CASES, now)
    seeded = time.perf_counter() - started
    client = _signed_in(app, "bench@casework.test")
    with runtime.sessions() as session:
        colleague = session.execute(select(StaffUser.id).where(StaffUser.email == "worker3@casework.test")).scalar_one()
        probe = session.execute(select(Case.reference, Case.consumer_email).where(
            Case.status == CaseStatus.SENT).order_by(Case.id.desc()).limit(1)).one()
        open_cases = session.execute(select(func.count()).select_from(Case).where(
            Case.status.not_in((CaseStatus.RESOLVED, CaseStatus.CLOSED)))).scalar_one()
    results = _measure(runtime, client, _scenarios(client, colleague, (probe[0], probe[1])))
    runtime.engine.dispose()
    return {"benchmark": "queue", "backend": make_url(url).get_backend_name(), "cases": CASES,
            "open_cases": open_cases, "repeats": REPEATS, "seed_seconds": round(seeded, 2), **results}
