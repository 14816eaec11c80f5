"""The beat schedule: one relay sweep per interval (exactly one beat process per deployment)."""

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
        "expire-unconfirmed-cases": {
            "task": "cases.expire_unconfirmed",
            "schedule": 3600.0,
            "options": {"expires": 3600.0},
        },
    }
