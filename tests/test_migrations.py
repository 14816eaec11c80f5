"""Migrations run up, down and up again on the test backend, and match the models exactly."""

from __future__ import annotations

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
    assert {"ck_cases_status", "ck_cases_outcome_iff_resolved", "ck_cases_amount_positive"} <= checks
    assert "uq_cases_reference" in uniques
