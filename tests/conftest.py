"""Fixtures: the app on a real database, rolled-back sessions, committed-data cleanup, a real
Celery worker in its own process, and a real SMTP server.

The backend comes from ``CASEWORK_TEST_DATABASE_URL`` and ``CASEWORK_TEST_BROKER_URL`` (PostgreSQL
and Redis in CI); without them the tests run on SQLite files and the embedded broker.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, delete, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from casework import create_app, migrate
from casework.db import metadata
from casework.runtime import Runtime, runtime_of
from casework.timesource import set_offset
from tests.support.smtp import SMTPServer
from tests.support.today import CLOCK_OFFSET_SECONDS, TODAY
from tests.support.worker import WorkerProcess

hypothesis_settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
hypothesis_settings.register_profile("dev", max_examples=200, deadline=None)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "dev")

TEST_DATABASE_URL = os.environ.get("CASEWORK_TEST_DATABASE_URL", "")
TEST_BROKER_URL = os.environ.get("CASEWORK_TEST_BROKER_URL", "")


def reset_database(url: str) -> None:
    """Start from an empty database (only ever the dedicated test database)."""
    if url.startswith("postgresql"):
        _create_missing_database(url)
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    else:
        database = make_url(url).database
        if database:
            for suffix in ("", "-wal", "-shm"):
                Path(database + suffix).unlink(missing_ok=True)


def sibling_database(url: str, suffix: str) -> str:
    """A PostgreSQL database of its own beside the suite's, on the same server ("" without PostgreSQL)."""
    if not url.startswith("postgresql"):
        return ""
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{suffix}").render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop a database a test made for itself (PostgreSQL; a SQLite file goes with its temporary folder)."""
    if not url.startswith("postgresql"):
        return
    name = make_url(url).database
    engine = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _create_missing_database(url: str) -> None:
    """A fresh machine has no test or bench database yet; make it through the ``postgres`` database."""
    name = make_url(url).database
    engine = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        known = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}).first()
        if known is None:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def system_clock() -> Iterator[dt.date]:
    """This process reads the test day's clock too (the app and the workers get it from their settings)."""
    set_offset(CLOCK_OFFSET_SECONDS)
    yield TODAY
    set_offset(0)


@pytest.fixture
def today() -> dt.date:
    """The day the whole system thinks it is (see tests/support/today.py)."""
    return TODAY


@pytest.fixture(scope="session")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="session")
def settings_overrides(var_dir: Path) -> dict[str, Any]:
    return {
        "env": "testing",
        "var_dir": var_dir,
        "database_url": TEST_DATABASE_URL or f"sqlite:///{var_dir / 'casework.sqlite'}",
        "broker_url": TEST_BROKER_URL or f"sqla+sqlite:///{var_dir / 'broker.sqlite'}",
        "queue_name": f"casework-test-{uuid.uuid4().hex[:8]}",
        "secret_key": "test-secret-key-" + "x" * 32,
        "relay_interval_seconds": 0.5,
        "relay_after_seconds": 1.0,
        "job_lease_seconds": 4.0,
        "base_url": "http://casework.test",
        "clock_offset_seconds": CLOCK_OFFSET_SECONDS,
    }


@pytest.fixture(scope="session")
def app(settings_overrides: dict[str, Any]) -> Iterator[Flask]:
    reset_database(settings_overrides["database_url"])
    migrate.upgrade(settings_overrides["database_url"])
    flask_app = create_app(settings_overrides)
    flask_app.testing = True
    yield flask_app
    runtime_of(flask_app).engine.dispose()


@pytest.fixture(scope="session")
def runtime(app: Flask) -> Runtime:
    return runtime_of(app)


@pytest.fixture
def db_session(runtime: Runtime) -> Iterator[Session]:
    """A session whose work is rolled back at the end, whatever it committed."""
    connection = runtime.engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


def clean_tables(runtime: Runtime) -> None:
    with runtime.engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(delete(table))


@pytest.fixture
def committed(runtime: Runtime) -> Iterator[Runtime]:
    """For tests whose data must be seen by another process: committed, then cleaned away."""
    clean_tables(runtime)
    outbox = runtime.settings.outbox
    for path in outbox.glob("*.eml") if outbox.exists() else []:
        path.unlink()
    yield runtime
    clean_tables(runtime)


@pytest.fixture
def worker_env(settings_overrides: dict[str, Any]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")}
    for key, value in settings_overrides.items():
        env[f"CASEWORK_{key.upper()}"] = str(value)
    return env


@pytest.fixture
def start_worker(worker_env: dict[str, str], var_dir: Path) -> Iterator[Any]:
    """Start real Celery workers (with an embedded beat) in their own process groups."""
    started: list[WorkerProcess] = []

    def start(**extra_env: str) -> WorkerProcess:
        env = dict(worker_env)
        env.update({f"CASEWORK_{k.upper()}": str(v) for k, v in extra_env.items()})
        worker = WorkerProcess(env, var_dir, name=f"w{len(started)}")
        started.append(worker)
        worker.start()
        return worker

    yield start
    for worker in started:
        worker.kill()


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    server = SMTPServer()
    server.start()
    yield server
    server.stop()
