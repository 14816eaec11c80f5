"""The catalog as staff check it: every company with every source and when it was last checked."""

from __future__ import annotations

import datetime as dt

from flask import render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user

from casework.access import route_rule
from casework.catalog import default_catalog
from casework.db import utcnow
from casework.staff.blueprint import bp

STALE_AFTER = dt.timedelta(days=180)


@bp.get("/catalog")
@route_rule("staff")
def catalog() -> ResponseReturnValue:
    """Every company with every source and when it was last checked; old checks are flagged."""
    today = utcnow().date()
    providers = [p for p in default_catalog().providers.values() if p.slug != "other"]
    return render_template("staff/catalog.html", providers=providers, today=today,
                           stale_before=today - STALE_AFTER, user=current_user)
