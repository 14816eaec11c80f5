"""The web layer's shared parts: the request's database session, security headers, CSRF, rate
limits, staff login, error pages, and keeping consumers' secret links out of the logs."""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, Response, abort, current_app, g, make_response, render_template, request
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from casework.access import RULE_ATTRIBUTE
from casework.api.errors import api_error, http_error, is_api_request
from casework.db import WRITE_INTENT
from casework.redaction import redact
from casework.runtime import runtime_of

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask.typing import ResponseReturnValue


def client_network() -> str:
    """Who a rate limit counts: an IPv4 client by its address, an IPv6 client by its /64.

    A /64 is one subscriber's network: whoever has one can send from any of its 2**64 addresses, so counting
    single IPv6 addresses would give each client an endless supply of fresh budgets.
    """
    address = get_remote_address()
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


F = TypeVar("F", bound=Callable[..., Any])
csrf = CSRFProtect()
limiter = Limiter(client_network, default_limits=[])
login_manager = LoginManager()

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
# Every response carries these, whatever policy a view set for itself (a download's sandbox, say).
REQUIRED_DIRECTIVES = ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'")
_TOO_LARGE_PAGES: dict[str, Callable[[], ResponseReturnValue]] = {}
_CHECKS_SECRET = "casework_checks_secret"  # noqa: S105 - an attribute name, not a secret
# Audiences whose every route looks something up by a secret: a consumer's link or token, a staff API token.
_SECRET_AUDIENCES = ("consumer", "staff_token")
STORE_DOWN_RETRY_SECONDS = 60


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


class RedactSecrets(logging.Filter):
    """On the access loggers: consumers' links and codes, staff searches and e-mail addresses never reach a log
    line (see :mod:`casework.redaction`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


class TrustedProxies:
    """Believe ``X-Forwarded-For/-Proto/-Host`` only on connections from a configured proxy.

    Werkzeug's ProxyFix counts hops; it cannot tell the proxy from a client that reached the app directly
    and claims HTTPS or another address (to dodge a rate limit, say).
    """

    def __init__(self, app: WSGIApplication,
                 networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> None:
        self.app = app
        self.fixed = ProxyFix(app, x_for=1, x_proto=1, x_host=1)
        self.networks = tuple(networks)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self._from_proxy(str(environ.get("REMOTE_ADDR", ""))):
            return self.fixed(environ, start_response)
        return self.app(environ, start_response)

    def _from_proxy(self, address: str) -> bool:
        try:
            peer = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(peer.version == network.version and peer in network for network in self.networks)


def too_large_page(endpoint: str) -> Callable[[Callable[[], ResponseReturnValue]], Callable[[], ResponseReturnValue]]:
    """Register the page an upload form shows when its request is over the size limit.

    The body is never read then, so the page can only name the file field; it beats a bare "too large" page
    that leaves the person guessing which field was wrong.
    """
    def register(page: Callable[[], ResponseReturnValue]) -> Callable[[], ResponseReturnValue]:
        _TOO_LARGE_PAGES[endpoint] = page
        return page
    return register


def with_required_directives(policy: str) -> str:
    named = {part.split()[0].lower() for part in policy.split(";") if part.strip()}
    missing = [directive for directive in REQUIRED_DIRECTIVES if directive.split()[0] not in named]
    return "; ".join([policy.strip().rstrip(";"), *missing]) if missing else policy


def _security_headers(response: Response) -> Response:
    policy = response.headers.get("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["Content-Security-Policy"] = with_required_directives(policy)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # A status page's URL is a secret, so no other site is ever told it; our own origin is, because
    # Flask-WTF's CSRF check on an HTTPS request requires a same-origin Referer.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if request.path.startswith(("/c/", "/staff")):
        response.headers["Cache-Control"] = "no-store"
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return response


FILING_LIMIT = "10 per hour; 3 per minute"


def count_filing() -> None:
    """The request filed a case: it counts against the filing limit (a refused form does not)."""
    g.case_filed = True


def _filed(response: Response) -> bool:
    return bool(g.get("case_filed"))


class CounterStoreDown(Exception):
    """The rate limits' counter store cannot be reached, and this request checks a secret."""


def checks_secret(view: F) -> F:
    """Mark a view that checks a secret a person types (a password, an address, a code) without a token in its
    URL: like every consumer and staff-token route, it refuses to run while its limits cannot be counted."""
    setattr(view, _CHECKS_SECRET, True)
    return view


def is_secret_check(view: Callable[..., Any]) -> bool:
    return bool(getattr(view, _CHECKS_SECRET, False)) or getattr(view, RULE_ATTRIBUTE, None) in _SECRET_AUDIENCES


