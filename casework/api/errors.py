"""Every API error is JSON in one shape: ``{"error", "message", "fields"?, "known"?}``.

The HTTP-level answers live here, apart from the domain's errors (:mod:`casework.api.domain_errors`): the web
app's error handlers use them and need nothing of the case lifecycle.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request


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
