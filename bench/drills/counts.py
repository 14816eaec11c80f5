"""Counting after a drill: what the clients were told, what the database holds, what the SMTP server got.

Lost: a case the client was given that is not there, a confirmed case without its rendered cancellation
letter (bytes whose SHA-256 matches), a required e-mail row that is missing, or a row whose Message-ID never
reached the server. Duplicated: a case nobody was given, a second letter of one kind and version (or a second
version nobody asked for, or a second "rendered" event), a second e-mail row for one purpose (the same e-mail
under another Message-ID), a Message-ID at the server that belongs to no row, or a second delivery record.
A second SMTP delivery under the same Message-ID is allowed (at-least-once SMTP) and reported beside.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text

from bench.drills.consumer import Consumers
from bench.drills.sink import Sink

CONFIRM_EMAIL, LETTER_TO_COMPANY, DELIVERED = "confirm_letter", "letter_to_company", "status_delivered"


@dataclass
class Figures:
    cases_filed: int
    letters_expected: int
    letters_found: int
    emails_expected: int
    message_ids_found: int
    lost: int
    duplicated: int
    smtp_deliveries: int
    checks: dict[str, Any] = field(default_factory=dict)


def unsettled(engine: Engine, consumers: Consumers, sink: Sink) -> list[str]:
    """What is still under way; an empty list means the drill has settled."""
    waiting: list[str] = []
    people = consumers.people
    if not all(c.reference for c in people):
        waiting.append(f"{sum(not c.reference for c in people)} cases not yet filed")
    if not all(c.confirmed for c in people):
        waiting.append(f"{sum(not c.confirmed for c in people)} cases not yet confirmed")
    with engine.connect() as connection:
        letters = connection.execute(text("SELECT count(*) FROM letters WHERE status = 'pending'")).scalar_one()
        emails = connection.execute(text("SELECT count(*) FROM outbound_emails WHERE status = 'pending'")).scalar_one()
        cases = connection.execute(text("SELECT count(*) FROM cases WHERE status IN ('new', 'ready')")).scalar_one()
        ids = set(connection.execute(text(
            "SELECT message_id FROM outbound_emails WHERE status <> 'cancelled'")).scalars())
    missing = ids - {d.message_id for d in sink.deliveries()}
    for number, what in ((letters, "letters pending"), (emails, "e-mails pending"),
                         (cases, "cases not yet sent to the company"),
                         (len(missing), "Message-IDs not yet at the server")):
        if number:
            waiting.append(f"{number} {what}")
    return waiting


def _cases(connection: Any, consumers: Consumers) -> tuple[dict[str, int], dict[str, Any], int, int]:
    rows = connection.execute(text("SELECT id, reference, confirmed_at IS NOT NULL FROM cases")).all()
    by_reference = {str(ref): int(case_id) for case_id, ref, _ in rows}
    confirmed_in_db = {int(case_id) for case_id, _, confirmed in rows if confirmed}
    given = {c.reference for c in consumers.people if c.reference}
    dependents = {name: Counter(int(case_id) for (case_id,) in connection.execute(text(query))) for name, query in (
        ("access_token", "SELECT case_id FROM access_tokens"),
        ("letter_v1", "SELECT case_id FROM letters WHERE kind = 'cancellation' AND version = 1"),
        ("filed_event", "SELECT case_id FROM case_events WHERE action = 'filed'"),
        ("letter_requested_event", "SELECT case_id FROM case_events WHERE action = 'letter_requested'"),
        ("idempotency_key", "SELECT case_id FROM idempotency_keys"))}
    half_saved = {name: sum(1 for case_id in by_reference.values() if not found[case_id])
                  for name, found in dependents.items()}
    lost = len(given - by_reference.keys())
    unseen = len(by_reference.keys() - given)
    checks = {"cases_in_database": len(by_reference), "cases_given_to_clients": len(given),
              "cases_lost": lost, "cases_no_client_was_given": unseen,
              "cases_confirmed_in_database": len(confirmed_in_db),
              "cases_missing_a_dependent_row": half_saved}
    return by_reference, checks, lost, unseen


def _letters(connection: Any, confirmed_ids: set[int]) -> tuple[int, dict[str, Any], int, int]:
    rows = connection.execute(text(
        "SELECT id, case_id, kind, version, status, pdf, sha256 FROM letters WHERE kind = 'cancellation'")).all()
    good = {int(case_id) for _, case_id, _, _, status, pdf, sha in rows
            if status == "rendered" and pdf and hashlib.sha256(bytes(pdf)).hexdigest() == sha}
    found = sum(1 for _, _, _, _, status, pdf, _ in rows if status == "rendered" and pdf)
    per_version = Counter((int(case_id), version) for _, case_id, _, version, status, _, _ in rows
                          if status in ("rendered", "superseded"))
    versions = Counter(int(case_id) for _, case_id, *_ in rows)
    rendered_events = Counter(int(letter_id) for (letter_id,) in connection.execute(text(
        "SELECT CAST(data->>'letter_id' AS integer) FROM case_events WHERE action = 'letter_rendered'")))
    lost = len(confirmed_ids - good)
    twice = (sum(n - 1 for n in per_version.values() if n > 1) + sum(n - 1 for n in versions.values() if n > 1)
             + sum(n - 1 for n in rendered_events.values() if n > 1))
    checks = {"letters_rendered_with_matching_sha256": len(good), "letters_lost": lost,
              "letters_duplicated": twice, "letters_failed": sum(1 for r in rows if r[4] == "failed"),
              "most_render_attempts": connection.execute(text("SELECT max(attempts) FROM letters")).scalar_one()}
    return found, checks, lost, twice


def _emails(connection: Any, case_ids: set[int], confirmed_ids: set[int],
            sink: Sink) -> tuple[int, int, dict[str, Any], int, int]:
    """Required: each case's confirmation, each confirmed case's letter to the company, each delivered case's
    "delivered" notice. In these drills each kind is sent at most once per case."""
    delivered = {int(case_id) for (case_id,) in connection.execute(text("SELECT case_id FROM deliveries"))}
    rows = connection.execute(text(
        "SELECT case_id, kind, message_id, status, attempts FROM outbound_emails WHERE status <> 'cancelled'")).all()
    purposes = Counter((int(case_id), kind) for case_id, kind, *_ in rows if case_id is not None)
    required = {(case_id, CONFIRM_EMAIL) for case_id in case_ids} | {
        (case_id, LETTER_TO_COMPANY) for case_id in confirmed_ids} | {(case_id, DELIVERED) for case_id in delivered}
    missing_rows = len(required - purposes.keys())
    row_ids = {str(message_id) for _, _, message_id, _, _ in rows}
    deliveries = sink.deliveries()
    sink_ids = {d.message_id for d in deliveries}
    never_arrived = len(row_ids - sink_ids)
    strangers = len(sink_ids - row_ids)
    second_rows = sum(n - 1 for n in purposes.values() if n > 1)
    lost, twice = missing_rows + never_arrived, strangers + second_rows
    resent = Counter(d.message_id for d in deliveries)
    checks = {"email_rows": len(rows), "required_rows_missing": missing_rows,
              "rows_never_at_the_server": never_arrived, "server_message_ids_of_no_row": strangers,
              "second_rows_for_one_purpose": second_rows,
              "rows_by_status": dict(Counter(str(status) for _, _, _, status, _ in rows)),
              "rows_by_kind": dict(Counter(str(kind) for _, kind, _, _, _ in rows)),
              "most_send_attempts": max((int(a) for *_, a in rows), default=0),
              "message_ids_delivered_more_than_once": sum(n > 1 for n in resent.values()),
              "emails_lost": lost, "emails_duplicated": twice}
    return len(rows) + missing_rows, len(sink_ids), checks, lost, twice


def _deliveries(connection: Any, confirmed_ids: set[int]) -> tuple[dict[str, Any], int, int]:
    per_case = Counter(int(case_id) for (case_id,) in connection.execute(text("SELECT case_id FROM deliveries")))
    lost = len(confirmed_ids - per_case.keys())
    twice = sum(n - 1 for n in per_case.values() if n > 1)
    statuses = dict(connection.execute(text("SELECT status, count(*) FROM cases GROUP BY status")).all())
    return {"delivery_records": sum(per_case.values()), "deliveries_lost": lost, "deliveries_duplicated": twice,
            "cases_by_status": {str(k): int(v) for k, v in statuses.items()}}, lost, twice


def count(engine: Engine, consumers: Consumers, sink: Sink) -> Figures:
    with engine.connect() as connection:
        by_reference, case_checks, cases_lost, cases_twice = _cases(connection, consumers)
        confirmed_refs = {c.reference for c in consumers.people if c.confirmed and c.reference}
        confirmed_ids = {by_reference[ref] for ref in confirmed_refs if ref in by_reference}
        letters_found, letter_checks, letters_lost, letters_twice = _letters(connection, confirmed_ids)
        emails_expected, ids_found, email_checks, emails_lost, emails_twice = _emails(
            connection, set(by_reference.values()), confirmed_ids, sink)
        delivery_checks, deliveries_lost, deliveries_twice = _deliveries(connection, confirmed_ids)
    return Figures(
        cases_filed=len({c.reference for c in consumers.people if c.reference}),
        letters_expected=len(confirmed_refs), letters_found=letters_found,
        emails_expected=emails_expected, message_ids_found=ids_found,
        lost=cases_lost + letters_lost + emails_lost + deliveries_lost,
        duplicated=cases_twice + letters_twice + emails_twice + deliveries_twice,
        smtp_deliveries=len(sink.deliveries()),
        checks={**case_checks, **letter_checks, **email_checks, **delivery_checks})
