"""One drill's world: its own database, Redis, SMTP server, gunicorn, beat and workers, and the run itself
(file, confirm, break something meanwhile, wait until everything settles, count)."""

from __future__ import annotations

import random
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from bench.drills.consumer import Consumers
from bench.drills.counts import Figures, count, unsettled
from bench.drills.scale import Scale
from bench.drills.servers import CeleryProcess, Gunicorn, PrivatePostgres, PrivateRedis, app_env, fresh_database
from bench.drills.sink import Sink

SECRET_KEY = "drills-secret-key-not-for-production-use-" + "x" * 8  # a throwaway deployment
GRACE_SECONDS = 5.0  # after settling, for a late resend or a stray duplicate to show up


def say(what: str) -> None:
    print(f"drills: {what}", file=sys.stderr, flush=True)


class Stage:
    def __init__(self, fault: str, scale: Scale, database_url: str, postgres: PrivatePostgres | None = None) -> None:
        self.fault, self.scale, self.database_url, self.postgres = fault, scale, database_url, postgres
        self.workdir = Path(tempfile.mkdtemp(prefix=f"casework-drills-{fault}-"))
        self.redis = PrivateRedis(self.workdir)
        self.sink = Sink()
        self.settings: dict[str, object] = {
            "env": "production", "secret_key": SECRET_KEY, "var_dir": self.workdir,
            "database_url": database_url, "broker_url": self.redis.url, "smtp_url": self.sink.url,
            "queue_name": f"casework-drills-{uuid.uuid4().hex[:8]}", "ratelimit_enabled": False,
            "base_url": "https://casework.drill", "contact_email": "help@casework.drill",
            "relay_interval_seconds": scale.relay_interval_seconds,
            "relay_after_seconds": scale.relay_after_seconds, "job_lease_seconds": scale.job_lease_seconds,
        }
        env = app_env(self.settings)
        self.gunicorn = Gunicorn(env, self.workdir)
        self.beat = CeleryProcess(env, self.workdir, "beat", beat=True)
        self.workers = [CeleryProcess(env, self.workdir, f"worker{n}") for n in range(scale.workers)]

    def start(self) -> None:
        self.redis.start()
        self.sink.start()
        fresh_database(self.database_url)
        self.gunicorn.start()
        self.beat.start()
        for worker in self.workers:
            worker.start()

    def exited(self) -> list[str]:
        """Processes that ended on their own: an outage must be ridden out without a restart."""
        named = [("gunicorn", self.gunicorn.process), ("beat", self.beat.process),
                 *((w.name, w.process) for w in self.workers)]
        return [name for name, process in named if process is None or process.poll() is not None]

    def stop(self) -> None:
        for process in (*self.workers, self.beat):
            process.stop()
        self.gunicorn.stop()
        self.redis.stop()
        self.sink.stop()


Fault = Callable[[Stage, Consumers], dict[str, Any]]


@dataclass
class Result:
    fault: str
    figures: Figures | None
    facts: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        f = self.figures
        return f is not None and f.lost == 0 and f.duplicated == 0 and not self.problems


def run(fault: str, scale: Scale, database_url: str, act: Fault, postgres: PrivatePostgres | None = None) -> Result:
    """File ``scale.cases`` cases while ``act`` breaks something; settle; count."""
    stage = Stage(fault, scale, database_url, postgres)
    result = Result(fault, None, {"workdir": str(stage.workdir)})
    engine = create_engine(database_url, pool_pre_ping=True, connect_args={"connect_timeout": 5})
    say(f"{fault}: starting (logs in {stage.workdir})")
    try:
        stage.start()
        consumers = Consumers(stage.gunicorn.port, scale.cases, f"{fault}-{uuid.uuid4().hex[:6]}",
                              scale.settle_timeout_seconds)
        started = time.monotonic()
        confirmer = threading.Thread(target=consumers.confirm_from, args=(stage.sink,), daemon=True)
        confirmer.start()
        facts: dict[str, Any] = {}
        breaker = threading.Thread(target=_breaking, args=(act, stage, consumers, facts), daemon=True)
        breaker.start()
        consumers.file_all(scale.filing_seconds)
        result.facts["filing_seconds"] = round(time.monotonic() - started, 1)
        filed = sum(c.reference is not None for c in consumers.people)
        say(f"{fault}: {filed} cases filed in {result.facts['filing_seconds']} s")
        breaker.join()
        waiting = _settle(engine, consumers, stage, started + scale.settle_timeout_seconds)
        result.facts["settled_after_seconds"] = round(time.monotonic() - started, 1)
        consumers.stop.set()
        confirmer.join(timeout=30)
        result.figures = count(engine, consumers, stage.sink)
        result.problems += facts.pop("problems", [])
        result.facts.update(facts)
        result.facts["clients"] = consumers.summary()
        result.facts["smtp_refusals"] = stage.sink.refused
        result.problems += [f"not settled: {w}" for w in waiting]
        result.problems += [f"{name} exited during the drill" for name in stage.exited()]
        if consumers.unexpected:
            result.problems.append(f"{len(consumers.unexpected)} unexpected answers (in facts.clients), the first: "
                                   f"{consumers.unexpected[0]}")
        half = {k: v for k, v in result.figures.checks["cases_missing_a_dependent_row"].items() if v}
        if half:
            result.problems.append(f"half-saved cases: {half}")
    except Exception as exc:  # one broken drill is reported, the others still run
        result.problems.append(f"{type(exc).__name__}: {exc}")
    finally:
        stage.stop()
        engine.dispose()
    say(f"{fault}: {'passed' if result.passed else 'FAILED'} {result.problems or ''}")
    return result


