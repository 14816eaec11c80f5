"""Settings: defaults, environment, and one clear sentence for each bad value."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from casework import create_app
from casework.config import ConfigError, Settings, load_settings
from tests.support.deploy import DEPLOY, read_env_file


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


def test_the_base_url_follows_the_port_make_run_serves(tmp_path: Path) -> None:
    from casework.cases.tokens import status_url

    var = {"CASEWORK_VAR_DIR": str(tmp_path)}
    assert load_settings(environ=var).base_url == "http://127.0.0.1:5000"
    settings = load_settings(environ={**var, "PORT": "5077"})
    assert settings.base_url == "http://127.0.0.1:5077"
    assert status_url(settings.base_url, "tok").startswith("http://127.0.0.1:5077/c/")  # the e-mails' links
    given = {**var, "PORT": "5077", "CASEWORK_BASE_URL": "https://cases.example"}
    assert load_settings(environ=given).base_url == "https://cases.example"
    assert load_settings({"base_url": "http://x.example"}, environ={**var, "PORT": "5077"}).base_url \
        == "http://x.example"
    with pytest.raises(ConfigError, match=r"^PORT must be a port number"):
        load_settings(environ={**var, "PORT": "fifty"})


def test_the_footers_contact_defaults_to_the_embedded_setup_and_is_read_from_the_environment(
        tmp_path: Path) -> None:
    var = {"CASEWORK_VAR_DIR": str(tmp_path)}
    defaults = load_settings(environ=var)
    assert (defaults.contact_email, defaults.contact_response_days) == ("help@casework.localhost", 2)
    assert defaults.contact_email.endswith(defaults.mail_from.rsplit("@", 1)[1].rstrip(">"))  # the sender's domain
    given = load_settings(environ={**var, "CASEWORK_CONTACT_EMAIL": "support@cases.example",
                                   "CASEWORK_CONTACT_RESPONSE_DAYS": "5"})
    assert (given.contact_email, given.contact_response_days) == ("support@cases.example", 5)


def test_make_run_gives_every_process_the_web_address() -> None:
    """honcho hands each process its own PORT (the worker's is 100 higher): the e-mails' links must not follow it."""
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert 'CASEWORK_BASE_URL="$${CASEWORK_BASE_URL:-http://127.0.0.1:$(PORT)}"' in makefile


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
        ("CASEWORK_CONTACT_EMAIL", "Help desk <help@example.org>"),
        ("CASEWORK_CONTACT_EMAIL", "help@example.org, boss@example.org"),
        ("CASEWORK_CONTACT_EMAIL", "help"),
        ("CASEWORK_CONTACT_RESPONSE_DAYS", "0"),
        ("CASEWORK_CONTACT_RESPONSE_DAYS", "two"),
    ],
)
def test_a_bad_setting_is_named(tmp_path: Path, variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(environ={"CASEWORK_VAR_DIR": str(tmp_path), variable: value})
    message = str(error.value)
    assert variable in message
    assert message.count(". ") == 0  # one sentence


def test_production_requires_a_long_secret_key(tmp_path: Path) -> None:
    env = {"CASEWORK_VAR_DIR": str(tmp_path), "CASEWORK_ENV": "production",
           "CASEWORK_BASE_URL": "https://casework.example", "CASEWORK_CONTACT_EMAIL": "help@casework.example"}
    with pytest.raises(ConfigError, match="CASEWORK_SECRET_KEY must be set"):
        load_settings(environ=env)
    with pytest.raises(ConfigError, match="at least 32 characters"):
        load_settings(environ={**env, "CASEWORK_SECRET_KEY": "short"})
    assert load_settings(environ={**env, "CASEWORK_SECRET_KEY": "k" * 40}).env == "production"


PRODUCTION = {"CASEWORK_ENV": "production", "CASEWORK_SECRET_KEY": "k" * 40,
              "CASEWORK_BASE_URL": "https://casework.example", "CASEWORK_CONTACT_EMAIL": "help@casework.example"}


def test_production_refuses_the_contact_address_that_reaches_nobody(tmp_path: Path) -> None:
    """Every page's footer gives it to worried consumers; the default is a .localhost address."""
    env = {k: v for k, v in PRODUCTION.items() if k != "CASEWORK_CONTACT_EMAIL"} | {"CASEWORK_VAR_DIR": str(tmp_path)}
    with pytest.raises(ConfigError, match="CASEWORK_CONTACT_EMAIL must be set in production"):
        load_settings(environ=env)
    assert load_settings(environ={**env, "CASEWORK_ENV": "development"}).contact_email == "help@casework.localhost"
    assert load_settings(environ={**env, "CASEWORK_CONTACT_EMAIL": "help@casework.example"}).env == "production"


@pytest.mark.parametrize("base_url", ["http://casework.example", "http://127.0.0.1:5000"])
def test_production_refuses_a_plain_http_base_url(tmp_path: Path, base_url: str) -> None:
    """Its links carry the consumers' private links and codes, and its scheme decides Secure cookies."""
    env = {**PRODUCTION, "CASEWORK_VAR_DIR": str(tmp_path), "CASEWORK_BASE_URL": base_url}
    with pytest.raises(ConfigError) as error:
        load_settings(environ=env)
    message = str(error.value)
    assert message.startswith("CASEWORK_BASE_URL must be an https:// address in production")
    assert message.count(". ") == 0
    # The default base URL is plain http, so production must name its address.
    without = {k: v for k, v in env.items() if k != "CASEWORK_BASE_URL"}
    with pytest.raises(ConfigError, match="CASEWORK_BASE_URL"):
        load_settings(environ=without)
    # Development and the tests keep plain http.
    assert load_settings(environ={**env, "CASEWORK_ENV": "development"}).base_url == base_url


@pytest.mark.parametrize("smtp_url", [
    "smtp://user:pw@mail.example:587?starttls=off",
    "smtp://user@mail.example:587?starttls=off",
])
def test_production_refuses_a_password_over_smtp_that_may_skip_tls(tmp_path: Path, smtp_url: str) -> None:
    """?starttls=off never encrypts, so anyone on the path could read the login; outside production it is the
    explicit opt-out for a relay on the same machine."""
    env = {**PRODUCTION, "CASEWORK_VAR_DIR": str(tmp_path), "CASEWORK_SMTP_URL": smtp_url}
    with pytest.raises(ConfigError) as error:
        load_settings(environ=env)
    message = str(error.value)
    assert message.startswith("CASEWORK_SMTP_URL signs in with a password")
    assert "?starttls=off" in message
    assert message.count(". ") == 0
    assert load_settings(environ={**env, "CASEWORK_ENV": "development"}).smtp_url == smtp_url


@pytest.mark.parametrize("smtp_url", [
    "smtp://user:pw@mail.example:587",  # with a login STARTTLS is required: the password never goes in clear
    "smtp://user:pw@mail.example:587?starttls=required",
    "smtps://user:pw@mail.example:465",
    "smtp://127.0.0.1:25",  # a local relay without a login sends no password
])
def test_production_accepts_smtp_that_keeps_the_password_encrypted(tmp_path: Path, smtp_url: str) -> None:
    env = {**PRODUCTION, "CASEWORK_VAR_DIR": str(tmp_path), "CASEWORK_SMTP_URL": smtp_url}
    settings = load_settings(environ=env)
    assert (settings.env, settings.smtp_url, settings.base_url) == ("production", smtp_url,
                                                                    "https://casework.example")


def test_create_app_refuses_insecure_production(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as stop:
        create_app({"var_dir": tmp_path, "env": "production", "secret_key": "k" * 40,
                    "base_url": "http://casework.example"})
    assert "CASEWORK_BASE_URL must be an https:// address" in str(stop.value.code)


def test_create_app_stops_with_the_sentence(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as stop:
        create_app({"var_dir": tmp_path, "broker_url": "kafka://x"})
    assert "CASEWORK_BROKER_URL" in str(stop.value.code)


def test_the_production_env_example_names_only_real_settings_and_starts_once_filled_in(tmp_path: Path) -> None:
    """deploy/casework.env.example is what a deployment copies: no misspelt variable, no insecure value."""
    example = DEPLOY / "casework.env.example"
    named = set(re.findall(r"^#?(CASEWORK_[A-Z_]+)=", example.read_text(), re.M))
    settings = {f"CASEWORK_{field.name.upper()}" for field in dataclasses.fields(Settings)}
    gunicorn = set(re.findall(r'"(CASEWORK_WEB_[A-Z_]+)"', (DEPLOY / "gunicorn.conf.py").read_text()))
    assert named - settings == gunicorn
    values = read_env_file(example)
    with pytest.raises(ConfigError, match="CASEWORK_SECRET_KEY must be set"):  # left empty on purpose
        load_settings(environ=values)
    filled = load_settings(environ={**values, "CASEWORK_SECRET_KEY": "k" * 48, "CASEWORK_VAR_DIR": str(tmp_path)})
    assert (filled.env, filled.base_url[:8], filled.mail_from) == (
        "production", "https://", "casework <cases@casework.example.org>")
