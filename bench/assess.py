"""Assessments per second, in-process and over HTTP, with median and p95 per assessment.

Baselines in the same run: validating the request alone (in-process), and GET /api/v1/providers
(over HTTP: the cost of a request that does no assessment).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from casework import create_app
from casework.assess import assess, consumer_today
from casework.cases.intake import parse_assessment
from casework.db import utcnow
from tests.support.http import JsonClient, serve

N = int(os.environ.get("CASEWORK_BENCH_ASSESSMENTS", "3000"))
HTTP_N = int(os.environ.get("CASEWORK_BENCH_HTTP", "500"))

BODIES: list[dict[str, Any]] = [
    {"provider": "coursera", "plan": "coursera-plus-annual", "billing_channel": "direct", "country": "AU",
     "payment_date": "2026-11-20", "amount": {"value": "599.00", "currency": "AUD"},
     "requested_outcome": "cancel_and_refund"},
    {"provider": "coursera", "plan": "coursera-plus-monthly", "billing_channel": "direct", "country": "US",
     "trial_start_date": "2026-11-25", "requested_outcome": "cancel"},
    {"provider": "coursera", "plan": "specialization-monthly", "billing_channel": "direct", "country": "GB",
     "payment_date": "2025-01-31", "requested_outcome": "cancel_and_refund",
     "amount": {"value": "49.00", "currency": "USD"}},
    {"provider": "coursera", "plan": "guided-project", "billing_channel": "apple_app_store", "country": "DE",
     "payment_date": "2026-11-01", "requested_outcome": "cancel_and_refund"},
]


def summary(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {"median_ms": round(statistics.median(ordered) * 1000, 4),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 4),
            "per_second": round(len(ordered) / sum(ordered), 1)}


def timed(fn: Callable[[], Any], count: int) -> list[float]:
    out = []
    for _ in range(count):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def main() -> dict[str, Any]:
    now = utcnow()
    raw = [json.dumps(b).encode() for b in BODIES]
    parsed = [parse_assessment(r, now) for r in raw]
    from casework.api.catalog import facts_of

    prepared = [(facts_of(request, trial), provider, consumer_today(now, request.zone()))
                for request, provider, trial in parsed]
    counter = iter(range(10**9))

    def engine_only() -> None:
        facts, provider, today = prepared[next(counter) % len(prepared)]
        assess(facts, provider, today)

    def validate_only() -> None:
        parse_assessment(raw[next(counter) % len(raw)], now)

    def validate_and_assess() -> None:
        request, provider, trial = parse_assessment(raw[next(counter) % len(raw)], now)
        assess(facts_of(request, trial), provider, consumer_today(now, request.zone()))

    for fn in (engine_only, validate_only, validate_and_assess):  # warm up
        timed(fn, 200)
    engine = timed(engine_only, N)
    validation = timed(validate_only, N)
    both = timed(validate_and_assess, N)

    var_dir = Path(tempfile.mkdtemp(prefix="casework-bench-assess-"))
    app = create_app({"env": "testing", "var_dir": var_dir, "ratelimit_enabled": False})
    with serve(app) as base_url:
        client = JsonClient(base_url)
        for body in BODIES:
            assert client.post("/api/v1/assessments", body).status == 200
        http_assess = timed(lambda: client.post("/api/v1/assessments", BODIES[next(counter) % len(BODIES)]), HTTP_N)
        http_baseline = timed(lambda: client.get("/api/v1/providers"), HTTP_N)
    return {
        "benchmark": "assess",
        "in_process": {"assess": summary(engine), "baseline_validate_only": summary(validation),
                       "validate_and_assess": summary(both)},
        "http": {"post_assessments": summary(http_assess), "baseline_get_providers": summary(http_baseline),
                 "ratio_median_to_baseline": round(
                     statistics.median(http_assess) / statistics.median(http_baseline), 2)},
        "goal": "p95 of in-process assess under 1 ms",
    }
