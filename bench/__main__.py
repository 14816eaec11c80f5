"""Run every benchmark (or those named) and print one JSON document each."""

from __future__ import annotations

import json
import sys

from bench import assess, dashboard, filing_to_outbox, intake, letters, load, reminders_sweep, staff_queue

BENCHMARKS = {"assess": assess.main, "dashboard": dashboard.main, "filing_to_outbox": filing_to_outbox.main,
              "intake": intake.main, "letters": letters.main, "load": load.main, "queue": staff_queue.main,
              "reminders_sweep": reminders_sweep.main}

if __name__ == "__main__":
    for name in sys.argv[1:] or list(BENCHMARKS):
        print(json.dumps(BENCHMARKS[name](), indent=2), flush=True)
