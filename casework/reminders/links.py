"""The unsubscribe link: a signed case id, so it works without a stored row and cannot be guessed."""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer

SALT = "casework.reminders.unsubscribe"


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=SALT)


def unsubscribe_token(secret_key: str, case_id: int) -> str:
    return _serializer(secret_key).dumps({"case": case_id})


def case_id_from_token(secret_key: str, token: str) -> int | None:
    """The case id a token carries, or None for a token we did not sign."""
    if not token or len(token) > 200:
        return None
    try:
        data = _serializer(secret_key).loads(token)
    except BadSignature:
        return None
    case_id = data.get("case") if isinstance(data, dict) else None
    return case_id if isinstance(case_id, int) and not isinstance(case_id, bool) else None


def unsubscribe_url(base_url: str, secret_key: str, case_id: int) -> str:
    return f"{base_url}/reminders/unsubscribe/{unsubscribe_token(secret_key, case_id)}"
