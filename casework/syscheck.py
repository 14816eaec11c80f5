"""The Debian packages casework needs, checked and installed before anything else starts.

Standard library only, so it runs before the virtual environment exists. This is the one list of
system packages: the Makefile calls it for ``make run``, ``make test`` and ``make bench`` (CI through
``make test``). Missing packages are installed with apt when we are root or ``sudo -n`` works;
otherwise it prints the exact command and exits non-zero. Nothing is remembered between runs, so
after a failed ``apt-get`` (no network, say) the next run simply tries again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

# What each purpose needs, on top of the purposes before it.
PACKAGES: dict[str, tuple[str, ...]] = {
    # WeasyPrint's libraries and the fonts the letters are set in (Latin, Greek, Cyrillic and CJK names, and the
    # emoji some people put in their names: without a font for them a letter shows an empty box).
    "run": ("libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0", "fontconfig",
            "fonts-noto-core", "fonts-noto-cjk", "fonts-noto-color-emoji"),
    # The browser tests' chromium, the TLS proxy of the production-shaped test, poppler's pdftotext and
    # pdftoppm for reading letters as a person would, and the PostgreSQL client tools the CI script and
    # the failure drills use.
    "test": ("chromium", "nginx", "poppler-utils", "postgresql-client"),
    # The HTTP load generator of the benchmarks.
    "bench": ("wrk",),
}
PURPOSES = tuple(PACKAGES)


def needed(purpose: str) -> list[str]:
    """Every package the purpose needs, including those of the purposes it builds on."""
    packages: list[str] = []
    for name in PURPOSES:
        packages += PACKAGES[name]
        if name == purpose:
            return packages
    raise ValueError(f"unknown purpose {purpose!r}; one of {', '.join(PURPOSES)}")


def is_installed(package: str) -> bool:
    result = subprocess.run(  # noqa: S603
        ["dpkg-query", "-W", "-f=${Status}", package],  # noqa: S607
        capture_output=True, text=True, check=False,
    )
    return result.returncode == 0 and result.stdout.strip().endswith(" installed")


def missing_packages(purpose: str) -> list[str]:
    return [package for package in needed(purpose) if not is_installed(package)]


def privilege_prefix() -> list[str] | None:
    """``[]`` as root, ``["sudo", "-n"]`` where sudo works without a password, else None."""
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(
        ["sudo", "-n", "true"], capture_output=True, check=False  # noqa: S607
    ).returncode == 0:
        return ["sudo", "-n"]
    return None


def install(prefix: list[str], packages: list[str]) -> bool:
    """``apt-get update`` once, then install; apt's own output is shown so its error can be read."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"casework: installing system packages: {' '.join(packages)}", file=sys.stderr, flush=True)
    steps = [
        [*prefix, "apt-get", "update", "-qq"],
        [*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
    ]
    for step in steps:
        if subprocess.run(step, env=env, check=False).returncode != 0:  # noqa: S603
            print(f"casework: `{' '.join(step)}` failed (its error is above); nothing was changed by this "
                  "step. Run the same make command again to retry.", file=sys.stderr)
            return False
    return True


def main(argv: list[str]) -> int:
    purpose = argv[1] if len(argv) > 1 else "run"
    if purpose not in PACKAGES:
        print(f"usage: syscheck.py [{'|'.join(PURPOSES)}]", file=sys.stderr)
        return 2
    if shutil.which("dpkg-query") is None:
        print("casework: this is not a Debian or Ubuntu system; install the equivalents of these packages: "
              + " ".join(needed(purpose)), file=sys.stderr)
        return 0
    missing = missing_packages(purpose)
    if not missing:
        return 0
    prefix = privilege_prefix()
    if prefix is None:
        print("casework needs system packages that are missing, and cannot install them without root. "
              f"Install them with: sudo apt-get install -y {' '.join(missing)}", file=sys.stderr)
        return 1
    if not install(prefix, missing):
        return 1
    still_missing = missing_packages(purpose)
    if still_missing:
        print(f"casework: apt-get finished but these are still not installed: {' '.join(still_missing)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
