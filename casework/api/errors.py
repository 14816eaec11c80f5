"""Every API error is JSON in one shape: ``{"error", "message", "fields"?, "known"?}``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request


def api_error(status: int, code: str, message: str, *, fields: dict[str, str] | None = None,
              known: list[str] | None = None, headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"error": code, "message": message}
    if fields is not None:
        body["fields"] = fields
    if known is not None:
        body["known"] = known
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def is_api_request() -> bool:
    return request.path.startswith("/api/")


HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request could not be understood."),
    401: ("unauthorized", "Authentication is required."),
    403: ("forbidden", "You may not do that."),
    404: ("not_found", "There is nothing here."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("too_large", "The request body is larger than 64 KiB."),
    415: ("bad_request", "Send JSON with Content-Type: application/json."),
    429: ("rate_limited", "Too many requests; try again later."),
    500: ("server_error", "Something went wrong on our side; nothing was changed."),
    503: ("unavailable", "The database is unreachable; try again shortly."),
}


def http_error(status: int, retry_after: str | None = None) -> Response:
    code, message = HTTP_ERRORS.get(status, ("error", "The request failed."))
    headers = {"Retry-After": retry_after} if retry_after else None
    return api_error(status, code, message, headers=headers)


def register_domain_errors(blueprint: Blueprint) -> None:
    """Views raise the domain's errors; this turns each into its contract answer."""
    from casework.cases.intake import BadRequest, IntakeErrors, UnknownSlug
    from casework.cases.services import CaseError
    from casework.cases.workflow import CaseConflict

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
