"""Guessing a staff password is slowed, never locked.

Password attempts (at sign-in, and wherever a signed-in person retypes theirs) count per account and client, and
a right one forgives the client's earlier wrong ones. The account is the address typed, whether or not it has an
account, so the answers never tell the two apart. The client is the browser if it signed in to this account before
(a signed cookie says so), else its network (an IPv4 address or an IPv6 /64). A client past CLIENT_FAILURES waits;
the owner elsewhere does not. Across every client it does not know, an account takes at most ACCOUNT_FAILURES: a
crowd of networks guessing together is held to that pace, while the owner's own browser is never held up by it.
Nothing waits longer than one window, and no one has to unlock anything. An attempt is counted before its password
is checked (one atomic increment), so a burst of parallel guesses cannot slip through between a look and a count.

The counts live in the rate limits' store; when it is down, guesses are refused (``CounterStoreDown``) rather
than let through uncounted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import math
import secrets
import time

from flask import request
from itsdangerous import BadSignature, URLSafeSerializer
from limits import RateLimitItem, parse
from werkzeug.wrappers import Response

from casework.runtime import runtime_of
from casework.web import CounterStoreDown, client_network, limiter

CLIENT_FAILURES = parse("5 per 15 minutes")
ACCOUNT_FAILURES = parse("10 per minute")
DEVICE_COOKIE = "casework_staff_device"
DEVICE_DAYS = 365
DEVICE_ACCOUNTS_MAX = 10  # a shared computer remembers the last few accounts signed in on it


@dataclasses.dataclass
class Throttled(Exception):
    """Too many wrong passwords for this account from this client (or from everywhere): wait ``seconds``."""

    seconds: int


def _account(email: str) -> str:
    """The account's key in the store: a keyed digest, so the store holds no addresses."""
    key = runtime_of().settings.secret_key.encode()
    return hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()[:32]


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(runtime_of().settings.secret_key, salt="casework-staff-device")


def _device() -> dict[str, object]:
    raw = request.cookies.get(DEVICE_COOKIE, "")
    try:
        found = _serializer().loads(raw) if raw else {}
    except BadSignature:
        return {}
    return found if isinstance(found, dict) else {}


def _counters(email: str) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
    account = _account(email)
    device = _device()
    accounts = device.get("accounts")
    if isinstance(accounts, list) and account in accounts:
        return [(CLIENT_FAILURES, ("staff-password", account, "device", str(device.get("id", ""))))]
    return [(CLIENT_FAILURES, ("staff-password", account, "net", client_network())),
            (ACCOUNT_FAILURES, ("staff-password", account))]


def attempt(email: str) -> None:
    """Count a password attempt for ``email`` from this client, before the password is checked; raise Throttled
    when it is one too many (then it is not checked at all, so a throttled guess learns nothing)."""
    try:
        for item, keys in _counters(email):
            if not limiter.limiter.hit(item, *keys):
                reset_at = limiter.limiter.get_window_stats(item, *keys).reset_time
                raise Throttled(max(math.ceil(reset_at - time.time()), 1))
    except Throttled:
        raise
    except Exception as error:
        raise CounterStoreDown from error


def forgive(email: str) -> None:
    """After a right password: this client's attempts for the account no longer count (the count across networks
    stays: it is not this client's to forgive)."""
    try:
        item, keys = _counters(email)[0]
        limiter.limiter.clear(item, *keys)
    except Exception as error:
        raise CounterStoreDown from error


def remember_device(response: Response, email: str) -> None:
    """After a right password: this browser is the account's own from now on (its guesses count on their own)."""
    device = _device()
    account = _account(email)
    stored = device.get("accounts")
    known = [a for a in stored if isinstance(a, str) and a != account] if isinstance(stored, list) else []
    value = {"id": str(device.get("id") or secrets.token_urlsafe(16)),
             "accounts": [*known[-(DEVICE_ACCOUNTS_MAX - 1):], account]}
    settings = runtime_of().settings
    response.set_cookie(DEVICE_COOKIE, _serializer().dumps(value), max_age=DEVICE_DAYS * 86400, path="/staff",
                        secure=settings.base_url.startswith("https://"), httponly=True, samesite="Lax")
