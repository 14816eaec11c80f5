"""Settings: defaults in code, then ``CASEWORK_*`` environment variables, then explicit overrides.

Everything is validated once at start-up so that a typo stops the process with one sentence naming
the variable, instead of failing later inside a request or a task. A server that is merely
unreachable is not a configuration error: that is reported by ``/healthz`` and retried.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from casework.typed_text import addresses_in, is_one_line

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "CASEWORK_"
ENVIRONMENTS = ("development", "testing", "production")
MAIL_TRANSPORTS = ("file", "smtp")
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one sentence naming the variable."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every setting of the application, worker and CLI, with its default."""

    env: str = "development"
    var_dir: Path = PROJECT_ROOT / "var"
    secret_key: str = ""
    database_url: str = ""
    broker_url: str = ""
    # Default: the address `make run` serves, http://127.0.0.1:$PORT (5000 when PORT is not set).
    base_url: str = "http://127.0.0.1:5000"
    mail_from: str = "casework <cases@casework.localhost>"
    # Where consumers write with a question about their case, and within how many working days they are answered:
    # both are promised in every page's footer. The default suits the embedded setup; a deployment sets its own.
    contact_email: str = "help@casework.localhost"
    contact_response_days: int = 2
    message_id_domain: str = "casework.localhost"
    smtp_url: str = ""
    smtp_timeout_seconds: float = 10.0
    outbox_dir: Path | None = None  # default: var_dir / "outbox"
    queue_name: str = "casework"
    relay_interval_seconds: float = 60.0
    relay_after_seconds: float = 120.0
    job_lease_seconds: float = 300.0
    job_max_attempts: int = 8
    render_time_limit_seconds: float = 60.0
    worker_max_tasks_per_child: int = 200
    ratelimit_enabled: bool = True
    # Default: memory for the embedded setup, the Redis broker's server in production.
    ratelimit_storage_url: str = ""
    # Addresses or networks of the TLS-terminating proxies in front of the app (comma-separated). Only their
    # X-Forwarded-For/-Proto/-Host are believed; anyone else could claim HTTPS or another client address.
    trusted_proxies: str = ""
    # Fault injection for the failure tests: pause this long after claiming a job (testing only).
    fault_pause_after_claim_seconds: float = 0.0
    fault_pause_after_send_seconds: float = 0.0
    # Tests move the whole system's clock to a day they choose (testing only; see casework/timesource.py).
    clock_offset_seconds: float = 0.0
    # A caseworker approves each confirmed letter before it goes to the company.
    require_delivery_approval: bool = False
    # A resolved case is closed automatically this many days after it was resolved.
    resolved_close_days: int = 30
    # A staff session ends after this many minutes without a request, and this many hours after signing in.
    staff_idle_minutes: int = 30
    staff_session_hours: int = 12

    @property
    def mail_transport(self) -> str:
        """SMTP when a server is configured, otherwise ``.eml`` files in the outbox folder."""
        return "smtp" if self.smtp_url else "file"

    @property
    def outbox(self) -> Path:
        return self.outbox_dir if self.outbox_dir is not None else self.var_dir / "outbox"

    @property
    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(part.strip(), strict=False)
                     for part in self.trusted_proxies.split(",") if part.strip())

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url.startswith(("sqla+", "sqlalchemy+"))


_FIELD_TYPES: dict[str, type] = {
    "secret_key": str,
    "var_dir": Path,
    "database_url": str,
    "broker_url": str,
    "base_url": str,
    "mail_from": str,
    "contact_email": str,
    "contact_response_days": int,
    "message_id_domain": str,
    "smtp_url": str,
    "smtp_timeout_seconds": float,
    "outbox_dir": Path,
    "queue_name": str,
    "relay_interval_seconds": float,
    "relay_after_seconds": float,
    "job_lease_seconds": float,
    "job_max_attempts": int,
    "render_time_limit_seconds": float,
    "worker_max_tasks_per_child": int,
    "ratelimit_enabled": bool,
    "ratelimit_storage_url": str,
    "trusted_proxies": str,
    "fault_pause_after_claim_seconds": float,
    "fault_pause_after_send_seconds": float,
    "clock_offset_seconds": float,
    "require_delivery_approval": bool,
    "resolved_close_days": int,
    "staff_idle_minutes": int,
    "staff_session_hours": int,
    "env": str,
}


