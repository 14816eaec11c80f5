"""/healthz reports each dependency; an unreachable server degrades, a dead database is 503."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from casework import create_app, health
from casework.runtime import runtime_of
from tests.support.smtp import SMTPServer, free_port

pytestmark = pytest.mark.http


@pytest.fixture(autouse=True)
def _fresh_probe_cache() -> None:
    health._cache.clear()


def test_healthy(app: Flask) -> None:
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body == {"status": "ok", "database": "ok", "broker": "ok", "smtp": "not_configured",
                    "version": body["version"]}


@pytest.fixture
def variant(settings_overrides: dict[str, Any], tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """The test app with some settings changed; its connections are closed afterwards."""
    made: list[Flask] = []

    def make(**changes: Any) -> Flask:
        made.append(create_app({**settings_overrides, "var_dir": tmp_path, **changes}))
        return made[-1]

    yield make
    for flask_app in made:
        runtime_of(flask_app).engine.dispose()


def test_broker_unreachable_is_degraded(variant: Callable[..., Flask]) -> None:
    body = variant(broker_url=f"redis://127.0.0.1:{free_port()}/0").test_client().get("/healthz").get_json()
    assert (body["status"], body["broker"], body["database"]) == ("degraded", "unreachable", "ok")


def test_smtp_reported(variant: Callable[..., Flask], smtp_server: SMTPServer) -> None:
    body = variant(smtp_url=smtp_server.url).test_client().get("/healthz").get_json()
    assert body["smtp"] == "ok"
    health._cache.clear()
    dead = f"smtp://127.0.0.1:{free_port()}"
    body = variant(smtp_url=dead).test_client().get("/healthz").get_json()
    assert (body["status"], body["smtp"]) == ("degraded", "unreachable")


def test_database_down_is_503(
    settings_overrides: dict[str, Any], tmp_path: Path, variant: Callable[..., Flask]
) -> None:
    if settings_overrides["database_url"].startswith("postgresql"):
        url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"
    else:
        url = f"sqlite:///{tmp_path / 'missing-dir' / 'db.sqlite'}"
    response = variant(database_url=url).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "down"