def _breaking(act: Fault, stage: Stage, consumers: Consumers, facts: dict[str, Any]) -> None:
    """Run the fault; if breaking (or mending) fails, the drill says so instead of waiting in vain."""
    try:
        facts.update(act(stage, consumers))
    except Exception as exc:
        facts["problems"] = [f"the fault itself failed: {type(exc).__name__}: {exc}"]


def _settle(engine: Any, consumers: Consumers, stage: Stage, deadline: float) -> list[str]:
    waiting: list[str] = ["not checked"]
    last = 0.0
    while time.monotonic() < deadline:
        try:
            waiting = unsettled(engine, consumers, stage.sink)
        except Exception as exc:  # the database may still be coming back
            waiting = [f"database: {type(exc).__name__}"]
        if not waiting:
            time.sleep(GRACE_SECONDS)
            return []
        if time.monotonic() - last > 15:
            say(f"{stage.fault}: waiting for {'; '.join(waiting)}")
            last = time.monotonic()
        time.sleep(1.0)
    return waiting


# --- the faults ----------------------------------------------------------------------------------------------


def kill_workers(stage: Stage, consumers: Consumers) -> dict[str, Any]:
    """kill -9 a random worker every few seconds (and start it again) while cases are filed and confirmed."""
    scale, rng = stage.scale, random.Random()
    ends = time.monotonic() + 2 * scale.filing_seconds
    while time.monotonic() < ends and not all(c.confirmed for c in consumers.people):
        time.sleep(scale.kill_every_seconds)
        victim = rng.choice(stage.workers)
        victim.kill()
        victim.start(wait=False)
    return {"workers": len(stage.workers), "kills": sum(w.kills for w in stage.workers),
            "kill_every_seconds": scale.kill_every_seconds}


def _outage(stage: Stage, stop: Callable[[], None], start: Callable[[], None], what: str) -> dict[str, Any]:
    scale = stage.scale
    time.sleep(0.2 * scale.filing_seconds)
    say(f"{stage.fault}: {what} down")
    down = time.monotonic()
    stop()
    time.sleep(scale.outage_seconds)
    start()
    say(f"{stage.fault}: {what} back")
    return {f"{what}_down_seconds": round(time.monotonic() - down, 1)}


def stop_broker(stage: Stage, consumers: Consumers) -> dict[str, Any]:
    """The Redis broker shut down mid-filing (its queue lost), started empty on the same port later."""
    return _outage(stage, stage.redis.stop, stage.redis.start, "broker")


def restart_postgres(stage: Stage, consumers: Consumers) -> dict[str, Any]:
    """PostgreSQL stopped (fast) mid-filing and started again; the web app must answer 503 meanwhile."""
    assert stage.postgres is not None
    facts = _outage(stage, stage.postgres.stop, stage.postgres.start, "database")
    with consumers.lock:
        unavailable = sum(n for answer, n in consumers.answers.items() if answer.endswith(" 503 unavailable"))
    facts["answers_503_unavailable"] = unavailable
    if not unavailable:
        facts["problems"] = ["no 503 was seen while the database was down"]
    return facts


def refuse_smtp(stage: Stage, consumers: Consumers) -> dict[str, Any]:
    """The SMTP server answers 451 to every recipient for a while, then accepts again."""
    return _outage(stage, lambda: stage.sink.refuse(True), lambda: stage.sink.refuse(False), "smtp")