def _env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def _coerce(field: str, raw: Any) -> Any:
    kind = _FIELD_TYPES[field]
    if isinstance(raw, kind):
        return raw
    if kind is bool:
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{_env_name(field)} must be true or false, not {raw!r}.")
    try:
        if kind is Path:
            return Path(str(raw)).expanduser()
        value = kind(str(raw).strip()) if kind is not str else str(raw)
    except ValueError:
        raise ConfigError(
            f"{_env_name(field)} must be a {kind.__name__}, not {raw!r}."
        ) from None
    return value


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build and validate the settings; raise ConfigError naming the first bad variable."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for field in _FIELD_TYPES:
        name = _env_name(field)
        if name in environ:
            values[field] = _coerce(field, environ[name])
    for field, raw in (overrides or {}).items():
        if field not in _FIELD_TYPES:
            raise ConfigError(f"Unknown setting {field!r}.")
        values[field] = _coerce(field, raw)
    if "base_url" not in values and environ.get("PORT"):
        values["base_url"] = f"http://127.0.0.1:{_port(environ['PORT'])}"
    settings = Settings(**values)
    return _complete_and_validate(settings)


def _port(raw: str) -> int:
    """``PORT``, the port ``make run`` serves on: without CASEWORK_BASE_URL, links in e-mails point there."""
    text = raw.strip()
    if not (text.isascii() and text.isdigit() and 0 < int(text) < 65536):
        raise ConfigError(f"PORT must be a port number from 1 to 65535, not {raw!r}.")
    return int(text)


def _complete_and_validate(settings: Settings) -> Settings:
    if settings.env not in ENVIRONMENTS:
        raise ConfigError(f"CASEWORK_ENV must be one of {', '.join(ENVIRONMENTS)}, not {settings.env!r}.")
    var_dir = settings.var_dir
    updates: dict[str, Any] = {}
    if settings.outbox_dir is None:
        updates["outbox_dir"] = var_dir / "outbox"
    if not settings.database_url:
        updates["database_url"] = f"sqlite:///{var_dir / 'casework.sqlite'}"
    if not settings.broker_url:
        updates["broker_url"] = f"sqla+sqlite:///{var_dir / 'broker.sqlite'}"
    if not settings.ratelimit_storage_url:
        broker = settings.broker_url or ""
        updates["ratelimit_storage_url"] = broker if broker.startswith("redis") else "memory://"
    if not settings.secret_key:
        if settings.env == "production":
            raise ConfigError("CASEWORK_SECRET_KEY must be set in production (at least 32 characters).")
        updates["secret_key"] = _development_secret(var_dir)
    settings = dataclasses.replace(settings, **updates)

    if settings.env == "production" and len(settings.secret_key) < 32:
        raise ConfigError("CASEWORK_SECRET_KEY must be at least 32 characters long in production.")
    settings = dataclasses.replace(settings, database_url=_check_database_url(settings.database_url))
    _check_broker_url(settings.broker_url)
    if settings.smtp_url:
        _check_smtp_url(settings.smtp_url)
    _check_mail_from(settings.mail_from)
    _check_http_url("CASEWORK_BASE_URL", settings.base_url)
    if settings.env == "production":
        _refuse_insecure_production(settings)
    try:
        settings.trusted_proxy_networks  # noqa: B018 - raises ValueError on a malformed address
    except ValueError:
        raise ConfigError("CASEWORK_TRUSTED_PROXIES must be comma-separated IP addresses or networks such as "
                          f"10.0.0.0/8, not {settings.trusted_proxies!r}.") from None
    for field in ("relay_interval_seconds", "relay_after_seconds", "job_lease_seconds",
                  "render_time_limit_seconds", "smtp_timeout_seconds"):
        if getattr(settings, field) <= 0:
            raise ConfigError(f"{_env_name(field)} must be greater than zero.")
    _check_contact_email(settings.contact_email)
    for field in ("job_max_attempts", "worker_max_tasks_per_child", "resolved_close_days", "contact_response_days",
                  "staff_idle_minutes", "staff_session_hours"):
        if getattr(settings, field) < 1:
            raise ConfigError(f"{_env_name(field)} must be at least 1.")
    faults = settings.fault_pause_after_claim_seconds or settings.fault_pause_after_send_seconds
    if faults and settings.env != "testing":
        name = _env_name("fault_pause_after_claim_seconds" if settings.fault_pause_after_claim_seconds
                         else "fault_pause_after_send_seconds")
        raise ConfigError(f"{name} is only accepted with CASEWORK_ENV=testing.")
    if settings.clock_offset_seconds and settings.env != "testing":
        raise ConfigError("CASEWORK_CLOCK_OFFSET_SECONDS is only accepted with CASEWORK_ENV=testing.")
    return settings


