"""Migrations run up, down and up again on the test backend, and match the models exactly."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

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
    assert {"ck_cases_status", "ck_cases_outcome_iff_finished", "ck_cases_amount_positive"} <= checks
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
