"""The staff blueprint with every route attached: importing a route module registers its routes on ``bp``, so
the app registers this one blueprint and gets sign-in, the case page, the actions on a case and the catalog."""

from __future__ import annotations

from casework.staff import case_action_routes, case_page, catalog_page, password_page, sessions, sign_in
from casework.staff.blueprint import bp

ROUTE_MODULES = (sign_in, sessions, password_page, case_page, case_action_routes, catalog_page)

__all__ = ["ROUTE_MODULES", "bp"]