def _development_secret(var_dir: Path) -> str:
    """Outside production a random key is kept in var/ so sessions and tokens survive restarts."""
    path = var_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


def _check_database_url(url: str) -> str:
    """Validate; a bare postgresql:// URL gets the psycopg (3) driver spelled out."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"CASEWORK_DATABASE_URL is not a database URL: {url!r}.") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError("CASEWORK_DATABASE_URL must name a sqlite:// or postgresql+psycopg:// database.")
    if parsed.drivername == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() != "psycopg":
        raise ConfigError("CASEWORK_DATABASE_URL must use the psycopg driver (postgresql+psycopg://...).")
    return url


def _check_broker_url(url: str) -> None:
    scheme = urlsplit(url).scheme
    if scheme in ("redis", "rediss", "amqp", "pyamqp"):
        if not urlsplit(url).hostname:
            raise ConfigError(f"CASEWORK_BROKER_URL has no host: {url!r}.")
        return
    if scheme.startswith(("sqla+", "sqlalchemy+")):
        inner = url.split("+", 1)[1]
        try:
            make_url(inner)
        except ArgumentError:
            raise ConfigError(f"CASEWORK_BROKER_URL is not a valid broker URL: {url!r}.") from None
        return
    raise ConfigError(
        "CASEWORK_BROKER_URL must start with redis://, rediss://, amqp:// or sqla+sqlite:///, "
        f"not {url!r}."
    )


STARTTLS_MODES = ("required", "off")


def starttls_mode(url: str) -> str | None:
    """The SMTP URL's ``?starttls=`` (``required`` or ``off``), or None when it does not say."""
    given = parse_qs(urlsplit(url).query).get("starttls")
    return given[-1] if given else None


def smtp_tls_required(url: str) -> bool:
    """Whether the SMTP connection must be encrypted before anything else is said.

    A login is never sent in clear unless the URL opts out with ``?starttls=off`` (a relay on the same machine);
    without a login STARTTLS is used when the server offers it, and ``?starttls=required`` insists on it.
    """
    parts = urlsplit(url)
    if parts.scheme == "smtps":
        return True
    mode = starttls_mode(url)
    return mode == "required" or (mode is None and bool(parts.username or parts.password))


def _check_smtp_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(
            "CASEWORK_SMTP_URL must look like smtp://user:password@host:587 or smtps://host:465, "
            f"not {url!r}."
        )
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ConfigError(f"CASEWORK_SMTP_URL has a malformed port: {url!r}.") from None
    mode = starttls_mode(url)
    if mode is not None and mode not in STARTTLS_MODES:
        raise ConfigError(f"CASEWORK_SMTP_URL's ?starttls= must be required or off, not {mode!r}.")


def _check_mail_from(value: str) -> None:
    """The sender is one address: every e-mail's From header is built from it."""
    addresses = addresses_in(value) if is_one_line(value) else ()
    if len(addresses) != 1 or not addresses[0].username or not addresses[0].domain:
        raise ConfigError("CASEWORK_MAIL_FROM must be one address such as casework <cases@example.org>, "
                          f"not {value!r}.")


def _refuse_insecure_production(settings: Settings) -> None:
    """Production never runs on defaults that leak sessions, links or passwords onto the network."""
    if urlsplit(settings.base_url).scheme != "https":
        raise ConfigError("CASEWORK_BASE_URL must be an https:// address in production (its links carry private "
                          f"case links and codes), not {settings.base_url!r}.")
    smtp = urlsplit(settings.smtp_url)
    has_credentials = bool(smtp.username or smtp.password)
    if settings.smtp_url and has_credentials and not smtp_tls_required(settings.smtp_url):
        raise ConfigError("CASEWORK_SMTP_URL signs in with a password, so in production it must not end in "
                          "?starttls=off (that sends the password unencrypted; leave it out, or use smtps://).")
    if settings.contact_email.rpartition("@")[2].lower().endswith(".localhost"):
        raise ConfigError("CASEWORK_CONTACT_EMAIL must be set in production: every page gives it as the address for "
                          f"questions about a case, and {settings.contact_email!r} reaches nobody.")


def _check_contact_email(address: str) -> None:
    """Printed on every page as the address to write to, in a mailto: link: one plain address, nothing around it."""
    if not _PLAIN_ADDRESS.fullmatch(address):
        raise ConfigError("CASEWORK_CONTACT_EMAIL must be one plain e-mail address such as help@example.org, "
                          f"not {address!r}.")


def _check_http_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} must be an http:// or https:// URL, not {url!r}.")
