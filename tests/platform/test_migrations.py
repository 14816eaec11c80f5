"""Migrations run up, down and up again on the test backend, and match the models exactly."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from casework import migrate
from casework.db import metadata
from tests.conftest import TEST_DATABASE_URL

pytestmark = pytest.mark.storage


@pytest.fixture
def scratch_database_url(tmp_path: Path) -> Iterator[str]:
    """A database of its own, so migrating down never touches the shared test database."""
    if not TEST_DATABASE_URL.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'migrations.sqlite'}"
        return
    name = f"casework_migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_and_check(scratch_database_url: str) -> None:
    migrate.upgrade(scratch_database_url)
    assert _tables(scratch_database_url) == set(metadata.tables)
    migrate.check(scratch_database_url)  # raises if models and migrations disagree
    migrate.downgrade(scratch_database_url, "base")
    assert _tables(scratch_database_url) == set()
    migrate.upgrade(scratch_database_url)
    assert _tables(scratch_database_url) == set(metadata.tables)


def test_constraints_carry_convention_names(scratch_database_url: str) -> None:
    migrate.upgrade(scratch_database_url)
    engine = create_engine(scratch_database_url)
    try:
        inspector = inspect(engine)
        checks = {c["name"] for c in inspector.get_check_constraints("cases")}
        uniques = {c["name"] for c in inspector.get_unique_constraints("cases")}
    finally:
        engine.dispose()
    assert {"ck_cases_status", "ck_cases_outcome_iff_finished", "ck_cases_amount_positive",
            "ck_cases_language"} <= checks
    assert "uq_cases_reference" in uniques


def test_the_queue_revision_gives_existing_open_cases_their_urgency(scratch_database_url: str) -> None:
    """Cases filed before the queue existed are ordered like new ones: their urgency is computed on upgrade."""
    migrate.upgrade(scratch_database_url, "0007")
    today = dt.datetime.now(dt.UTC).date()
    refund_end = today + dt.timedelta(days=5)
    deadlines = [{"kind": "refund_window_end", "date": refund_end.isoformat(),
                  "act_by": (refund_end - dt.timedelta(days=1)).isoformat()}]
    engine = create_engine(scratch_database_url)
    try:
        with engine.begin() as connection:
            for reference, status, outcome in (("CW-2026-OPEN0001", "sent", None),
                                               ("CW-2026-DONE0001", "resolved", "cancelled")):
                connection.execute(text(
                    "INSERT INTO cases (reference, status, outcome, consumer_name, consumer_email, country, timezone,"
                    " provider_slug, plan_slug, policy_version, billing_channel, payment_date, certificate_earned,"
                    " requested_outcome, assessment, consent_at, created_at, updated_at, version, follow_ups_sent)"
                    " VALUES (:reference, :status, :outcome, 'A', 'a@example.com', 'GB', 'UTC', 'coursera',"
                    " 'coursera-plus-annual', 'coursera@1', 'direct', :paid, false, 'cancel', :assessment, :now,"
                    " :now, :now, 1, 0)"),
                    {"reference": reference, "status": status, "outcome": outcome, "paid": today,
                     "assessment": json.dumps({"deadlines": deadlines}), "now": dt.datetime.now(dt.UTC)})
        migrate.upgrade(scratch_database_url)
        with engine.connect() as connection:
            found = connection.execute(text("SELECT reference, urgency_on FROM cases"))
            rows = {row.reference: row.urgency_on for row in found}
    finally:
        engine.dispose()
    assert str(rows["CW-2026-OPEN0001"]) == (refund_end - dt.timedelta(days=1)).isoformat()
    assert str(rows["CW-2026-DONE0001"]) == "9999-12-31"


def test_the_sealing_revision_removes_live_secrets_from_messages_already_sent(scratch_database_url: str) -> None:
    """Messages stored before their secrets were sealed lose their links and codes; one still waiting keeps them."""
    migrate.upgrade(scratch_database_url, "0018")
    token = "Zq3_kL9-xY2mN8pQ4rS6tU0vW1aB5cD7eF9gH2jK4mN"
    ics = f"BEGIN:VCALENDAR\r\nURL;VALUE=URI:https://casework.test/c/{token[:20]}\r\n {token[20:]}\r\nEND:VCALENDAR\r\n"
    body = f"Confirm: https://casework.test/c/{token}/confirm?code=AB12-CD34 (code AB12-CD34)"
    engine = create_engine(scratch_database_url)
    try:
        with engine.begin() as connection:
            for key, kind, status in (("a", "confirm_letter", "sent"), ("b", "confirm_letter", "pending"),
                                      ("c", "letter_to_company", "sent")):
                connection.execute(text(
                    "INSERT INTO outbound_emails (idempotency_key, message_id, kind, sender, recipients, cc, subject,"
                    " body_text, body_html, attachments, headers, status, created_at, recipients_refused, attempts,"
                    " relay_at) VALUES (:key, :mid, :kind, 's@casework.test', '[]', '[]', 'S', :body, :body,"
                    " :attachments, :headers, :status, :now, '{}', 0, :now)"),
                    {"key": key, "mid": f"<{key}@casework.test>", "kind": kind, "status": status,
                     "body": body, "now": dt.datetime.now(dt.UTC),
                     "attachments": json.dumps([{"ics": ics, "filename": "x.ics"}]),
                     "headers": json.dumps({"List-Unsubscribe": "<https://casework.test/reminders/unsubscribe/eyJj.abc>"})})
        migrate.upgrade(scratch_database_url)
        with engine.connect() as connection:
            rows = {row.idempotency_key: row for row in connection.execute(text(
                "SELECT idempotency_key, body_text, body_html, attachments, headers FROM outbound_emails"))}
    finally:
        engine.dispose()
    sent = " ".join(str(value) for value in rows["a"][1:])
    assert token[:20] not in sent
    assert token[20:] not in sent
    assert "AB12-CD34" not in sent
    assert "eyJj.abc" not in sent
    assert rows["a"].body_text == "Confirm: https://casework.test/c/[removed]/confirm?code=[removed] (code [removed])"
    assert rows["b"].body_text == body  # not yet delivered: it goes out as written
    assert "AB12-CD34" in rows["c"].body_text  # a letter to a company has no code of ours: its words stay
    assert token not in rows["c"].body_text


LANGUAGE_OF_COUNTRY = {"FR": "fr", "BE": "fr", "LU": "fr", "DE": "de", "AT": "de", "CH": "de", "GB": "en", "US": "en",
                       "AU": "en"}


INSERT_CASE = text(
    "INSERT INTO cases (reference, status, consumer_name, consumer_email, country, timezone, provider_slug, plan_slug,"
    " policy_version, billing_channel, payment_date, certificate_earned, requested_outcome, consent_at, created_at,"
    " updated_at, version, follow_ups_sent, urgency_on, needs_review)"
    " VALUES (:reference, 'new', 'A', 'a@example.com', :country, 'UTC', 'coursera', 'coursera-plus-annual',"
    " 'coursera@1', 'direct', :now, false, 'cancel', :now, :now, :now, 1, 0, '9999-12-31', false)")
INSERT_CASE_IN = text(
    "INSERT INTO cases (reference, status, consumer_name, consumer_email, country, timezone, provider_slug, plan_slug,"
    " policy_version, billing_channel, payment_date, certificate_earned, requested_outcome, consent_at, created_at,"
    " updated_at, version, follow_ups_sent, urgency_on, needs_review, language)"
    " VALUES (:reference, 'new', 'A', 'a@example.com', :country, 'UTC', 'coursera', 'coursera-plus-annual',"
    " 'coursera@1', 'direct', :now, false, 'cancel', :now, :now, :now, 1, 0, '9999-12-31', false, :language)")


def _insert_case(connection: Connection, reference: str, country: str, language: str | None = None) -> None:
    """A case as the columns of revision 0020 have it, or (at head) with ``language``."""
    values = {"reference": reference, "country": country, "now": dt.datetime.now(dt.UTC), "language": language}
    connection.execute(INSERT_CASE if language is None else INSERT_CASE_IN, values)


def test_the_language_revision_gives_existing_cases_their_countrys_language(scratch_database_url: str) -> None:
    """Cases filed before a case had a language take their country's, as a new one would without a choice; the
    column then refuses anything but the three languages, on both databases."""
    migrate.upgrade(scratch_database_url, "0020")
    engine = create_engine(scratch_database_url)
    try:
        with engine.begin() as connection:
            for n, country in enumerate(LANGUAGE_OF_COUNTRY):
                _insert_case(connection, f"CW-2026-LANG{n:04d}", country)
        migrate.upgrade(scratch_database_url)
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT country, language FROM cases"))
            found = {row.country: row.language for row in rows}
        with pytest.raises(IntegrityError), engine.begin() as connection:
            _insert_case(connection, "CW-2026-LANGXXXX", "ES", "es")
        with engine.begin() as connection:
            _insert_case(connection, "CW-2026-LANGYYYY", "ES", "de")
        migrate.downgrade(scratch_database_url, "0020")
        with engine.connect() as connection:
            assert "language" not in {c["name"] for c in inspect(connection).get_columns("cases")}
            assert connection.execute(text("SELECT count(*) FROM cases")).scalar_one() == len(LANGUAGE_OF_COUNTRY) + 1
    finally:
        engine.dispose()
    assert found == LANGUAGE_OF_COUNTRY
