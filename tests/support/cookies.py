"""Reading Flask's session cookie as the browser holds it: signed, not encrypted, so whoever sees it reads it."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

EMAIL_RE = re.compile(r"[^\s@\"']+@[^\s@\"']+\.[^\s@\"']+")


def session_cookie(app: Flask, client: FlaskClient) -> dict[str, Any]:
    """The session the client's cookie carries, decoded as anyone holding the cookie could ({} without one)."""
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    if cookie is None or not cookie.value:
        return {}
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    assert serializer is not None
    decoded: dict[str, Any] = serializer.loads(cookie.value)
    return decoded


def cookie_text(app: Flask, client: FlaskClient) -> str:
    """The decoded cookie as one string, to search for what must not be in it."""
    return json.dumps(session_cookie(app, client), ensure_ascii=False)


def flashes_in_cookie(app: Flask, client: FlaskClient) -> list[str]:
    """The flash messages waiting in the cookie for the next page."""
    return [str(message) for _, message in session_cookie(app, client).get("_flashes", [])]
