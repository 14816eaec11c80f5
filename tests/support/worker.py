"""A real Celery worker with an embedded beat, in its own process group, killable with SIGKILL."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

READY_TIMEOUT = 60.0


class WorkerProcess:
    def __init__(
        self, env: dict[str, str], var_dir: Path, name: str, pool: tuple[str, ...] = ("solo",)
    ) -> None:
        self.env, self.var_dir, self.name, self.pool = env, var_dir, name, pool
        self.log_path = var_dir / f"worker-{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        celery = str(Path(sys.executable).with_name("celery"))
        queue = self.env["CASEWORK_QUEUE_NAME"]
        args = [
            celery, "-A", "worker.app", "worker", "--pool", *self.pool, "--loglevel", "INFO",
            "--without-mingle", "--without-gossip", "--without-heartbeat", "-Q", queue,
            "-n", f"{self.name}-{os.getpid()}@%h",
            "-B", "--schedule", str(self.var_dir / f"beat-{self.name}"),
        ]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            args, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        log.close()
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log()}")
            if " ready." in self.log():
                return
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready in {READY_TIMEOUT}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the whole process group: the worker, its beat, anything it forked."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
