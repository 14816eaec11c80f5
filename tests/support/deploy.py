"""The deploy/ files as a test uses them: the nginx site rendered with the test's ports and certificate,
the systemd units' command lines mapped onto this checkout, the env file read as systemd reads it, and
services started in their own process groups (always stopped, whatever happened)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NGINX = Path("/usr/sbin/nginx")
PLACEHOLDER = re.compile(r"@([A-Z_]+)@")
# Where the units expect things (README: "Running in production"), and where they are in this checkout.
UNIT_APP_DIR = "/srv/casework/app"
UNIT_STATE_DIR = "/var/lib/casework"


def render_site(values: Mapping[str, str]) -> str:
    """deploy/nginx/casework.conf with every @PLACEHOLDER@ filled in; a missing or unknown one is an error."""
    text = (DEPLOY / "nginx" / "casework.conf").read_text()
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    used = set(PLACEHOLDER.findall(body))
    if used != set(values):
        raise AssertionError(f"the site's placeholders are {sorted(used)}, the test fills {sorted(values)}")
    return PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), text)


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines as systemd's EnvironmentFile= reads them (comments skipped, quotes removed)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        values[key] = value
    return values


def unit_command(unit: str, state_dir: Path, instance: str = "") -> list[str]:
    """The unit's ``ExecStart=`` as this checkout runs it: its .venv, its deploy/, the test's state folder."""
    text = (DEPLOY / "systemd" / unit).read_text()
    for required in ("EnvironmentFile=/etc/casework/casework.env", "User=casework",
                     f"WorkingDirectory={UNIT_APP_DIR}"):
        if required not in text:
            raise AssertionError(f"{unit} has no {required}")
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    specifiers = {"%i": instance, "%H": socket.gethostname(), "%%": "%"}
    command = re.sub(r"%[iH%]", lambda match: specifiers[match.group(0)], exec_start.removeprefix("ExecStart="))
    argv = []
    for word in shlex.split(command):
        word = word.replace(f"{UNIT_APP_DIR}/.venv/bin/", f"{Path(sys.executable).parent}/")
        word = word.replace(UNIT_APP_DIR, str(ROOT)).replace(UNIT_STATE_DIR, str(state_dir))
        argv.append(word)
    return argv


def spki_sha256(certificate_pem: bytes) -> str:
    """Base64 of the SHA-256 of a certificate's public key, as chromium's --ignore-certificate-errors-spki-list
    takes it: that one key is trusted, any other certificate error still stops the browser."""
    certificate = x509.load_pem_x509_certificate(certificate_pem)
    spki = certificate.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


class Service:
    """One process (and whatever it forks) in its own process group, its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log_dir: Path) -> None:
        self.name, self.argv, self.env = name, argv, dict(env)
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        """Until ``ready()``; a failure (with the log) if the process exits first or time runs out."""
        deadline = time.monotonic() + timeout
        while not ready():
            if not self.running:
                raise AssertionError(f"{self.name} exited before {what}:\n{self.log()[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no {what} after {timeout}s:\n{self.log()[-4000:]}")
            time.sleep(0.1)

    def signal(self, number: signal.Signals) -> None:
        """To the whole process group: the service and everything it forked."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, number)


def stop_all(services: Iterable[Service], grace: float = 8.0) -> None:
    """As systemd's ``KillMode=mixed`` stops a unit: SIGTERM to each main process at once (gunicorn, Celery
    and nginx each stop their own children on it), then SIGKILL to whatever is left of the groups after
    ``grace`` seconds. A group's number stays taken while any member lives, so that SIGKILL reaches our
    leftovers or no one."""
    started = [service for service in services if service.process is not None]
    for service in started:
        assert service.process is not None
        if service.running:
            service.process.terminate()
    deadline = time.monotonic() + grace
    for service in started:
        assert service.process is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            service.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
    for service in started:
        assert service.process is not None
        service.signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            service.process.wait(timeout=5)


def run_command(argv: list[str], env: Mapping[str, str], timeout: float = 120) -> str:
    """A one-off command (``flask --app casework …``); its output, or a failure that shows it."""
    result = subprocess.run(argv, env=dict(env), cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                            check=False)
    if result.returncode != 0:
        raise AssertionError(f"{shlex.join(argv)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout
