"""Columns every background-job row carries.

A job row is the truth about a piece of background work; the broker only carries wake-ups.
``lease_until`` and ``claim_token`` make a claim exclusive yet recoverable: a worker killed while
holding a lease simply lets it run out, and the relay dispatches the row again.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from casework.db import utcnow


class JobMixin:
    status: Mapped[str]
    attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[dt.datetime | None]
    claim_token: Mapped[str | None] = mapped_column(String(32))
    # When the relay should dispatch this row again if it is still pending (first try, retry back-off).
    relay_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
