"""How big a drill run is: the full size by default, ``CASEWORK_DRILLS_SCALE=small`` for CI.

Every figure can also be set on its own (``CASEWORK_DRILLS_CASES``, ``CASEWORK_DRILLS_OUTAGE_SECONDS``, ...).
The job settings are shorter than production's so that recovery after a kill takes seconds, not the
five-minute lease; they are printed with the results.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

PREFIX = "CASEWORK_DRILLS_"


@dataclass(frozen=True)
class Scale:
    name: str
    cases: int
    # Filing is spread over this long, so that each fault happens while cases are being filed.
    filing_seconds: float
    outage_seconds: float
    kill_every_seconds: float
    workers: int
    settle_timeout_seconds: float
    relay_interval_seconds: float = 2.0
    relay_after_seconds: float = 15.0
    job_lease_seconds: float = 20.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


SCALES = {
    "full": Scale("full", cases=200, filing_seconds=90.0, outage_seconds=60.0, kill_every_seconds=4.0,
                  workers=3, settle_timeout_seconds=900.0),
    "small": Scale("small", cases=20, filing_seconds=15.0, outage_seconds=10.0, kill_every_seconds=3.0,
                   workers=2, settle_timeout_seconds=300.0),
}


def scale_from_environment() -> Scale:
    name = os.environ.get(PREFIX + "SCALE", "full")
    if name not in SCALES:
        raise SystemExit(f"{PREFIX}SCALE must be one of {', '.join(SCALES)}, not {name!r}.")
    values = SCALES[name].as_dict()
    for field, default in values.items():
        raw = os.environ.get(PREFIX + field.upper())
        if raw is None or field == "name":
            continue
        try:
            values[field] = type(default)(raw)
        except ValueError:
            raise SystemExit(f"{PREFIX}{field.upper()} must be a number, not {raw!r}.") from None
    return Scale(**values)
