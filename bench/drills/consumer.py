"""The consumers of a drill, over HTTP as outside programs: file a case (with an ``Idempotency-Key``,
retrying until it is answered), then confirm it with the code their e-mail brings.

Every answer is tallied, so a drill can say what clients saw while a server was down: a 503 must be
the API's ``{"error": "unavailable", "message": ...}`` and nothing else.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench.drills.sink import Sink

CODE = re.compile(r"Your confirmation code is ([0-9A-Z-]+)")
RETRY_PAUSE = 0.5
FILING_THREADS = 8


@dataclass
class Consumer:
    number: int
    key: str
    email: str
    company_email: str
    reference: str | None = None
    token: str | None = None
    confirmed: bool = False
    filed_by: int | None = None  # the status that answered the filing: 201, or 200 for a replayed key


def case_body(consumer: Consumer) -> dict[str, Any]:
    return {
        "provider": "other", "plan": "other-monthly", "billing_channel": "direct", "country": "AU",
        "timezone": "Australia/Melbourne", "payment_date": "2026-11-20",
        "amount": {"value": "19.99", "currency": "AUD"}, "requested_outcome": "cancel_and_refund",
        "consumer": {"name": f"Drill Consumer {consumer.number}", "email": consumer.email,
                     "postal_address": "12 Example Street\nBrunswick VIC 3056", "phone": None},
        "account_identifier": consumer.email, "details": None,
        "company": {"name": "Acme Streaming", "email": consumer.company_email},
        "consent": {"send_in_my_name": True},
    }


class Consumers:
    def __init__(self, port: int, cases: int, tag: str, give_up_after: float) -> None:
        self.port = port
        self.give_up_at = time.monotonic() + give_up_after  # a server that never comes back ends the drill
        self.people = [Consumer(n, f"drill-{tag}-{n}", f"consumer-{n}@drill.example",
                                f"cancel-{n}@acme.example") for n in range(cases)]
        self.by_email = {c.email: c for c in self.people}
        self.answers: Counter[str] = Counter()
        self.unexpected: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()

    # --- HTTP -------------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Any = None,
                 headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """One request on a new connection; status 0 means the connection itself failed."""
        sent = {"Content-Type": "application/json", **(headers or {})}
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=None if body is None else json.dumps(body), headers=sent)
            response = connection.getresponse()
            raw = response.read()
            status = response.status
        except OSError as exc:
            self._tally(method, path, 0, f"{type(exc).__name__}")
            return 0, None
        finally:
            connection.close()
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        error = data.get("error") if isinstance(data, dict) else None
        self._tally(method, path, status, error)
        if status == 503 and not (isinstance(data, dict) and data.get("error") == "unavailable"
                                  and isinstance(data.get("message"), str)):
            self._odd(f"{method} {path}: 503 not in the API's shape: {raw[:200]!r}")
        return status, data

    def _tally(self, method: str, path: str, status: int, error: str | None) -> None:
        what = "file" if path == "/api/v1/cases" else "read" if method == "GET" else path.rsplit("/", 1)[-1]
        with self.lock:
            self.answers[f"{what} {status}{' ' + error if error else ''}"] += 1

    def _odd(self, what: str) -> None:
        with self.lock:
            if len(self.unexpected) < 50:
                self.unexpected.append(what)

    # --- filing -------------------------------------------------------------------------------------------

    def file_one(self, consumer: Consumer) -> None:
        """Until the case is answered: a 503 or a lost connection is retried with the same key."""
        while not self.stop.is_set() and time.monotonic() < self.give_up_at:
            status, data = self._request("POST", "/api/v1/cases", case_body(consumer),
                                         {"Idempotency-Key": consumer.key})
            if status in (200, 201) and isinstance(data, dict):
                consumer.reference, consumer.token, consumer.filed_by = data["reference"], data["access_token"], status
                return
            if status not in (0, 503):
                self._odd(f"filing {consumer.key}: {status} {json.dumps(data)[:200]}")
            time.sleep(RETRY_PAUSE)

    def file_all(self, seconds: float) -> None:
        """Case n is filed at ``n * seconds / cases`` from now, by a few clients at once."""
        started = time.monotonic()
        step = seconds / max(len(self.people), 1)
        queue = list(self.people)
        queue_lock = threading.Lock()

        def client() -> None:
            while not self.stop.is_set():
                with queue_lock:
                    if not queue:
                        return
                    consumer = queue.pop(0)
                delay = started + consumer.number * step - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self.file_one(consumer)

        threads = [threading.Thread(target=client, daemon=True) for _ in range(FILING_THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # --- confirming ------------------------------------------------------------------------------------

    def confirm_from(self, sink: Sink) -> None:
        """Read each consumer's newest code at the SMTP server and confirm, until all are confirmed."""
        while not self.stop.is_set() and time.monotonic() < self.give_up_at:
            codes: dict[str, str] = {}
            for delivery in sink.deliveries():
                found = CODE.search(delivery.text)
                if found:
                    for address in delivery.to:
                        codes[address] = found.group(1)
            for address, code in codes.items():
                consumer = self.by_email.get(address)
                if consumer is not None and not consumer.confirmed and consumer.reference:
                    self._confirm(consumer, code)
            if all(c.confirmed for c in self.people):
                return
            time.sleep(RETRY_PAUSE)

    def _confirm(self, consumer: Consumer, code: str) -> None:
        auth = {"Authorization": f"Bearer {consumer.token}"}
        status, data = self._request("POST", f"/api/v1/cases/{consumer.reference}/confirm", {"code": code}, auth)
        if status == 200:
            consumer.confirmed = True
        elif status == 409:  # an earlier try was saved though its answer was lost: look at the case
            status, data = self._request("GET", f"/api/v1/cases/{consumer.reference}", headers=auth)
            consumer.confirmed = status == 200 and isinstance(data, dict) and data.get("email_confirmed") is True
        elif status not in (0, 503):
            self._odd(f"confirming {consumer.reference}: {status} {json.dumps(data)[:200]}")

    def summary(self) -> dict[str, Any]:
        return {"filed": sum(c.reference is not None for c in self.people),
                "replayed_filings": sum(c.filed_by == 200 for c in self.people),
                "confirmed": sum(c.confirmed for c in self.people),
                "answers": dict(sorted(self.answers.items())), "unexpected_answers": list(self.unexpected)}
