"""The case's domain errors, at the very bottom so that every floor of the lifecycle can raise them."""

from __future__ import annotations


class CaseError(Exception):
    """A rule refused the request; ``fields`` names the offending inputs."""

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or {}
