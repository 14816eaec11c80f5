"""Consumer access tokens: random, shown once, stored as HMAC-SHA-256 under the server key.

An HMAC (not a slow password hash) because the token already has 256 random bits: the lookup is
an index probe, and a leaked table is useless without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.cases.models import AccessToken, Case
from casework.config import Settings
from casework.mail.sealed import remember


def token_hmac(secret_key: str, token: str) -> bytes:
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).digest()


def new_token(secret_key: str) -> tuple[str, bytes]:
    """A fresh token and the digest that is stored in its place."""
    token = secrets.token_urlsafe(32)
    return token, token_hmac(secret_key, token)


def issue_token(session: Session, case: Case, secret_key: str) -> str:
    token, digest = new_token(secret_key)
    session.add(AccessToken(case_id=case.id, token_hmac=digest))
    return remember(session, token)


def status_url(base_url: str, token: str) -> str:
    """The consumer's private page for a case: the one place its address is spelled."""
    return f"{base_url}/c/{token}"


def status_link(session: Session, settings: Settings, case: Case) -> str:
    """A fresh private link to the case's page, for an e-mail (the token is shown once, so each gets its own)."""
    return status_url(settings.base_url, issue_token(session, case, settings.secret_key))


def case_for_token(session: Session, secret_key: str, token: str) -> Case | None:
    if not token or len(token) > 100:
        return None
    digest = token_hmac(secret_key, token)
    return session.execute(
        select(Case)
        .join(AccessToken, AccessToken.case_id == Case.id)
        .where(AccessToken.token_hmac == digest, AccessToken.revoked_at.is_(None))
    ).scalar_one_or_none()
