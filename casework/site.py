"""What every page shares around its content: the contact promise in the footer and the site's icon.

A consumer waiting on a formal letter wants a person to write to and to know how soon they hear back; the
address and the promise come from the settings, so a deployment states its own. Browsers ask for
``/favicon.ico`` whatever a page links: it answers with the icon instead of filling logs with 404s.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask
from flask.typing import ResponseReturnValue

from casework.access import route_rule
from casework.runtime import runtime_of

bp = Blueprint("site", __name__)
ICON = "favicon.svg"
ICON_PATH = Path(__file__).resolve().parent / "static" / ICON
ICON_MAX_AGE_SECONDS = 7 * 24 * 3600


def contact() -> dict[str, Any]:
    """The footer's contact address and the working days within which a question is answered."""
    settings = runtime_of().settings
    return {"contact_email": settings.contact_email, "contact_response_days": settings.contact_response_days}


@cache
def _icon() -> bytes:
    return ICON_PATH.read_bytes()


@bp.get("/favicon.ico")
@route_rule("anonymous")
def favicon() -> ResponseReturnValue:
    """The linked SVG itself (a few hundred bytes, read once): browsers that ask here draw it too."""
    return _icon(), 200, {"Content-Type": "image/svg+xml", "Cache-Control": f"public, max-age={ICON_MAX_AGE_SECONDS}"}


def register(app: Flask) -> None:
    app.context_processor(contact)
    app.register_blueprint(bp)
