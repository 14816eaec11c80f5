"""The domain's errors as the API contract's answers, registered on each API blueprint."""

from __future__ import annotations

from flask import Blueprint, Response

from casework.api.errors import api_error
from casework.cases.filing import CaseError
from casework.cases.intake import BadRequest, IntakeErrors, UnknownSlug
from casework.cases.transitions import CaseConflict


def register_domain_errors(blueprint: Blueprint) -> None:
    """Views raise the domain's errors; this turns each into its contract answer."""
    @blueprint.errorhandler(BadRequest)
    def _bad_request(error: BadRequest) -> Response:
        return api_error(400, "bad_request", str(error))

    @blueprint.errorhandler(IntakeErrors)
    def _invalid(error: IntakeErrors) -> Response:
        return api_error(422, "validation_failed", "Some fields are not valid.", fields=error.fields)

    @blueprint.errorhandler(UnknownSlug)
    def _unknown(error: UnknownSlug) -> Response:
        what = "company" if error.what == "provider" else "plan"
        return api_error(404, f"unknown_{error.what}", f"There is no such {what} in the catalog.",
                         known=error.known)

    @blueprint.errorhandler(CaseConflict)
    def _conflict(error: CaseConflict) -> Response:
        return api_error(409, "conflict", str(error))

    @blueprint.errorhandler(CaseError)
    def _case_error(error: CaseError) -> Response:
        return api_error(422, "validation_failed", str(error), fields=error.fields)
