"""Every view declares who may use it; a test walks the URL map and fails on a view without a rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar

Audience = Literal["anonymous", "consumer", "staff", "supervisor"]
F = TypeVar("F", bound=Callable[..., object])
RULE_ATTRIBUTE = "casework_route_rule"


def route_rule(audience: Audience) -> Callable[[F], F]:
    def mark(view: F) -> F:
        setattr(view, RULE_ATTRIBUTE, audience)
        return view

    return mark
