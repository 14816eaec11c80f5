"""The beat schedule: the relay, the deadline sweep and expiry (exactly one beat process per deployment)."""

from __future__ import annotations

from typing import Any

from casework.config import Settings


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        "relay-pending-jobs": {
            "task": "jobs.relay",
            "schedule": settings.relay_interval_seconds,
            "options": {"expires": settings.relay_interval_seconds},
        },
        "deadlines-sweep": {
            "task": "deadlines.sweep",
            "schedule": 60.0,
            "options": {"expires": 60.0},
        },
        "expire-unconfirmed-cases": {
            "task": "cases.expire_unconfirmed",
            "schedule": 3600.0,
            "options": {"expires": 3600.0},
        },
    }