def _refuse_secret_checks_without_counters() -> None:
    """Secret checks fail closed, everything else fails open.

    Without its counters a limit cannot stop anyone, so a route that checks a secret would become a free
    guessing machine; it answers 503 instead. Pages without a secret (the forms, the catalog, the staff pages
    behind a session) keep working unlimited: refusing them would only turn a counter outage into a site outage.
    The store is asked before the limiter counts, so a dead store costs one failed connection, not two.
    """
    if not current_app.config.get("RATELIMIT_ENABLED"):
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or not is_secret_check(view):
        return
    try:
        healthy = limiter.storage.check()
    except Exception:
        healthy = False
    if not healthy:
        raise CounterStoreDown


def seconds_to_wait() -> int:
    """Whole seconds until every limit this request broke lets it through again (at least 1)."""
    resets = [limit.reset_at for limit in limiter.current_limits if limit.breached]
    return max(math.ceil(max(resets, default=0) - time.time()), 1)


def wait_in_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


def filing_limit(page: Callable[[int], ResponseReturnValue]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The limit on filing cases: only filings count, not forms sent back to correct.

    Over the limit, ``page(seconds)`` is the answer (the form as it was sent, saying when to try again, with
    status 429), with Retry-After, instead of a bare error page.
    """
    def on_breach(_: RequestLimit) -> Response:
        seconds = seconds_to_wait()
        response = make_response(page(seconds))
        response.headers["Retry-After"] = str(seconds)
        return response
    return limiter.limit(FILING_LIMIT, methods=["POST"], deduct_when=_filed, on_breach=on_breach)


def _retry_after_whole_seconds(response: Response) -> Response:
    """The limiter gives the seconds left in its window, which rounds down to 0 in the window's last second."""
    if response.status_code == 429:
        raw = response.headers.get("Retry-After", "")
        seconds = int(raw) if raw.isdigit() else 0
        response.headers["Retry-After"] = str(max(seconds, 1))
    return response


def _refuse_nul_bytes() -> None:
    """No text we store or look up may hold a NUL (PostgreSQL refuses it); such a request is malformed.

    JSON bodies are checked where they are validated (:func:`casework.cases.intake.validate`).
    """
    if "\x00" in request.path:
        abort(400)
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
        REMEMBER_COOKIE_SECURE=settings.base_url.startswith("https://"),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        RATELIMIT_ENABLED=settings.ratelimit_enabled,
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_url,
        RATELIMIT_HEADERS_ENABLED=True,
        # An unreachable limit store does not take pages down; routes that check a secret refuse instead
        # (_refuse_secret_checks_without_counters).
        RATELIMIT_SWALLOW_ERRORS=True,
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    if settings.trusted_proxy_networks:
        app.wsgi_app = TrustedProxies(app.wsgi_app, settings.trusted_proxy_networks)  # type: ignore[method-assign]
    csrf.init_app(app)
    app.before_request(_refuse_secret_checks_without_counters)  # before the limiter's own hook
    app.after_request(_retry_after_whole_seconds)  # before the limiter's: after-request hooks run last-first
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
            answer = http_error(status, retry_after)
            if status == 405:  # RFC 9110: a 405 names the methods the resource takes
                answer.headers["Allow"] = error.get_response().headers.get("Allow", "")
            return answer
        prepared = getattr(error, "response", None)
        if status == 429 and isinstance(prepared, Response):
            return prepared  # a limit that answers with its own page (the filing forms keep what was typed)
        page = _TOO_LARGE_PAGES.get(request.endpoint or "") if status == 413 else None
        if page is not None:
            try:
                return page()
            except HTTPException:
                pass  # e.g. the page's case is not found: the plain page below
        title, message = PAGE_ERRORS.get(status, PAGE_ERRORS[500])
        return _error_page(status, title, message)

    @app.errorhandler(CounterStoreDown)
    def _counters_down(error: CounterStoreDown) -> Any:
        logging.getLogger("casework.web").error("rate-limit store unreachable: %s refused", request.endpoint)
        headers = {"Retry-After": str(STORE_DOWN_RETRY_SECONDS)}
        if is_api_request():
            return api_error(503, "unavailable", "We cannot count attempts right now, so requests that check a "
                             "token or a code are refused for a while; nothing was changed. Try again in a few "
                             "minutes.", headers=headers)
        page, status = _error_page(503, "Temporarily unavailable", "We cannot check this safely right now, so "
                                   "nothing was done. Please try again in a few minutes.")
        return page, status, headers

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
