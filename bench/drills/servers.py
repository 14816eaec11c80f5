"""The processes a drill runs and breaks: a private Redis, a private PostgreSQL cluster, gunicorn, Celery.

Each is started by the drill on a free port, in its own process group, and ended by its own id. The private
servers let a drill stop and start the broker or the database without touching anyone else's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from casework import migrate
from tests.support.smtp import free_port

PG_BIN = Path(os.environ.get("CASEWORK_DRILLS_PG_BIN", "/usr/lib/postgresql/15/bin"))
PROJECT = Path(__file__).resolve().parents[2]


def _wait(what: str, ready: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(ready) and ready():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not start in {timeout:.0f} s")


def _end_group(process: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    """Signal the process group this drill started, then make sure nothing of it is left."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


class PrivateRedis:
    """``redis-server`` without persistence: a restart starts empty, as a lost broker would."""

    def __init__(self, workdir: Path) -> None:
        self.workdir, self.port = workdir, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        log = (self.workdir / "redis.log").open("ab")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        _wait("redis-server", self._answers, 20)

    def stop(self) -> None:
        _end_group(self.process)


class PrivatePostgres:
    """A PostgreSQL cluster of its own (trust authentication) that a drill may stop and start again."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="casework-drills-pg-"))
        self.data, self.port = self.dir / "data", free_port()
        self.running = False

    def _run(self, *args: str) -> None:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        self.start()

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"), "-o", options, "-w", "start")
        self.running = True

    def stop(self) -> None:
        """A fast shutdown: open sessions are ended at once, their transactions rolled back."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        self.running = False

    def destroy(self) -> None:
        if self.running:
            with contextlib.suppress(subprocess.CalledProcessError):
                self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def fresh_database(url: str) -> None:
    """Drop and create the drill's database, then migrate it (only ever a ``casework_drills`` database)."""
    name = make_url(url).database or ""
    if not name.startswith("casework_drills"):
        raise ValueError(f"a drill only ever empties a casework_drills database, not {name!r}")
    engine = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    migrate.upgrade(url)


def app_env(settings: dict[str, object]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")}
    env.update({f"CASEWORK_{k.upper()}": str(v) for k, v in settings.items()})
    return env


class Gunicorn:
    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env, self.workdir, self.port = env, workdir, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def start(self) -> None:
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        log = (self.workdir / "gunicorn.log").open("ab")
        self.process = subprocess.Popen(
            [gunicorn, "-w", "2", "-b", f"127.0.0.1:{self.port}", "--timeout", "60", "--log-level", "warning",
             "casework:create_app()"], env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=PROJECT)
        log.close()
        _wait("gunicorn", self._answers, 60)

    def stop(self) -> None:
        _end_group(self.process)


class CeleryProcess:
    """One Celery worker (solo pool) or the one beat, in its own process group so SIGKILL takes all of it."""

    def __init__(self, env: dict[str, str], workdir: Path, name: str, beat: bool = False) -> None:
        self.env, self.name, self.beat = env, name, beat
        self.log_path = workdir / f"{name}.log"
        self.schedule = workdir / f"{name}-schedule"
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def _log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, wait: bool = True) -> None:
        celery = str(Path(sys.executable).with_name("celery"))
        if self.beat:
            args = [celery, "-A", "worker.app", "beat", "--loglevel", "INFO", "--schedule", str(self.schedule)]
            marker = "beat: Starting"
        else:
            args = [celery, "-A", "worker.app", "worker", "--pool", "solo", "--loglevel", "INFO",
                    "--without-mingle", "--without-gossip", "--without-heartbeat",
                    "-Q", self.env["CASEWORK_QUEUE_NAME"], "-n", f"{self.name}-{os.getpid()}@%h"]
            marker = " ready."
        seen = self._log().count(marker)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True, cwd=PROJECT)
        log.close()
        if wait:
            _wait(self.name, lambda: self._log().count(marker) > seen, 90)

    def kill(self) -> None:
        """kill -9, whatever it is doing (a render, an SMTP conversation, a commit)."""
        if self.process is not None and self.process.poll() is None:
            self.kills += 1
        _end_group(self.process, signal.SIGKILL)

    def stop(self) -> None:
        _end_group(self.process)
