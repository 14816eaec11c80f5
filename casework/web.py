"""The web layer's shared parts: the request's database session, security headers, CSRF, rate
limits, staff login, error pages, and keeping consumers' secret links out of the logs."""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Flask, Response, abort, g, render_template, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from casework.api.errors import http_error, is_api_request
from casework.db import WRITE_INTENT
from casework.runtime import runtime_of

csrf = CSRFProtect()
limiter = Limiter(get_remote_address, default_limits=[])
login_manager = LoginManager()

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
_SECRET_IN_URL = re.compile(r"(/c/)[A-Za-z0-9_-]{16,}|(code=)[A-Za-z0-9-]+")


def db() -> Session:
    """The request's session: made on first use, closed when the request ends; views commit once.

    A request that may change something declares it, so that SQLite takes its write lock first.
    """
    if "db" not in g:
        writes = request.method not in ("GET", "HEAD", "OPTIONS")
        g.db = runtime_of().sessions(execution_options={WRITE_INTENT: True} if writes else {})
    session: Session = g.db
    return session


def _close_session(exc: BaseException | None) -> None:
    session: Session | None = g.pop("db", None)
    if session is not None:
        if exc is not None:
            session.rollback()
        session.close()


def redact(text: str) -> str:
    """Consumers' links and codes never reach a log line."""
    return _SECRET_IN_URL.sub(lambda m: (m.group(1) or m.group(2)) + "[redacted]", text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"  # a status page URL is a secret
    response.headers["X-Frame-Options"] = "DENY"
    if request.path.startswith(("/c/", "/staff")):
        response.headers["Cache-Control"] = "no-store"
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return response


def _refuse_nul_bytes() -> None:
    """No text we store may hold a NUL (PostgreSQL refuses it); such a request is malformed."""
    for values in (request.args, request.form):
        for value in values.values():
            if "\x00" in value:
                abort(400)


def _error_page(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("errors/error.html", title=title, message=message), status


def init_web(app: Flask) -> None:
    settings = runtime_of(app).settings
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        RATELIMIT_ENABLED=settings.ratelimit_enabled,
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_url,
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,  # an unreachable limit store must not take pages down
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.login_view = "staff.login"
    login_manager.login_message = "Please sign in to see that page."
    app.teardown_appcontext(_close_session)
    app.after_request(_security_headers)
    app.before_request(_refuse_nul_bytes)
    for name in ("werkzeug", "gunicorn.access", "gunicorn.error"):
        logging.getLogger(name).addFilter(RedactSecrets())

    @app.errorhandler(CSRFError)
    def _csrf_failed(error: CSRFError) -> Any:
        return _error_page(400, "Please try again",
                           "This form had expired or was sent from elsewhere. Go back, reload the page "
                           "and send it again.")

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Any:
        status = error.code or 500
        if is_api_request():
            retry_after = error.get_response().headers.get("Retry-After") if status == 429 else None
            return http_error(status, retry_after)
        title, message = PAGE_ERRORS.get(status, PAGE_ERRORS[500])
        return _error_page(status, title, message)

    @app.errorhandler(OperationalError)
    def _database_down(error: OperationalError) -> Any:
        logging.getLogger("casework.web").error("database unreachable: %s", error)
        if is_api_request():
            return http_error(503)
        return _error_page(503, "Temporarily unavailable", "We cannot reach our records right now. Nothing "
                           "was saved; please try again in a few minutes.")

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Any:
        logging.getLogger("casework.web").exception("unexpected error")
        if is_api_request():
            return http_error(500)
        title, message = PAGE_ERRORS[500]
        return _error_page(500, title, message)


PAGE_ERRORS = {
    400: ("Something was wrong with that request",
          "Go back and try again. If it keeps happening, start again from the first page."),
    404: ("Page not found", "There is nothing at this address. If you followed a link from an e-mail, check that "
          "it was copied whole."),
    405: ("Not allowed", "This page cannot be used that way."),
    413: ("Too large", "What you sent is larger than we accept."),
    429: ("Too many attempts", "Please wait a little before trying again."),
    500: ("Something went wrong", "We could not finish this request. Nothing was saved; please try again in a "
          "moment."),
}
