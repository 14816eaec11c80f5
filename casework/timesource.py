"""The one clock of a process: real UTC time, moved by a fixed offset in tests.

Every "now" in casework (the web app, the worker, the assessment, column defaults) comes from
``utcnow`` here. Tests hand the same offset to the app and to the worker processes
(``CASEWORK_CLOCK_OFFSET_SECONDS``, accepted with ``CASEWORK_ENV=testing`` only), so the whole
system agrees on a "today" the test chose, while time still passes for leases and timeouts.
"""

from __future__ import annotations

import datetime as dt

_offset = dt.timedelta(0)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + _offset


def set_offset(seconds: float) -> None:
    """Move this process's clock; called once at start-up from the settings."""
    global _offset
    _offset = dt.timedelta(seconds=seconds)


def offset_to(instant: dt.datetime, real_now: dt.datetime | None = None) -> float:
    """The offset, in seconds, that makes the clock read ``instant`` at ``real_now`` (default: now)."""
    return (instant - (real_now or dt.datetime.now(dt.UTC))).total_seconds()
