"""Live secrets in e-mails are never stored in the clear.

A consumer's e-mail carries secrets that open, confirm or delete their case: a private link (``/c/<token>``),
a confirmation or deletion code, an unsubscribe link. The database keeps only HMACs of tokens and codes, so a
copy of it (a backup, an export) must not hold them in the message bodies either. When a message is queued, each
secret in it is replaced by a placeholder; the secrets are kept sealed (encrypted under a key derived from the
server key) in the row only until the message is sent, and dropped in the transaction that marks it sent. The
stored message then shows what was sent with each secret as :data:`REDACTED`.

Secrets are found by value: code that issues one (a token, a code) calls :func:`remember` on the session, and
:func:`seal` replaces every occurrence of every secret remembered there; callers that build rows themselves (the
reminder sweep) pass theirs. Replacing by value and back restores the message exactly, whatever the template did
with the secret; each row's placeholders carry a random nonce, so text a consumer typed cannot be one.
"""

from __future__ import annotations

import base64
import json
import re
import secrets as random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import Session

from casework.reminders.ics import fold_line, unfold

REDACTED = "[removed]"
PLACEHOLDER = re.compile(r"⟦secret-\d+q?-[0-9a-f]{12}⟧")
_SESSION_KEY = "casework_live_secrets"
_KDF_INFO = b"casework: secrets sealed in queued e-mails"


class SealBroken(ValueError):
    """The sealed secrets cannot be opened (the server key changed): the message can never be sent as written."""


def remember(session: Session, secret: str) -> str:
    """Note a secret just issued in this session, so an e-mail queued in it stores a placeholder instead."""
    session.info.setdefault(_SESSION_KEY, []).append(secret)
    return secret


def remembered(session: Session) -> list[str]:
    found: list[str] = session.info.get(_SESSION_KEY, [])
    return found


def forget(session: Session, sealed: Iterable[str]) -> None:
    """Secrets sealed into an e-mail are not looked for again: each is issued for one message, and a sweep that
    queues thousands in one session would otherwise search every body for every secret before it."""
    done = set(sealed)
    if done:
        session.info[_SESSION_KEY] = [secret for secret in remembered(session) if secret not in done]


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KDF_INFO).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


@dataclass(frozen=True)
class SealedParts:
    """A message's stored parts with placeholders, and the sealed secrets (None: the message held none)."""

    body_text: str
    body_html: str | None
    headers: dict[str, str]
    attachments: list[dict[str, Any]]
    sealed: str | None
    secrets: tuple[str, ...] = ()  # the secrets found and sealed


def _forms(secret: str) -> list[str]:
    """The ways a template may have written a secret: as it is, and percent-encoded (in a link's query)."""
    return list(dict.fromkeys([secret, quote(secret, safe="")]))


def _placeholders(found: list[str], nonce: str) -> list[tuple[str, str]]:
    """(a secret as written, its placeholder) for each secret, as it is and percent-encoded where that differs."""
    table: list[tuple[str, str]] = []
    for index, written in enumerate(found):
        table.append((written, f"⟦secret-{index}-{nonce}⟧"))
        if len(forms := _forms(written)) > 1:  # its percent-encoded form differs
            table.append((forms[1], f"⟦secret-{index}q-{nonce}⟧"))
    return table


def _replace(text: str, table: list[tuple[str, str]]) -> str:
    for old, new in table:
        text = text.replace(old, new)
    return text


def _in_ics(ics: str, table: list[tuple[str, str]]) -> str:
    """Calendar lines are folded at 75 octets, which can split a secret: unfold, replace, fold again."""
    return "".join(fold_line(_replace(line, table)) for line in unfold(ics))


def _apply(text: str | None, html: str | None, headers: Mapping[str, str], attachments: Iterable[dict[str, Any]],
           table: list[tuple[str, str]]) -> tuple[str, str | None, dict[str, str], list[dict[str, Any]]]:
    return (
        _replace(text or "", table),
        None if html is None else _replace(html, table),
        {name: _replace(value, table) for name, value in headers.items()},
        [{**ref, "ics": _in_ics(str(ref["ics"]), table)} if "ics" in ref else dict(ref) for ref in attachments],
    )


def seal(secret_key: str, live: Iterable[str], body_text: str, body_html: str | None,
         headers: Mapping[str, str] | None = None,
         attachments: Iterable[dict[str, Any]] | None = None) -> SealedParts:
    """The parts to store: each live secret found in them replaced by a placeholder, and those secrets sealed."""
    headers, attachments = dict(headers or {}), list(attachments or [])
    everything = "\n".join([body_text, body_html or "", *headers.values(),
                            *("".join(unfold(str(ref["ics"]))) for ref in attachments if "ics" in ref)])
    found = [s for s in dict.fromkeys(live) if s and any(form in everything for form in _forms(s))]
    if not found:
        return SealedParts(body_text, body_html, headers, attachments, None)
    nonce = random.token_hex(6)
    found.sort(key=len, reverse=True)  # a code inside a longer token is replaced with the token
    table = _placeholders(found, nonce)
    text, html, new_headers, new_attachments = _apply(body_text, body_html, headers, attachments, table)
    sealed = _fernet(secret_key).encrypt(json.dumps({"nonce": nonce, "secrets": found}).encode()).decode()
    return SealedParts(text, html, new_headers, new_attachments, sealed, tuple(found))


def unseal(secret_key: str, sealed: str | None, body_text: str, body_html: str | None,
           headers: Mapping[str, str], attachments: Iterable[dict[str, Any]],
           ) -> tuple[str, str | None, dict[str, str], list[dict[str, Any]]]:
    """The message as it is sent: each placeholder replaced by its secret again."""
    if sealed is None:
        return body_text, body_html, dict(headers), [dict(ref) for ref in attachments]
    try:
        opened = json.loads(_fernet(secret_key).decrypt(sealed.encode()))
    except (InvalidToken, ValueError) as exc:
        raise SealBroken("the message's private links cannot be opened with this server key") from exc
    nonce, found = str(opened["nonce"]), [str(secret) for secret in opened["secrets"]]
    table = [(placeholder, form) for form, placeholder in _placeholders(found, nonce)]
    return _apply(body_text, body_html, headers, attachments, table)


def shown(text: str | None) -> str:
    """Stored text as a person reads it in the record: each secret that was in it is :data:`REDACTED`."""
    return PLACEHOLDER.sub(REDACTED, text or "")
