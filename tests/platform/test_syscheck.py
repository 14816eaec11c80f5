"""The set-up's package step, run as ``make`` runs it, against a stand-in dpkg and apt on PATH.

The stand-ins record what they were asked and answer like the real ones (installed or not; apt failing as
it does without a network), so the checks run on any machine without touching its packages.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from casework import syscheck

SCRIPT = Path(syscheck.__file__)


def fake_tools(folder: Path, installed: set[str], apt_fails: bool = False) -> Path:
    """dpkg-query answers from ``installed``; apt-get logs its arguments and, on install, "installs"."""
    folder.mkdir()
    state = folder / "installed"
    state.write_text("".join(f"{name}\n" for name in sorted(installed)))
    log = folder / "apt.log"
    (folder / "dpkg-query").write_text(
        "#!/bin/sh\n"
        f'for last; do :; done\nif grep -qx "$last" {state}; then printf "install ok installed"; exit 0; fi\n'
        'echo "dpkg-query: no packages found matching $last" >&2; exit 1\n')
    failure = 'echo "E: Failed to fetch http://deb.example/ Could not resolve host" >&2; exit 100\n'
    (folder / "apt-get").write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {log}\n'
        + (failure if apt_fails else "")
        + 'if [ "$1" = install ]; then for p; do case "$p" in -*|install) ;; *) '
        + f'echo "$p" >> {state};; esac; done; fi\n')
    for tool in ("dpkg-query", "apt-get"):
        (folder / tool).chmod(0o755)
    return folder


def run(tools: Path, purpose: str, as_nobody: bool = False) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{tools}:/usr/bin:/bin", "LANG": "C.UTF-8"}
    command = [sys.executable, str(SCRIPT), purpose]
    if as_nobody:
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def apt_calls(tools: Path) -> list[str]:
    log = tools / "apt.log"
    return log.read_text().splitlines() if log.exists() else []


def test_each_purpose_adds_to_the_one_before() -> None:
    assert syscheck.needed("run") == list(syscheck.PACKAGES["run"])
    assert syscheck.needed("test") == [*syscheck.PACKAGES["run"], *syscheck.PACKAGES["test"]]
    assert syscheck.needed("bench")[-1] == "wrk"
    assert {"libharfbuzz-subset0", "fonts-noto-core", "fonts-noto-cjk"} <= set(syscheck.needed("run"))
    assert {"chromium", "nginx"} <= set(syscheck.needed("test")) - set(syscheck.needed("run"))


@pytest.mark.skipif(os.geteuid() != 0, reason="runs apt as root, as make does on a fresh machine")
def test_missing_packages_are_installed_after_one_update(tmp_path: Path) -> None:
    tools = fake_tools(tmp_path / "bin", installed={"libpango-1.0-0", "fontconfig"})
    result = run(tools, "test")
    assert result.returncode == 0, result.stderr
    update, install = apt_calls(tools)
    assert update.startswith("update")
    assert install.split()[:2] == ["install", "-y"]
    asked = set(install.split()) - {"install", "-y", "-qq", "--no-install-recommends"}
    assert asked == set(syscheck.needed("test")) - {"libpango-1.0-0", "fontconfig"}
    assert run(tools, "test").returncode == 0
    assert len(apt_calls(tools)) == 2  # nothing missing any more: apt is not called again


@pytest.mark.skipif(os.geteuid() != 0, reason="runs apt as root, as make does on a fresh machine")
def test_a_failing_apt_shows_its_error_and_the_next_run_tries_again(tmp_path: Path) -> None:
    tools = fake_tools(tmp_path / "bin", installed=set(), apt_fails=True)
    first = run(tools, "run")
    assert first.returncode == 1
    assert "Could not resolve host" in first.stderr  # apt's own words reach the person
    assert "Run the same make command again" in first.stderr
    assert [call.split()[0] for call in apt_calls(tools)] == ["update"]  # stopped before installing
    run(tools, "run")
    assert [call.split()[0] for call in apt_calls(tools)] == ["update", "update"]


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root to drop to nobody")
def test_without_root_or_sudo_it_stops_with_the_exact_command() -> None:
    with tempfile.TemporaryDirectory() as shared:  # pytest's own folders are private to root
        Path(shared).chmod(0o755)
        tools = fake_tools(Path(shared) / "bin", installed=set(syscheck.needed("run")) - {"fonts-noto-cjk"})
        result = run(tools, "run", as_nobody=True)
        calls = apt_calls(tools)
    assert result.returncode == 1
    assert "sudo apt-get install -y fonts-noto-cjk" in result.stderr
    assert calls == []
    assert len(result.stderr.strip().splitlines()) == 1  # one sentence with the command
