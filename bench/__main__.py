"""Run every benchmark and print one JSON document per line."""

from __future__ import annotations

import json

from bench import filing_to_outbox

if __name__ == "__main__":
    print(json.dumps(filing_to_outbox.main(), indent=2))
