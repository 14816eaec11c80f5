"""Letter rendering in one process: the worker's renderer against a naive one, and memory over many letters.

The renderer keeps one ``FontConfiguration`` and one parsed stylesheet for the process. The baseline, measured in
the same run and interleaved letter by letter, builds a new font configuration, parses the stylesheet again and
renders the same HTML source each time. The snapshot is made by the real code from a realistic case (a German
consumer, annual plan, refund asked for, two law clauses, one page). Then 1,000 letters through the renderer, reading
VmRSS from ``/proc/self/status`` before and after.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import statistics
import time
from pathlib import Path
from typing import Any

from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from casework.cases.filing import assessment_of, fact_columns
from casework.cases.models import Case
from casework.letters.fetcher import ASSETS_DIR, AssetsOnlyFetcher
from casework.letters.render import LetterRenderer
from casework.letters.services import pending_letter_values
from tests.support.factories import case_facts

PAIRS = int(os.environ.get("CASEWORK_BENCH_LETTER_PAIRS", "30"))
LETTERS = int(os.environ.get("CASEWORK_BENCH_LETTERS", "1000"))
KIND = "cancellation"


LETTER_AT = dt.datetime(2026, 11, 27, 10, 30, tzinfo=dt.UTC)


def realistic_snapshot(now: dt.datetime = LETTER_AT) -> dict[str, Any]:
    """A cancellation letter's snapshot, as filing makes it (a transient case: nothing is stored).

    A German consumer, annual plan paid a week before the letter, subscribed since the summer (so no withdrawal
    clause, and two clauses of the BGB), refund asked for within the money-back window: one page, two clauses.
    """
    day = now.date()
    facts = case_facts(account_identifier="jane.consumer@example.com", country="DE", timezone="Europe/Berlin",
                       amount_currency="EUR", consumer_postal_address="Beispielstraße 1\n10115 Berlin",
                       payment_date=day - dt.timedelta(days=7),
                       subscription_start_date=day - dt.timedelta(days=150))
    case = Case(reference="CW-2026-7K3M9QXD", **fact_columns(facts, "coursera@2026-02-06"),
                assessment=assessment_of(facts, now))
    snapshot: dict[str, Any] = pending_letter_values(case, KIND, 1, now,
                                                     base_url="https://casework.example")["data_snapshot"]
    return snapshot


def naive_render(source: str, css_source: str) -> bytes:
    """Everything built again for one letter: fonts, stylesheet, document."""
    fonts = FontConfiguration()
    base = ASSETS_DIR.as_uri() + "/"
    stylesheet = CSS(string=css_source, font_config=fonts, url_fetcher=AssetsOnlyFetcher(), base_url=base)
    document = HTML(string=source, base_url=base, url_fetcher=AssetsOnlyFetcher()).render(
        font_config=fonts, stylesheets=[stylesheet], pdf_tags=True)
    pdf: bytes = document.write_pdf(pdf_tags=True)
    return pdf


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def timed_ms(action: Any) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def main() -> dict[str, Any]:
    snapshot = realistic_snapshot()
    renderer = LetterRenderer()
    source = renderer.html(KIND, snapshot)
    pages = renderer.render(KIND, snapshot).pages  # warm both paths (imports, caches) before measuring
    naive_render(source, renderer.css_source)

    ours: list[float] = []
    naive: list[float] = []
    for _ in range(PAIRS):
        ours.append(timed_ms(lambda: renderer.render(KIND, snapshot)))
        naive.append(timed_ms(lambda: naive_render(source, renderer.css_source)))

    gc.collect()
    rss_before = rss_kib()
    start = time.perf_counter()
    for _ in range(LETTERS):
        renderer.render(KIND, snapshot)
    elapsed = time.perf_counter() - start
    gc.collect()
    rss_after = rss_kib()

    ours_median, naive_median = statistics.median(ours), statistics.median(naive)
    return {
        "benchmark": "letters",
        "letter": {"kind": KIND, "pages": pages, "law_clauses": len(snapshot["law"])},
        "interleaved_pairs": PAIRS,
        "renderer_median_ms": round(ours_median, 1),
        "naive_median_ms": round(naive_median, 1),
        "ratio_to_naive": round(ours_median / naive_median, 3),
        "ratio_goal": 0.8,
        "letters": LETTERS,
        "letters_per_second": round(LETTERS / elapsed, 2),
        "ms_per_letter_over_run": round(elapsed * 1000 / LETTERS, 1),
        "rss_growth_mb": round((rss_after - rss_before) / 1024, 1),
        "rss_growth_mb_per_1000": round((rss_after - rss_before) / 1024 * 1000 / LETTERS, 1),
        "rss_goal_mb_per_1000": 30,
        "rss_mb_after": round(rss_after / 1024, 1),
    }
