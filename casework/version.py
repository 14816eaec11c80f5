"""The release number, in a module of its own so that the API description and /healthz can read it without
importing the app factory (which imports them)."""

from __future__ import annotations

__version__ = "0.1.0"
