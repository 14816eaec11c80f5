"""The one staff blueprint: its pages live in several modules (sign-in, the case page, the actions on a case, the
catalog page) but share this object, so every endpoint stays "staff.<name>" for url_for and the route rules."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")
