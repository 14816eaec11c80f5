"""Every view declares who may use it; a test walks the URL map and fails on a view without a rule.

``staff`` and ``supervisor`` rules are enforced here; ``consumer`` views find their case by the
secret token in the URL and answer 404 to any other; ``staff_token`` views (the staff API) check the
``Authorization: Bearer`` staff token themselves and answer 401 without one; ``anonymous`` views are open.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Literal, TypeVar, cast

from flask import abort, redirect, request, url_for
from flask_login import current_user

Audience = Literal["anonymous", "consumer", "staff", "supervisor", "staff_token"]
F = TypeVar("F", bound=Callable[..., Any])
RULE_ATTRIBUTE = "casework_route_rule"


def route_rule(audience: Audience) -> Callable[[F], F]:
    def mark(view: F) -> F:
        if audience in ("staff", "supervisor"):
            view = _require_staff(view, supervisor=audience == "supervisor")
        setattr(view, RULE_ATTRIBUTE, audience)
        return view

    return mark


def _require_staff(view: F, supervisor: bool) -> F:
    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return redirect(url_for("staff.login", next=request.full_path))
        if supervisor and current_user.role != "supervisor":
            abort(403)
        return view(*args, **kwargs)

    return cast(F, guarded)
