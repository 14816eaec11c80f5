"""Who is calling the API: the bearer token of a consumer (one case) or of a caseworker (``cwst_…``).

A consumer authenticates with ``Authorization: Bearer <access token>``; a wrong, missing, expired or revoked
token is a 404, so nobody learns whether a reference exists (nor reaches a case whose details are deleted).
A staff API token reads every case; it never works on the consumer's own actions (404 there, as for any token
that is not the case's). The staff endpoints answer 401 without a live staff token. A read-only staff token is
refused every change (403), wherever it is sent.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Response, g, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from casework.api.errors import api_error
from casework.cases.models import Case
from casework.cases.tokens import FoundToken, LinkState, find_token
from casework.db import is_postgresql, utcnow
from casework.runtime import runtime_of
from casework.staff.api_tokens import Bearer, looks_like_staff_token, staff_for_token
from casework.staff.models import StaffUser
from casework.web import client_network, db

V = TypeVar("V", bound=Callable[..., ResponseReturnValue])
READS = ("GET", "HEAD", "OPTIONS")


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _bearer() -> Bearer | None:
    """The live staff API token in this request, or None (looked up once per request: the rate limiter asks
    too)."""
    if "bearer" in g:
        found: Bearer | None = g.bearer
        return found
    token = bearer_token()
    if token is None or not looks_like_staff_token(token):
        return None
    session = db()
    bearer = staff_for_token(session, runtime_of().settings.secret_key, token, utcnow())
    if not is_postgresql(session):
        session.commit()  # end the lookup's read: a later write then waits its turn instead of failing (SQLite)
    g.bearer = bearer
    return bearer


def bearer_staff() -> StaffUser | None:
    """The caseworker behind a live staff API token in this request, or None."""
    bearer = _bearer()
    return None if bearer is None else bearer.user


def refuse_read_only_writes() -> Response | None:
    """Before any view of a blueprint that takes tokens: a change sent with a read-only staff token is a 403,
    whatever the route (a consumer's action included), so no view has to remember to check."""
    if request.method in READS:
        return None
    bearer = _bearer()
    if bearer is None or not bearer.read_only:
        return None
    return api_error(403, "forbidden", "This token is read-only: it can read cases but not change them. Make a "
                                       "token without read-only access for changes.")


def case_by_reference(reference: str) -> Case | None:
    return db().execute(select(Case).where(Case.reference == reference[:16])).scalar_one_or_none()


def consumer_access(reference: str) -> FoundToken | None:
    """The consumer's live token for this case; a staff token is never one (consumer-only actions answer 404),
    nor an expired or revoked token, nor one of a case whose personal data is deleted (404 as an unknown one)."""
    token = bearer_token()
    if token is None:
        return None
    found = find_token(db(), runtime_of().settings.secret_key, token, utcnow())
    if found is None or found.state is not LinkState.LIVE or found.case.reference != reference:
        return None
    return found


def consumer_case(reference: str) -> Case | None:
    found = consumer_access(reference)
    return None if found is None else found.case


def case_reader(reference: str) -> tuple[Case | None, StaffUser | None]:
    """Who reads the case: a caseworker (any case) or its consumer."""
    staff = bearer_staff()
    if staff is not None:
        return case_by_reference(reference), staff
    return consumer_case(reference), None


def case_not_found() -> Response:
    return api_error(404, "not_found", "No case with this reference for this token.")


def token_key() -> str:
    """Rate limits count per live token (a digest of it: the secret never reaches the limit store); missing
    and wrong tokens count together per client (an IPv6 /64), so trying many tokens is throttled like trying one."""
    token = bearer_token()
    if token is None or bearer_staff() is None:
        return "staff-token-guess:" + client_network()
    return "staff-token:" + hashlib.sha256(token.encode()).hexdigest()[:32]


def staff_token(view: V) -> V:
    """Passes the token's caseworker to the view as ``staff``; 401 without a live token."""
    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        staff = bearer_staff()
        if staff is None:
            return api_error(401, "unauthorized", "Send a valid staff API token: Authorization: Bearer cwst_…",
                             headers={"WWW-Authenticate": 'Bearer realm="casework staff"'})
        return view(*args, staff=staff, **kwargs)

    return cast(V, guarded)
