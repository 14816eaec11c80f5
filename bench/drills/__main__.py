"""``python -m bench.drills [kill9 broker postgres smtp]``: run the drills, print a table and the JSON.

Exits non-zero when any drill lost or duplicated something, or failed a check of its own (not settled in
time, a half-saved case, an answer outside the API's shapes).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from bench.drills import stage
from bench.drills.scale import scale_from_environment
from bench.drills.servers import PrivatePostgres
from casework.db import utcnow

DATABASE_URL = os.environ.get("CASEWORK_DRILLS_DATABASE_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/casework_drills")
FAULTS = {
    "kill9": ("kill -9 workers", stage.kill_workers),
    "broker": ("broker stopped", stage.stop_broker),
    "postgres": ("PostgreSQL restarted", stage.restart_postgres),
    "smtp": ("SMTP refusing (4xx)", stage.refuse_smtp),
}
COLUMNS = ("fault", "cases filed", "letters expected", "letters found", "e-mails expected",
           "distinct Message-IDs found", "lost", "duplicated", "raw SMTP deliveries")


def run_one(name: str) -> stage.Result:
    scale = scale_from_environment()
    _, act = FAULTS[name]
    if name != "postgres":
        return stage.run(name, scale, f"{DATABASE_URL}_{name}", act)
    postgres = PrivatePostgres()
    try:
        postgres.init()
        return stage.run(name, scale, postgres.url("casework_drills_postgres"), act, postgres)
    except Exception as exc:
        return stage.Result(name, None, problems=[f"private PostgreSQL: {type(exc).__name__}: {exc}"])
    finally:
        postgres.destroy()


def row(result: stage.Result) -> list[str]:
    label = FAULTS[result.fault][0]
    f = result.figures
    if f is None:
        return [label, *["-"] * (len(COLUMNS) - 1)]
    return [label, *(str(v) for v in (f.cases_filed, f.letters_expected, f.letters_found, f.emails_expected,
                                     f.message_ids_found, f.lost, f.duplicated, f.smtp_deliveries))]


def table(results: list[stage.Result]) -> str:
    rows = [list(COLUMNS), *(row(r) for r in results)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = [" | ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(r, widths,
                                                                                                strict=True)))
             for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def document(results: list[stage.Result], seconds: float) -> dict[str, Any]:
    scale = scale_from_environment()
    return {
        "benchmark": "drills", "finished_at": utcnow().isoformat(timespec="seconds"), "seconds": round(seconds, 1),
        "scale": scale.as_dict(), "passed": all(r.passed for r in results),
        "drills": [{"fault": r.fault, "label": FAULTS[r.fault][0], "passed": r.passed, "problems": r.problems,
                    **({} if r.figures is None else {
                        "cases_filed": r.figures.cases_filed, "letters_expected": r.figures.letters_expected,
                        "letters_found": r.figures.letters_found, "emails_expected": r.figures.emails_expected,
                        "distinct_message_ids_found": r.figures.message_ids_found, "lost": r.figures.lost,
                        "duplicated": r.figures.duplicated, "raw_smtp_deliveries": r.figures.smtp_deliveries,
                        "checks": r.figures.checks}),
                    "facts": r.facts} for r in results],
    }


def main(names: list[str]) -> int:
    unknown = [n for n in names if n not in FAULTS]
    if unknown:
        print(f"unknown drill {', '.join(unknown)}; choose from {', '.join(FAULTS)}", file=sys.stderr)
        return 2
    started = time.monotonic()
    results = [run_one(name) for name in names or list(FAULTS)]
    print(table(results))
    print(json.dumps(document(results, time.monotonic() - started), indent=2), flush=True)
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
