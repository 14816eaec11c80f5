"""A test's own writes beside a running worker or server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from casework.db import writing_session
from casework.runtime import Runtime


@contextmanager
def writing(runtime: Runtime) -> Iterator[Session]:
    """One transaction that reads and then writes, as the jobs do: on SQLite it takes the write lock at its start,
    so a worker's commit in between makes it wait instead of failing with 'database is locked'."""
    with writing_session(runtime.sessions) as session, session.begin():
        yield session
