"""Settings: defaults, environment, and one clear sentence for each bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from casework import create_app
from casework.config import ConfigError, load_settings


def test_defaults_are_the_embedded_setup(tmp_path: Path) -> None:
    settings = load_settings(environ={"CASEWORK_VAR_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'casework.sqlite'}"
    assert settings.broker_url == f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    assert settings.mail_transport == "file"
    assert settings.outbox == tmp_path / "outbox"
    # A development key is made once and kept, so links survive a restart.
    assert settings.secret_key == load_settings(environ={"CASEWORK_VAR_DIR": str(tmp_path)}).secret_key


def test_environment_overrides_defaults(tmp_path: Path) -> None:
    settings = load_settings(environ={
        "CASEWORK_VAR_DIR": str(tmp_path),
        "CASEWORK_BROKER_URL": "redis://127.0.0.1:6379/3",
        "CASEWORK_SMTP_URL": "smtp://user:pw@mail.example:587",
        "CASEWORK_RELAY_AFTER_SECONDS": "2.5",
    })
    assert settings.broker_url == "redis://127.0.0.1:6379/3"
    assert settings.mail_transport == "smtp"
    assert settings.relay_after_seconds == 2.5
    assert not settings.embedded_broker


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CASEWORK_DATABASE_URL", "not a url"),
        ("CASEWORK_DATABASE_URL", "mysql://root@localhost/x"),
        ("CASEWORK_DATABASE_URL", "postgresql+psycopg2://postgres@localhost/x"),
        ("CASEWORK_BROKER_URL", "kafka://somewhere"),
        ("CASEWORK_BROKER_URL", "redis://"),
        ("CASEWORK_SMTP_URL", "http://mail.example"),
        ("CASEWORK_SMTP_URL", "smtp://mail.example:notaport"),
        ("CASEWORK_BASE_URL", "casework.example"),
        ("CASEWORK_RELAY_AFTER_SECONDS", "soon"),
        ("CASEWORK_JOB_MAX_ATTEMPTS", "0"),
        ("CASEWORK_ENV", "staging"),
        ("CASEWORK_FAULT_PAUSE_AFTER_CLAIM_SECONDS", "5"),
    ],
)
def test_a_bad_setting_is_named(tmp_path: Path, variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(environ={"CASEWORK_VAR_DIR": str(tmp_path), variable: value})
    message = str(error.value)
    assert variable in message
    assert message.count(". ") == 0  # one sentence


def test_production_requires_a_long_secret_key(tmp_path: Path) -> None:
    env = {"CASEWORK_VAR_DIR": str(tmp_path), "CASEWORK_ENV": "production"}
    with pytest.raises(ConfigError, match="CASEWORK_SECRET_KEY must be set"):
        load_settings(environ=env)
    with pytest.raises(ConfigError, match="at least 32 characters"):
        load_settings(environ={**env, "CASEWORK_SECRET_KEY": "short"})
    assert load_settings(environ={**env, "CASEWORK_SECRET_KEY": "k" * 40}).env == "production"


def test_create_app_stops_with_the_sentence(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as stop:
        create_app({"var_dir": tmp_path, "broker_url": "kafka://x"})
    assert "CASEWORK_BROKER_URL" in str(stop.value.code)
