"""Debian's chromium through Playwright, and the app served from a thread, for the browser tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from casework.web import limiter
from tests.support.http import serve

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]


def skip_without_chromium() -> None:
    """At a browser test module's top: skip it where chromium is missing, unless CI demands the browser."""
    if CHROMIUM.exists():
        return
    if os.environ.get("CASEWORK_REQUIRE_BROWSER"):
        raise RuntimeError("browser tests need Debian's chromium: apt-get install -y chromium")
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)


@contextmanager
def served_app(app: Flask) -> Iterator[str]:
    """The app on a real socket (rate limits reset) for as long as the block runs; its base URL."""
    limiter.reset()
    with serve(app) as url:
        yield url


def launch(playwright: Any) -> Any:
    """Debian's chromium (never a downloaded browser), without a sandbox as this machine needs."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
