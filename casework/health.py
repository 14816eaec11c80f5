"""``GET /healthz``: is the database answering, the broker reachable, the SMTP server there.

Unreachable servers are reported, never fatal: the processes keep retrying on their own.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from kombu import Connection
from sqlalchemy import text

from casework.access import route_rule
from casework.config import Settings
from casework.jobs.dispatch import broker_options
from casework.mail.transports import make_transport
from casework.runtime import runtime_of
from casework.version import __version__

bp = Blueprint("health", __name__)
_CACHE_SECONDS = 5.0
_cache: dict[str, tuple[float, str]] = {}


def _cached(name: str, probe: Any) -> str:
    now = time.monotonic()
    hit = _cache.get(name)
    if hit and now - hit[0] < _CACHE_SECONDS:
        return hit[1]
    result: str = probe()
    _cache[name] = (now, result)
    return result


def broker_status(settings: Settings) -> str:
    options = broker_options(settings)
    try:
        with Connection(settings.broker_url, connect_timeout=2,
                        transport_options=options["broker_transport_options"]) as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception:
        return "unreachable"
    return "ok"


@bp.get("/healthz")
@route_rule("anonymous")
def healthz() -> ResponseReturnValue:
    runtime = runtime_of()
    settings = runtime.settings
    try:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        database = "ok"
    except Exception:
        database = "unreachable"
    broker = _cached("broker", lambda: broker_status(settings))
    smtp = _cached("smtp", lambda: make_transport(settings).check())
    if database != "ok":
        status = "down"
    elif broker != "ok" or smtp == "unreachable":
        status = "degraded"
    else:
        status = "ok"
    body = {"status": status, "database": database, "broker": broker, "smtp": smtp, "version": __version__}
    return jsonify(body), 503 if status == "down" else 200
